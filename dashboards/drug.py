"""One page per watchlist drug: is there a signal, how strong, since when, in whom, on how many cases.

Blocks, all from ``signals/<run_id>/signals.parquet`` and ``trend.parquet``:
event-group table (with the case list behind each flagged ``a``), a forest plot of the
drug's ROR against the comparators per event group, the cumulative quarterly trend of
each measure with its threshold line, the subsets (route, dose band, indication class,
sex, age band) as a heatmap and a table, the receptor-domain rows and the PT table.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from dashboards import changes
from dashboards.case_lists import CASES_COLUMN, attach_case_links
from dashboards.inputs import Inputs
from dashboards.render import (COMPARATOR_COLOUR, PALETTE, TARGET_COLOUR, Col, Html, Page, figure, fmt, kpis, table)
from dashboards.signal_rows import FLAGGED, columns, flagged_first, new_row_class, ror_heatmap, row_key
from dashboards.triage_status import triage_block
from pv.inert import safe_name

SUBSET_ORDER = ("route", "dose_band", "indication", "sex", "age_band")
# Natural order of the banded subset values (others alphabetical, "unknown" last).
VALUE_ORDER = {v: i for i, v in enumerate(("<=30", "30-80", "80-150", ">150", "<2", "2-11", "12-17", "18-44",
                                           "45-64", "65-74", ">=75"))}


def subset_order(label: str) -> tuple:
    dim, _, value = label.partition("=")
    rank = SUBSET_ORDER.index(dim) if dim in SUBSET_ORDER else len(SUBSET_ORDER)
    return rank, value == "unknown", VALUE_ORDER.get(value, len(VALUE_ORDER)), value
# Threshold lines of the trend panels: (column, label, threshold, log axis) - pv.signals.thresholds
# presets. Ratios on a log scale (2 and 0.5 equally far from 1); IC is a log2 already.
TREND_PANELS = [
    ("a", "a (cumulative reports)", None, False),
    ("prr", "PRR (Evans: PRR >= 2), log scale", 2.0, True),
    ("ror_lo", "ROR lower 95% bound (> 1), log scale", 1.0, True),
    ("ic025", "IC025 (> 0)", 0.0, False),
    ("eb05", "EB05 (>= 2), log scale", 2.0, True),
]


LOG_TICKS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500]


def reference_line(axis: str, subplot: int, at: float, colour: str, dash: str) -> dict:
    """A threshold line across subplot ``subplot`` at ``axis`` = ``at`` (one layout shape;
    cheaper than add_hline/add_vline per subplot)."""
    n = "" if subplot == 1 else str(subplot)
    other = "y" if axis == "x" else "x"
    return {"type": "line", f"{axis}ref": f"{axis}{n}", f"{other}ref": f"{other}{n} domain",
            f"{axis}0": at, f"{axis}1": at, f"{other}0": 0, f"{other}1": 1,
            "line": {"color": colour, "dash": dash, "width": 1.2}}


def slug(drug: str) -> str:
    return "drug-" + safe_name(drug)


def _records(frame: pl.DataFrame) -> list[dict]:
    return frame.to_dicts()


def signal_block(inputs: Inputs, id: str, title: str, frame: pl.DataFrame, lead: list[Col], note: str,
                 case_lists: dict | None = None, since_each: bool = False):
    records = _records(flagged_first(frame))
    links = None
    if case_lists is not None:
        links = attach_case_links(records, case_lists)
        lead = [*lead, CASES_COLUMN]
    cols = columns(lead, since_each and "first_quarter_evans" in frame.columns)
    return table(id, title, cols, records, inputs.cite("signals"), note, key=row_key, links=links,
                 row_class=new_row_class, first_quarter=inputs.first_quarter)


def glance(inputs: Inputs, drug: str) -> Html:
    rows = inputs.signals.filter(pl.col("drug") == drug, pl.col("subset") == "all")
    pt = rows.filter(pl.col("level") == "pt")
    n_drug = int((pt["a"] + pt["b"]).max()) if pt.height else 0
    groups = rows.filter(pl.col("level") == "group")
    return kpis("At a glance", [
        (fmt(n_drug, "int"), "reports with the drug (a + b, suspect roles, deduplicated)", "kpi-reports"),
        (f"{groups.filter(FLAGGED).height} / {groups.height}", f"event groups flagged (rule {inputs.rule})",
         "kpi-groups"),
        (fmt(pt.filter(FLAGGED).height, "int"), "PTs flagged", "kpi-pts"),
        (fmt(rows.filter(pl.col("is_new").fill_null(False)).height, "int"), "new signals (all reports)", "kpi-new"),
    ], inputs.cite("signals"))


def forest(inputs: Inputs, drug: str):
    rows = inputs.signals.filter(pl.col("level") == "group", pl.col("subset") == "all",
                                 pl.col("drug").is_in(inputs.drugs))
    events = rows.filter(pl.col("drug") == drug)["event"].sort().to_list()
    if not events:
        return None
    ncols = 1  # one panel per row: drug names and log ticks stay readable down to 390 px
    nrows = math.ceil(len(events) / ncols)
    fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=events, vertical_spacing=0.5 / nrows)
    order = {d: i for i, d in enumerate(inputs.drugs)}
    for k, event in enumerate(events):
        sub = rows.filter(pl.col("event") == event, pl.col("ror").is_not_null())
        sub = sub.with_columns(_o=pl.col("drug").replace_strict(order, default=len(order))).sort("_o", descending=True)
        colours = [TARGET_COLOUR if d == drug else COMPARATOR_COLOUR for d in sub["drug"]]
        fig.add_trace(go.Scatter(
            x=sub["ror"].to_list(), y=sub["drug"].to_list(), mode="markers",
            marker=dict(color=colours, size=8, symbol="square"),
            error_x=dict(type="data", symmetric=False, array=(sub["ror_hi"] - sub["ror"]).to_list(),
                         arrayminus=(sub["ror"] - sub["ror_lo"]).to_list(), color="#95a5a6", thickness=1.2),
            customdata=sub.select("a", "ror_lo", "ror_hi").rows(),
            hovertemplate="%{y}: ROR %{x:.2f} (%{customdata[1]:.2f}-%{customdata[2]:.2f}), a=%{customdata[0]}"
                          "<extra>" + event + "</extra>",
            showlegend=False), row=k // ncols + 1, col=k % ncols + 1)
    fig.update_layout(shapes=[reference_line("x", k + 1, 1.0, "#34495e", "dot") for k in range(len(events))])
    ticks = [0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32]
    fig.update_xaxes(type="log", tickvals=ticks, ticktext=[f"{t:g}" for t in ticks])
    fig.update_xaxes(title_text="ROR (95% CI, log scale)", title_font_size=11, row=nrows, col=1)
    fig.update_yaxes(tickfont_size=11)
    return figure("forest", "Forest plot: ROR against the comparators, per event group", fig,
                  inputs.cite("signals"),
                  f"{drug} in red; comparators grey; dotted line ROR = 1. All reports (subset 'all'), event-group level.",
                  height=190 * nrows + 60)


def trend(inputs: Inputs, drug: str):
    if inputs.trend is None:
        return None
    rows = inputs.trend.filter(pl.col("drug") == drug, pl.col("level") == "group", pl.col("subset") == "all")
    if rows.height == 0:
        return None
    events = rows["event"].unique().sort().to_list()
    fig = make_subplots(rows=len(TREND_PANELS), cols=1, shared_xaxes=True, vertical_spacing=0.085,
                        subplot_titles=[label for _, label, _, _ in TREND_PANELS])
    # panel titles left-aligned over the plot area and lifted clear of the top tick label (390 px screens)
    fig.update_annotations(x=0, xanchor="left", yshift=12, font_size=12)
    for e, event in enumerate(events):
        sub = rows.filter(pl.col("event") == event).sort("quarter")
        for p, (col, label, _, _) in enumerate(TREND_PANELS):
            fig.add_trace(go.Scatter(x=sub["quarter"].to_list(), y=sub[col].to_list(), mode="lines+markers",
                                     name=event, legendgroup=event, showlegend=p == 0,
                                     line=dict(color=PALETTE[e % len(PALETTE)], width=2), marker=dict(size=5),
                                     hovertemplate=f"{event} %{{x}}: {col} %{{y:.2f}}<extra></extra>"),
                          row=p + 1, col=1)
    fig.update_layout(shapes=[reference_line("y", p + 1, threshold, TARGET_COLOUR, "dash")
                              for p, (_, _, threshold, _) in enumerate(TREND_PANELS) if threshold is not None])
    fig.update_xaxes(type="category", showticklabels=True, tickangle=-45, tickfont_size=10)  # quarters on every panel
    for p, (_, _, _, log) in enumerate(TREND_PANELS):
        if log:
            fig.update_yaxes(type="log", row=p + 1, col=1)
    fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.07, x=0), margin=dict(b=140))
    for p, (_, _, _, log) in enumerate(TREND_PANELS):
        if log:  # label 1-2-5 steps only: 3..9 crowd each other on a short axis
            fig.update_yaxes(tickvals=LOG_TICKS, ticktext=[f"{t:g}" for t in LOG_TICKS], row=p + 1, col=1)
    return figure("trend", "Cumulative quarterly trend per event group", fig, inputs.cite("trend"),
                  "Each point recounts all reports up to that quarter (the database as a reviewer saw it then); "
                  "red dashed lines are the thresholds. first_quarter in the tables is the first point above one.",
                  height=1300)


def subset_heatmap(inputs: Inputs, drug: str):
    rows = inputs.signals.filter(pl.col("drug") == drug, pl.col("level") == "group", pl.col("subset") != "all")
    if rows.height == 0:
        return None
    labels = sorted(rows["subset"].unique().to_list(), key=subset_order)
    events = rows["event"].unique().sort().to_list()
    fig = ror_heatmap(rows, "subset", "event", labels, events)  # subsets as rows: 25 labels fit at 390 px
    fig.update_xaxes(tickangle=-90, side="top")  # upright labels never overlap, however many events at 390 px
    fig.update_yaxes(autorange="reversed")
    return figure("subsets", "In whom: event groups by route, dose band, indication, sex, age band", fig,
                  inputs.cite("signals"),
                  "Colour: ROR lower 95% bound (red = above 1); number: a; * = a threshold flagged. "
                  "Route, dose band and indication split the drug's reports; sex and age band split the background too.",
                  height=160 + 26 * len(labels))


def page(inputs: Inputs, drug: str, case_lists: dict, reports: list[tuple[str, str]] = ()) -> Page:
    rows = inputs.signals.filter(pl.col("drug") == drug)
    role = inputs.roles.get(drug, "comparator")
    out = Page(slug(drug), f"{drug} ({role})", drug,
               f"Disproportionality of {drug} against all other drugs in the deduplicated reports "
               f"(suspect roles {inputs.run.get('options', {}).get('roles', 'ps+ss')}): which events, how strong, "
               "since when, in whom, on how many cases.")
    out.downloads = list(reports)
    out.blocks.append(glance(inputs, drug))
    out.blocks += changes.blocks(inputs, drug)
    out.blocks.append(signal_block(
        inputs, "groups", "Event groups (all reports)",
        rows.filter(pl.col("level") == "group", pl.col("subset") == "all"), [Col("event", "event group", "text", sticky=True)],
        "New signals first (orange edge), then flagged ones, by ROR lower bound. Flags: red tick; 'signal' "
        "is the signal rule. The 'case listing' column opens the cases behind a of each flagged row "
        "(outcomes, onset, dose, PTs; sortable, filterable, CSV); the last columns say since when each "
        "threshold is met.", case_lists, since_each=True))
    for block in (forest(inputs, drug), trend(inputs, drug), subset_heatmap(inputs, drug)):
        if block is not None:
            out.blocks.append(block)
    out.blocks.append(signal_block(
        inputs, "group-subsets", "Event groups by subset",
        rows.filter(pl.col("level") == "group", pl.col("subset") != "all"),
        [Col("event", "event group", "text", sticky=True), Col("subset", "subset", "text")],
        "Filter e.g. 'route=intrathecal' or 'overdose_broad dose_band'. first_quarter is the first quarter "
        "a threshold was met within the subset. The case listing of a subset row is its signal's listing "
        "filtered to the subset.", case_lists))
    out.blocks.append(signal_block(
        inputs, "domains", "Receptor domains (all reports)",
        rows.filter(pl.col("level") == "domain", pl.col("subset") == "all"),
        [Col("event", "domain", "text", sticky=True)],
        "Symptom domains of the receptor-density map (seeds/receptor_map.csv); see the Mechanism page.",
        case_lists))
    out.blocks.append(signal_block(
        inputs, "pts", "Preferred terms (all reports)",
        rows.filter(pl.col("level") == "pt", pl.col("subset") == "all"),
        [Col("event", "PT", "text", sticky=True)],
        "Every PT reported with the drug. Filter by name; click a header to sort.", case_lists))
    out.blocks.append(triage_block(inputs, drug))  # signal management (pv/triage.py)
    return out
