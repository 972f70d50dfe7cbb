"""Staged lake files written exactly as CONTRACTS.md "Lake" specifies, for cases tests.

Until the real reader is used end to end, these helpers stand in for ``pvmon ingest``:
every CURRENT column of the table as Utf8 (null where absent), legacy extras under their
lower-case names, plus quarter, era, source_file, source_line; legacy child rows have a
null caseid. Genuine FDA rows go through the real reader instead (tests/test_cases_real.py).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pv.faers.layouts import CURRENT, LEGACY_EXTRA, era_of_quarter, parse_quarter


def write_staged(home: Path, table: str, quarter: str, rows: list[dict], source_file: str | None = None) -> Path:
    """Write ``rows`` (dicts of current column -> text) as staged/<table>/quarter=<q>/part-0.parquet."""
    era = era_of_quarter(*parse_quarter(quarter))
    if table == "deleted":
        columns = ["caseid"]
    else:
        columns = list(CURRENT[table.upper()])
        if era == "laers" and table == "demo":
            columns += list(LEGACY_EXTRA)
    extra = sorted({k for r in rows for k in r} - set(columns))
    data = {c: [None if r.get(c) in (None, "") else str(r[c]) for r in rows] for c in [*columns, *extra]}
    if era == "laers" and table not in ("demo", "deleted"):
        data["caseid"] = [None] * len(rows)
    frame = pl.DataFrame(data, schema={c: pl.Utf8 for c in data})
    src = source_file or f"{'aers' if era == 'laers' else 'faers'}_ascii_{quarter.lower()}.zip!ascii/{table.upper()}.txt"
    frame = frame.with_columns(
        pl.lit(quarter).alias("quarter"),
        pl.lit(src).alias("source_file"),
        pl.Series("source_line", list(range(2, len(rows) + 2)), dtype=pl.Int64),
    )
    if table != "deleted":
        frame = frame.with_columns(pl.lit(era).alias("era"))
    out = home / "staged" / table / f"quarter={quarter}" / "part-0.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(out)
    return out
