"""Lazy scans of the lake's staged tables (CONTRACTS.md "Lake"); cases reads only these files."""

from __future__ import annotations

import polars as pl

from pv.config import Home
from pv.errors import PvError


def quarters_of(home: Home, table: str) -> list[str]:
    """Staged quarters of ``table``, oldest first ("2012Q4" sorts correctly as text)."""
    folder = home.staged / table
    if not folder.is_dir():
        return []
    return sorted(p.name.split("=", 1)[1] for p in folder.glob("quarter=*") if any(p.glob("*.parquet")))


def scan_table(home: Home, table: str, columns: list[str], quarter: str | None = None) -> pl.LazyFrame:
    """Project ``columns`` (Utf8, null when a file lacks one) from every staged file of ``table``.

    ``source_line`` stays Int64; every other column is read as text, as staged. A table with
    no staged file gives an empty frame of the same schema, so a quarter without, say, OUTC
    rows still builds.
    """
    folder = home.staged / table
    pattern = f"quarter={quarter}/*.parquet" if quarter else "quarter=*/*.parquet"
    files = sorted(folder.glob(pattern)) if folder.is_dir() else []
    schema = {c: (pl.Int64 if c == "source_line" else pl.Utf8) for c in columns}
    if not files:
        return pl.LazyFrame(schema=schema)
    return pl.scan_parquet(
        [str(f) for f in files], schema=schema, hive_partitioning=False,
        missing_columns="insert", extra_columns="ignore",
    )


def require_demo(home: Home) -> list[str]:
    quarters = quarters_of(home, "demo")
    if not quarters:
        raise PvError(f"{home.staged / 'demo'}: no staged DEMO files (run `pvmon ingest` first)")
    return quarters
