"""The XLSX export: an "about" sheet (what this is, the data source — in red when simulated),
one sheet per report table, and a provenance sheet.

Written with xlsxwriter (what polars ``write_excel`` drives). Reproducible bytes: the
workbook's creation date is the signal run's creation time, not the wall clock, and
xlsxwriter stamps zip members with a fixed date. Numbers keep full precision in the
cells (xlsxwriter writes 16 significant digits); the display format shows 3 decimals.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import polars as pl
from xlsxwriter import Workbook

from pv.reports.provenance import flatten

MAX_SHEET_NAME = 31  # Excel's limit


def _created(record: dict) -> datetime:
    text = record["report"].get("run_created") or "2000-01-01T00:00:00Z"
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).replace(tzinfo=None)


def _about_sheet(wb: Workbook, record: dict) -> None:
    report = record["report"]
    sheet = wb.add_worksheet("about")
    bold = wb.add_format({"bold": True})
    loud = wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": "#B00020", "font_size": 14})
    rows = [("Report", f"pvmon disproportionality report: {report['drug']}"),
            ("Signal run", f"{report['run_id']} (created {report['run_created']})"),
            ("Data source", report["data_source_text"]),
            ("Code version", f"pvmon {report['code']['pvmon']}, commit {report['code']['git_commit']}"),
            ("Sheets", "signal sheets hold the rows of signals.parquet unchanged; provenance on the last sheet")]
    start = 0
    if report["data_source"] in ("SIMULATED", "MIXED", "UNKNOWN"):
        sheet.write(0, 0, f"{report['data_source']} DATA - NOT FOR REGULATORY DECISIONS", loud)
        start = 2
    for i, (key, value) in enumerate(rows):
        sheet.write(start + i, 0, key, bold)
        sheet.write(start + i, 1, value)
    sheet.set_column(0, 0, 18)
    sheet.set_column(1, 1, 110)


def write_xlsx(path: Path, tables: dict[str, pl.DataFrame], record: dict) -> None:
    """Write the workbook to ``path`` (the caller makes it atomic)."""
    with Workbook(str(path)) as wb:
        wb.set_properties({
            "title": f"pvmon report: {record['report']['drug']} (run {record['report']['run_id']})",
            "subject": record["report"]["data_source_text"],
            "author": "pvmon", "created": _created(record),
            "comments": "Signal tables as in signals.parquet; provenance on the last sheet.",
        })
        _about_sheet(wb, record)
        for name, frame in tables.items():
            sheet = name[:MAX_SHEET_NAME]
            if frame.width == 0:
                wb.add_worksheet(sheet).write(0, 0, "(no rows)")
                continue
            # NaN (e.g. a dose trend that is "not testable") is an empty cell: xlsxwriter refuses NaN
            frame.fill_nan(None).write_excel(wb, worksheet=sheet, autofilter=True, autofit=frame.height <= 2000,
                              float_precision=3, freeze_panes=(1, 0), table_style="Table Style Light 1")
        rows = pl.DataFrame(flatten(record), schema=["key", "value"], orient="row")
        rows.write_excel(wb, worksheet="provenance", autofilter=True, column_widths={"key": 360, "value": 900})
