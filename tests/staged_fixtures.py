"""Staged lake files written exactly as CONTRACTS.md "Lake" specifies, for cases tests.

Until the real reader is used end to end, these helpers stand in for ``pvmon ingest``:
every CURRENT column of the table as Utf8 (null where absent), legacy extras under their
lower-case names, plus quarter, era, source_file, source_line; legacy child rows have a
null caseid. ``stage_fda_files`` parses a few genuine FDA files simply (split on ``$``).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pv.faers.layouts import CURRENT, LEGACY_EXTRA, current_name, era_of_quarter, parse_quarter

TABLES = ("demo", "drug", "reac", "outc", "rpsr", "ther", "indi")


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


def read_fda_file(path: Path) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of one FDA $-separated file: BOM, CRLF and the legacy trailing $ handled."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    header = lines[0].split("$")
    rows = []
    for ln in lines[1:]:
        if not ln.strip():
            continue
        fields = ln.split("$")
        if len(fields) == len(header) + 1 and fields[-1] == "":
            fields = fields[:-1]
        assert len(fields) == len(header), (path, ln)
        rows.append(fields)
    return header, rows


def stage_fda_files(home: Path, quarter: str, files: dict[str, Path], deleted: Path | None = None) -> None:
    """Stage genuine FDA table files (table -> path) for ``quarter``."""
    for table, path in files.items():
        header, rows = read_fda_file(path)
        names = [current_name(table.upper(), h) for h in header]
        dicts = [dict(zip(names, r)) for r in rows]
        write_staged(home, table, quarter, dicts, source_file=path.name)
    if deleted is not None:
        ids = [ln.strip() for ln in deleted.read_text(encoding="latin-1").splitlines() if ln.strip()]
        write_staged(home, "deleted", quarter, [{"caseid": i} for i in ids], source_file=deleted.name)
