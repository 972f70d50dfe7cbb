"""The data-quality page: nothing lost, nothing double-counted, every line accounted for.

Per quarter and FDA table, from the manifest (pvmon.sqlite): lines read = clean + repaired +
quarantined + blank, and rows staged; from ``quarantine/``: every line that could not be
staged with its reason (summarised here, all of them in quarantine.csv beside the page).
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from dashboards.inputs import Inputs
from dashboards.render import PALETTE, Col, Page, figure, table

QUARANTINE_CSV = "quarantine.csv"
SHOWN_LINES = 1000  # quarantined lines listed on the page; all of them are in quarantine.csv


def accounting(inputs: Inputs) -> pl.DataFrame:
    return inputs.accounting.with_columns(
        balanced=pl.col("lines_read") == pl.col("clean") + pl.col("repaired") + pl.col("quarantined") + pl.col("blank"))


def lost_lines_figure(inputs: Inputs):
    frame = inputs.accounting.group_by("quarter").agg(pl.col("lines_read", "repaired", "quarantined", "blank").sum()
                                                      ).sort("quarter")
    fig = go.Figure()
    for k, (col, label) in enumerate((("repaired", "repaired"), ("quarantined", "quarantined"), ("blank", "blank"))):
        fig.add_trace(go.Bar(x=frame["quarter"].to_list(), y=frame[col].to_list(), name=label,
                             marker_color=PALETTE[k], customdata=frame.select("lines_read").rows(),
                             hovertemplate="%{x}: %{y} " + label + " of %{customdata[0]:,} lines read<extra></extra>"))
    fig.update_layout(barmode="group", legend=dict(orientation="h", y=1.1))
    fig.update_xaxes(type="category")
    fig.update_yaxes(title_text="lines")
    return figure("lines", "Lines not staged as read, per quarter", fig, inputs.cite("manifest"),
                  "Every other line was staged as read (clean). Per table below.", height=360)


def accounting_table(inputs: Inputs):
    cols = [Col("quarter", "quarter"), Col("table", "table"), Col("files", "files", "int"),
            Col("lines_read", "lines read", "int"), Col("clean", "clean", "int"), Col("repaired", "repaired", "int"),
            Col("quarantined", "quarantined", "int"), Col("blank", "blank", "int"),
            Col("rows_staged", "rows staged", "int"),
            Col("balanced", "read = clean + repaired + quarantined + blank", "bool")]
    return table("accounting", "Line accounting per quarter and table", cols,
                 accounting(inputs).sort("quarter", "table").to_dicts(), inputs.cite("manifest"),
                 "A repaired line can stage two rows (two records on one line) or one (a record split over two lines).",
                 key=lambda r: f"{r['quarter']}|{r['table']}")


def reasons_table(inputs: Inputs):
    q = inputs.quarantine
    grouped = q.group_by("quarter", "table", "reason").agg(lines=pl.len()).sort("quarter", "table", "reason")
    cols = [Col("quarter", "quarter"), Col("table", "table"), Col("reason", "reason"), Col("lines", "lines", "int")]
    return table("reasons", "Quarantine reasons", cols, grouped.to_dicts(), _quarantine_cite(inputs),
                 f"{q.height:,} quarantined lines in all.", key=lambda r: f"{r['quarter']}|{r['table']}|{r['reason']}")


def lines_table(inputs: Inputs):
    q = inputs.quarantine
    cols = [Col("quarter", "quarter"), Col("table", "table"), Col("source_file", "file (zip!member)"),
            Col("line", "line", "int"), Col("reason", "reason")]
    note = (f"All {q.height:,} lines (file, line, reason) are also in {QUARANTINE_CSV}."
            if q.height <= SHOWN_LINES else
            f"The first {SHOWN_LINES:,} of {q.height:,} lines; all are in {QUARANTINE_CSV}.")
    return table("quarantined", "Quarantined lines", cols, q.head(SHOWN_LINES).to_dicts(), _quarantine_cite(inputs),
                 note, key=lambda r: f"{r['source_file']}|{r['line']}")


def _quarantine_cite(inputs: Inputs) -> str:
    n = len(list(inputs.home.quarantine.glob("quarter=*/*.parquet")))
    return f"Source: quarantine/quarter=*/<table>.parquet ({n} files) - signals run {inputs.run_id}"


def page(inputs: Inputs) -> Page:
    out = Page("quality", "Data quality: line accounting and quarantine", "Data quality",
               "Can I trust the counts? Every line of every FDA file is staged, repaired or quarantined with a reason.")
    out.downloads.append((f"all quarantined lines ({QUARANTINE_CSV})", QUARANTINE_CSV))
    out.blocks += [lost_lines_figure(inputs), accounting_table(inputs), reasons_table(inputs), lines_table(inputs)]
    return out
