"""``pvmon report``: one drug's regulator report from a signals run, in PDF, XLSX and CSV.

Written to ``reports/<run_id>/`` (or ``--out``): ``<drug>.pdf``, ``<drug>.xlsx`` and the
folder ``<drug>_csv/`` (one CSV per table + provenance.json). Each output is written to a
temporary sibling and renamed into place, so a failed or interrupted report leaves the
previous one intact; the content depends only on the store's files (no wall-clock time
inside), so re-running on the same inputs writes the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import polars as pl

from pv.atomic import atomic_dir, atomic_path
from pv.lake.lock import holds_store_lock
from pv.config import Home
from pv.errors import PvError
from pv.inert import safe_name
from pv.lake.status import data_origin
from pv.reports.csv_files import write_csv_folder
from pv.reports.inputs import read_inputs
from pv.reports.provenance import provenance
from pv.reports.source import with_origin
from pv.reports.tables import line_summary, report_tables

FORMATS = ("pdf", "xlsx", "csv")


def parse_formats(text: str | Sequence[str] | None) -> list[str]:
    if text is None:
        return list(FORMATS)
    items = text.split(",") if isinstance(text, str) else [x for t in text for x in t.split(",")]
    chosen = [x.strip().lower() for x in items if x.strip()]
    bad = [x for x in chosen if x not in FORMATS]
    if bad or not chosen:
        raise PvError(f"report: unknown format {', '.join(bad) or '(none)'} (choose from {', '.join(FORMATS)})")
    return [f for f in FORMATS if f in chosen]


def file_stem(drug: str) -> str:
    """A file-name-safe form of the drug name ("sodium oxybate" -> "sodium_oxybate"; long names hashed)."""
    return safe_name(drug, sep="_", empty="drug")


@holds_store_lock
def write_report(home: Home, drug: str, formats: str | Sequence[str] | None = None, out: Path | None = None,
                 run: str | None = None) -> dict[str, Path]:
    """Write the report files for ``drug``; return {format: path}."""
    chosen = parse_formats(formats)
    inputs = read_inputs(home, drug, run)
    drug = inputs.drug
    tables = report_tables(inputs, drug)
    source = data_origin(home)
    record = provenance(inputs, drug, source)
    out = Path(out) if out is not None else home.reports / inputs.run_id
    stem = file_stem(drug)
    written = {}
    if "pdf" in chosen:
        from pv.reports.pdf import write_pdf

        mine = inputs.signals.filter((pl.col("drug") == drug) & (pl.col("level") == "pt") & (pl.col("subset") == "all"))
        all_rows = tables["group_signals"].filter(pl.col("drug") == drug)
        ctx = {
            "drug": drug, "tables": tables, "record": record, "run": inputs.run, "simulated": source.may_be_simulated,
            "statement": inputs.statement, "line_summary": line_summary(inputs),
            "quarters": inputs.build.get("quarters") or sorted({s["quarter"] for s in inputs.sources}),
            "cases_total": _funnel_total(inputs.funnel),
            "drug_reports": int(all_rows["a"][0] + all_rows["b"][0]) if all_rows.height else
            tables["case_counts"].filter(pl.col("dimension") == "total")["cases"][0],
            "comparators": [d for d in inputs.drugs if d != drug], "pt_total": mine.height,
        }
        with atomic_path(out / f"{stem}.pdf") as tmp:
            write_pdf(tmp, ctx)
        written["pdf"] = out / f"{stem}.pdf"
    exported = with_origin(tables, source.label)  # XLSX and CSV rows say what they are
    if "xlsx" in chosen:
        from pv.reports.xlsx import write_xlsx

        with atomic_path(out / f"{stem}.xlsx") as tmp:
            write_xlsx(tmp, exported, record)
        written["xlsx"] = out / f"{stem}.xlsx"
    if "csv" in chosen:
        with atomic_dir(out / f"{stem}_csv") as tmp:
            write_csv_folder(tmp, exported, record)
        written["csv"] = out / f"{stem}_csv"
    return written


def _funnel_total(funnel: pl.DataFrame) -> int | None:
    last = funnel.filter(pl.col("quarter") == "total")
    return int(last["count"][-1]) if last.height else None
