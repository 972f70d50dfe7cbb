"""Where the case tables live: one Parquet file per quarter (rule ``quarter-files``).

``cases/<table>.parquet`` and ``cases/history/<table>.parquet`` are folders holding
``<quarter>.parquet`` (the Spark/Dask "dataset" layout): polars, pyarrow and DuckDB read such a
folder as one table, in file-name order, which is quarter order. Why: the nightly increment
(pv.cases.increment) rewrites only the few quarters whose rows change and adds the new
quarters as new files, instead of rewriting every table of the whole history. Every current
table has a file for every built quarter (possibly without rows); history/ has files only for
quarters with past records. Readers go through ``scan``/``exists``/``files``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pv.cases.history import HISTORY


def folder(root: Path, name: str, past: bool = False) -> Path:
    """The folder of table ``name`` under a cases folder ``root`` (``past``: its history/)."""
    return (root / HISTORY if past else root) / f"{name}.parquet"


def files(root: Path, name: str, past: bool = False) -> list[Path]:
    """The table's quarter files, oldest quarter first (a single file as written before this layout
    is read as it is)."""
    where = folder(root, name, past)
    return sorted(where.glob("*.parquet")) if where.is_dir() else [where] if where.is_file() else []


def exists(root: Path, name: str, past: bool = False) -> bool:
    return bool(files(root, name, past))


def scan(root: Path, name: str, past: bool = False) -> pl.LazyFrame:
    """Table ``name`` of the cases folder ``root`` (``home.cases``), every quarter."""
    return pl.scan_parquet([str(f) for f in files(root, name, past)] or folder(root, name, past))


def quarter_file(root: Path, name: str, quarter: str, past: bool = False) -> Path:
    return folder(root, name, past) / f"{quarter}.parquet"


def schema_of(root: Path, name: str, past: bool = False) -> pl.Schema | None:
    found = files(root, name, past)
    return pl.read_parquet_schema(found[0]) if found else None


class QuarterWriter:
    """Writes one table quarter by quarter, each quarter a file of its own, every file with the
    first one's schema (so the folder reads as one table).

    polars' own Parquet writer, zstd level 1: at scale 0.1 it wrote every cases/ file in 68% of
    pyarrow's CPU (9.9 s against 14.5 s, each table converted to Arrow first), 20% smaller
    (261 MB against 325 MB), and the files read back in less CPU (2.2 s against 2.9 s for
    every table), with the same min/max statistics for readers' filters."""

    def __init__(self, where: Path, schema: pl.Schema | dict | None = None):
        self.where, self.schema = where, schema
        where.mkdir(parents=True, exist_ok=True)

    def write(self, quarter: str, frame: pl.DataFrame) -> None:
        if self.schema is None:
            self.schema = frame.schema
        path, tmp = self.where / f"{quarter}.parquet", self.where / f".{quarter}.parquet.tmp"
        frame.cast(dict(self.schema)).write_parquet(tmp, compression="zstd", compression_level=1)
        tmp.replace(path)  # never writes into a file an older build may share (hard link)
