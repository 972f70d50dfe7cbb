"""The CSV export: one file per report table plus ``provenance.json``, in one folder.

Plain polars CSV (comma, header, UTF-8, nulls empty, floats at full precision) so any
tool reads the exact numbers of ``signals.parquet``; text cells are made inert (pv.inert:
a reaction named ``=cmd|...`` is written ``'=cmd|...``, quoted). Every file's first column is
``data_origin`` (SIMULATED, FDA, MIXED, UNKNOWN: pv.reports.source.with_origin).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pv.inert import write_csv
from pv.reports.provenance import to_json


def write_csv_folder(folder: Path, tables: dict[str, pl.DataFrame], record: dict) -> None:
    """Write every table and the provenance into ``folder`` (the caller makes it atomic)."""
    for name, frame in tables.items():
        write_csv(frame, folder / f"{name}.csv")
    (folder / "provenance.json").write_text(to_json(record), encoding="utf-8")
