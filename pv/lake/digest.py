"""A content digest of everything a store's stages produced: what a re-run must reproduce.

After a crash and a re-run, the store must equal an uninterrupted run's. This module says
"equal" exactly: one sha256 per output file (through the folder pointers of pv.atomic,
never the hidden version folders, temporary files or the lock), the manifest's rows
(sorted), and nothing else. Only what differs by design between two identical runs is
normalised: a signals run's id (the UTC second it started) becomes ``run-1``, ``run-2``...
in file names and text files, and run.json's clock readings (``created``, ``seconds``,
``cpu_seconds``, at any depth), the store's own path in text files (a copied store has
another) and the manifest's commit/download times are left out.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

TEXT_SUFFIXES = {".json", ".md", ".csv", ".html", ".txt"}
RUN_CLOCK_KEYS = ("created", "seconds", "cpu_seconds")
MANIFEST_CLOCK_COLUMNS = {"committed_at", "fetched_at", "kept_at"}
SKIPPED_TOP = {"simulated"}  # the demo's simulated input zips: input, not output


def run_ids(root: Path) -> dict[str, str]:
    """Signals run ids in the order they were made (ids are UTC timestamps), as run-1, run-2..."""
    folder = root / "signals"
    ids = sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []
    return {rid: f"run-{i}" for i, rid in enumerate(ids, 1)}


def _normalise(text: str, ids: dict[str, str]) -> str:
    for rid in sorted(ids, key=len, reverse=True):
        text = text.replace(rid, ids[rid])
    return text


def _without_clocks(value):
    if isinstance(value, dict):
        return {k: _without_clocks(v) for k, v in value.items() if k not in RUN_CLOCK_KEYS}
    if isinstance(value, list):
        return [_without_clocks(v) for v in value]
    return value


def _file_digest(path: Path, ids: dict[str, str]) -> str:
    data = path.read_bytes()
    if path.name == "run.json":
        data = json.dumps(_without_clocks(json.loads(data)), sort_keys=True).encode()
    if path.suffix in TEXT_SUFFIXES:
        data = _normalise(data.decode("utf-8", "surrogateescape"), ids).encode("utf-8", "surrogateescape")
    return hashlib.sha256(data).hexdigest()


def manifest_rows(path: Path) -> dict[str, list]:
    """Every manifest table's rows, sorted, without clock columns."""
    out: dict[str, list] = {}
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        for table in tables:
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")') if r[1] not in MANIFEST_CLOCK_COLUMNS]
            rows = con.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} FROM "{table}"').fetchall()
            out[table] = sorted((list(map(str, r)) for r in rows))
    finally:
        con.close()
    return out


def store_digest(root: str | os.PathLike) -> dict[str, str]:
    """{relative path: sha256} for every output file of the store at ``root``, plus ``pvmon.sqlite``
    as the sha256 of its rows."""
    root = Path(root)
    ids = run_ids(root) | {str(root.resolve()): "<home>"}  # the store's own path (a copy has another)
    out: dict[str, str] = {}
    for dirpath, dirs, files in os.walk(root, followlinks=True):
        rel_dir = Path(dirpath).relative_to(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (rel_dir == Path(".") and d in SKIPPED_TOP))
        for name in sorted(files):
            if name.startswith(".") or (rel_dir == Path(".") and name.startswith("pvmon.sqlite")):
                continue
            path = Path(dirpath) / name
            out[_normalise(str(rel_dir / name), ids)] = _file_digest(path, ids)
    if (root / "pvmon.sqlite").is_file():  # run ids inside rows (kept_runs) normalised like file text
        rows = _normalise(json.dumps(manifest_rows(root / "pvmon.sqlite"), sort_keys=True), ids).encode()
        out["pvmon.sqlite"] = hashlib.sha256(rows).hexdigest()
    return out


def output_of(root: str | os.PathLike, rel: str) -> str:
    """The output a file belongs to: its nearest folder that is a pv.atomic pointer (swapped
    whole), else the file itself (replaced alone)."""
    root = Path(root)
    parts = Path(rel).parts
    for i in range(1, len(parts)):
        if (root.joinpath(*parts[:i])).is_symlink():
            return str(Path(*parts[:i]))
    return rel


def outputs(root: str | os.PathLike, digest: dict[str, str]) -> dict[str, tuple]:
    """{output: its files and hashes}: the units that must each be all old or all new."""
    units: dict[str, list] = {}
    for rel, sha in digest.items():
        units.setdefault(output_of(root, rel), []).append((rel, sha))
    return {k: tuple(sorted(v)) for k, v in units.items()}


def differing(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """Paths whose content differs, or that only one side has."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
