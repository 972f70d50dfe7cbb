"""Which store file is damaged, when a reader's error does not say.

polars and Arrow report a damaged Parquet file without its path ("File out of
specification", "Parquet magic bytes not found"). When such an error escapes a stage, the
command line asks ``damaged_file`` for the culprit: every Parquet file of the store (through
the output pointers, not the version folders) is checked — its footer always, its pages
while a small reading budget lasts — and the first that does not read is named.
"""

from __future__ import annotations

import os
from pathlib import Path

FULL_READ_BUDGET = 512 * 1024 * 1024  # bytes of Parquet decoded in full, smallest files first
AREAS = ("staged", "quarantine", "cases", "signals", "mechanism")


def parquet_files(home: Path) -> list[Path]:
    """The store's live Parquet files (pointers followed, hidden folders skipped), in a fixed order."""
    found = []
    for area in AREAS:
        for root, dirs, files in os.walk(home / area, followlinks=True):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found += [Path(root) / f for f in sorted(files) if f.endswith(".parquet") and not f.startswith(".")]
    return found


def _problem(path: Path, full: bool) -> str | None:
    import pyarrow.parquet as pq

    try:
        if full:
            pq.read_table(path)
        else:
            pq.read_metadata(path)
    except Exception as err:  # noqa: BLE001 - any failure to read is the finding
        text = " ".join(str(err).split()) or type(err).__name__
        return text[:200]
    return None


def damaged_file(home: Path, message: str = "") -> tuple[Path, str] | None:
    """(path, reason) of a Parquet file that does not read, or None when all read."""
    files = parquet_files(Path(home))
    named = [p for p in files if str(p) in message or p.name in message]
    for path in named:
        if (why := _problem(path, full=True)) is not None:
            return path, why
    for path in files:
        if (why := _problem(path, full=False)) is not None:
            return path, why
    budget = FULL_READ_BUDGET
    for path in sorted(files, key=lambda p: p.stat().st_size):
        budget -= path.stat().st_size
        if budget < 0:
            break
        if (why := _problem(path, full=True)) is not None:
            return path, why
    return None
