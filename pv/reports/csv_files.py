"""The CSV export: one file per report table plus ``provenance.json``, in one folder.

Plain polars CSV (comma, header, UTF-8, nulls empty, floats at full precision) so any
tool reads the exact numbers of ``signals.parquet``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pv.reports.provenance import to_json


def write_csv_folder(folder: Path, tables: dict[str, pl.DataFrame], record: dict) -> None:
    """Write every table and the provenance into ``folder`` (the caller makes it atomic)."""
    for name, frame in tables.items():
        frame.write_csv(folder / f"{name}.csv")
    (folder / "provenance.json").write_text(to_json(record), encoding="utf-8")
