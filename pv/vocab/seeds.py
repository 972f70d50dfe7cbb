"""Reading and validating the curated seed files in ``seeds/``.

Every seed is a small CSV: comment lines starting with ``#`` (one of them
``# version: <text>``), then a header row, then data rows. A seed is validated on load:
a row repeating a key is a *duplicate*, a key with two different values is a *conflict*;
both raise ``PvError`` naming the file and both line numbers, because a silently
ignored curation mistake changes every downstream count.

User override (rule ``seed-override``, default: none): if ``$PV_SEEDS`` names a folder, a
file there with the same name as a shipped seed is read the same way and its rows
*replace* shipped rows with the same key and *extend* the seed with new keys. Set
``PV_SEEDS`` to grow the dictionary or the event groups without editing the repository.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import polars as pl

from pv.errors import PvError

# seeds/ of a checkout (or an editable install); a wheel carries them as pv/seeds (pyproject force-include)
_IN_WHEEL = Path(__file__).resolve().parents[1] / "seeds"
SHIPPED_SEEDS = _IN_WHEEL if _IN_WHEEL.is_dir() else Path(__file__).resolve().parents[2] / "seeds"
SEEDS_ENV = "PV_SEEDS"


@dataclass(frozen=True)
class Seed:
    """One loaded seed: its rows, the version(s) it came from and where."""

    name: str
    version: str
    sources: tuple[str, ...]
    frame: pl.DataFrame


def shipped_path(name: str) -> Path:
    return SHIPPED_SEEDS / f"{name}.csv"


def override_path(name: str) -> Path | None:
    folder = os.environ.get(SEEDS_ENV)
    if not folder:
        return None
    path = Path(folder).expanduser() / f"{name}.csv"
    return path if path.is_file() else None


def _read_csv(path: Path, columns: Sequence[str]) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """(version, [(line number, row)]) of one seed file; rows keep their physical line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise PvError(f"{path}: cannot read seed ({err.strerror})") from None
    version = ""
    body: list[tuple[int, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("#"):
            key, _, value = stripped.lstrip("#").strip().partition(":")
            if key.strip().lower() == "version":
                version = value.strip()
            continue
        if stripped:
            body.append((number, line))
    if not version:
        raise PvError(f"{path}: seed has no '# version: ...' line")
    if not body:
        raise PvError(f"{path}: seed has no header row")
    header_line, header = body[0]
    names = [c.strip() for c in next(csv.reader([header]))]
    missing = [c for c in columns if c not in names]
    if missing:
        raise PvError(f"{path}: line {header_line}: header lacks column(s) {', '.join(missing)}")
    rows = []
    for number, line in body[1:]:
        values = next(csv.reader([line]))
        if len(values) != len(names):
            raise PvError(f"{path}: line {number}: {len(values)} fields, header has {len(names)}")
        row = {n: v.strip() for n, v in zip(names, values)}
        rows.append((number, {c: row[c] for c in columns}))
    return version, rows


def _validated(
    path: Path,
    rows: list[tuple[int, dict[str, str]]],
    key: Sequence[str],
    required: Sequence[str],
    normalise_key: Callable[[dict[str, str]], tuple] | None,
) -> dict[tuple, tuple[int, dict[str, str]]]:
    """Rows by key; duplicates and conflicts inside one file are errors."""
    by_key: dict[tuple, tuple[int, dict[str, str]]] = {}
    for number, row in rows:
        for col in required:
            if not row[col]:
                raise PvError(f"{path}: line {number}: empty {col}")
        k = normalise_key(row) if normalise_key else tuple(row[c] for c in key)
        if k in by_key:
            first, other = by_key[k]
            same = all(other[c] == row[c] for c in row if c not in key)
            what = "duplicate" if same else "conflicting"
            raise PvError(f"{path}: line {number}: {what} entry for {'/'.join(map(str, k))} (first at line {first})")
        by_key[k] = (number, row)
    return by_key


def load_seed(
    name: str,
    columns: Sequence[str],
    key: Sequence[str],
    required: Sequence[str] | None = None,
    normalise_key: Callable[[dict[str, str]], tuple] | None = None,
) -> Seed:
    """Load ``seeds/<name>.csv`` (+ the ``$PV_SEEDS`` override) as a validated frame.

    ``key`` columns identify an entry; ``normalise_key`` (optional) maps a row to the key
    actually compared, so variants that normalise alike are caught as conflicts.
    """
    required = list(required if required is not None else key)
    path = shipped_path(name)
    version, rows = _read_csv(path, columns)
    merged = _validated(path, rows, key, required, normalise_key)
    sources = [f"{path.name}@{version}"]
    user = override_path(name)
    if user is not None:
        user_version, user_rows = _read_csv(user, columns)
        merged.update(_validated(user, user_rows, key, required, normalise_key))
        version = f"{version}+user:{user_version}"
        sources.append(f"{user}@{user_version}")
    frame = pl.DataFrame([row for _, row in merged.values()], schema={c: pl.Utf8 for c in columns})
    frame = frame.with_columns(pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in columns)
    return Seed(name=name, version=version, sources=tuple(sources), frame=frame)
