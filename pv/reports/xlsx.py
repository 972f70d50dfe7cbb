"""The XLSX export: an "about" sheet (what this is, the data source — in red when simulated),
one sheet per report table, and a provenance sheet.

Every table sheet has a filter on its header row, headers in bold that wrap and columns wide
enough to read them, and (from build.py) a first column ``data_origin``. When the data may be
simulated (SIMULATED, MIXED, UNKNOWN) every sheet also has a red tab and the warning in its
printed page header, so a sheet moved to another workbook or printed alone still says so.

Written with xlsxwriter (what polars ``write_excel`` drives). Reproducible bytes: the
workbook's creation date is the signal run's creation time, not the wall clock, and
xlsxwriter stamps zip members with a fixed date. Numbers keep full precision in the
cells (xlsxwriter writes 16 significant digits); the display format shows 3 decimals.
Text from data stays text (pv.inert): string cells only, never formulas or links, and
formula-like cells carry Excel's quote prefix.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import polars as pl
from xlsxwriter import Workbook

from pv.inert import WORKBOOK_OPTIONS, protect_text_cells
from pv.reports.provenance import flatten
from pv.reports.source import with_origin

MAX_SHEET_NAME = 31  # Excel's limit
HEADER_FORMAT = {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDE3EA", "bottom": 1}
LOUD = "#B00020"
WIDEST = 60  # characters a column is widened to for its values (headers always shown whole)


def banner(record: dict) -> str | None:
    """The warning every page and sheet of a report on possibly simulated data carries."""
    source = record["report"]["data_source"]
    return f"{source} DATA - NOT FOR REGULATORY DECISIONS" if source in ("SIMULATED", "MIXED", "UNKNOWN") else None


def column_widths(frame: pl.DataFrame) -> dict[str, int]:
    """Pixel widths showing each header whole and the first rows' values up to ``WIDEST`` characters."""
    head = frame.head(500)
    longest = {c: head[c].cast(pl.String).str.len_chars().max() or 0 for c in frame.columns}
    return {c: 7 * max(len(c), min(WIDEST, longest[c])) + 14 for c in frame.columns}


def _table_sheet(wb: Workbook, name: str, frame: pl.DataFrame, **options) -> None:
    frame.write_excel(wb, worksheet=name, autofilter=True, header_format=HEADER_FORMAT,
                      column_widths=column_widths(frame), freeze_panes=(1, 0), **options)
    protect_text_cells(wb, wb.get_worksheet_by_name(name), frame)


def _created(record: dict) -> datetime:
    text = record["report"].get("run_created") or "2000-01-01T00:00:00Z"
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).replace(tzinfo=None)


def _about_sheet(wb: Workbook, record: dict) -> None:
    report = record["report"]
    sheet = wb.add_worksheet("about")
    bold = wb.add_format({"bold": True})
    loud = wb.add_format({"bold": True, "font_color": "#FFFFFF", "bg_color": LOUD, "font_size": 14})
    rows = [("Report", f"pvmon disproportionality report: {report['drug']}"),
            ("Signal run", f"{report['run_id']} (created {report['run_created']})"),
            ("Data source", report["data_source_text"]),
            ("Code version", f"pvmon {report['code']['pvmon']}, commit {report['code']['git_commit']}"),
            ("Sheets", "signal sheets hold the rows of signals.parquet unchanged after a first column data_origin; "
                       "provenance on the last sheet")]
    start = 0
    if warning := banner(record):
        sheet.write(0, 0, warning, loud)
        start = 2
    for i, (key, value) in enumerate(rows):
        sheet.write(start + i, 0, key, bold)
        sheet.write(start + i, 1, value)
    sheet.set_column(0, 0, 18)
    sheet.set_column(1, 1, 110)


def write_xlsx(path: Path, tables: dict[str, pl.DataFrame], record: dict) -> None:
    """Write the workbook to ``path`` (the caller makes it atomic)."""
    with Workbook(str(path), WORKBOOK_OPTIONS) as wb:
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
            frame = frame.with_columns(pl.col(pl.Float32, pl.Float64).fill_nan(None))  # undefined: a blank cell
            _table_sheet(wb, sheet, frame, float_precision=3, table_style="Table Style Light 1")
        rows = pl.DataFrame(flatten(record), schema=["key", "value"], orient="row")
        _table_sheet(wb, "provenance", with_origin({"p": rows}, record["report"]["data_source"])["p"])
        if warning := banner(record):
            for sheet in wb.worksheets():
                sheet.set_tab_color(LOUD)
                sheet.set_header(f'&C&"-,Bold"&K{LOUD[1:]}{warning}')
