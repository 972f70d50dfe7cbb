"""Provenance of a signal run: inputs with their hashes, options, code version (run.json).

A number in the signal table must be traceable to the files and settings behind it, so
every run writes what it read (path, size, sha256), every option, the prior fit report,
the zero-cell rule and threshold presets, and the code version (package version plus the
git commit when the code runs from a checkout).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from pv import __version__
from pv.atomic import write_text_atomic


def file_fingerprint(path: str | Path) -> dict:
    """Path, size and sha256 of one input file, or of a folder of Parquet files (a case table,
    pv.cases.tables: its files' names and bytes in name order)."""
    path = Path(path)
    digest = hashlib.sha256()
    parts = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    for part in parts:
        if path.is_dir():
            digest.update(part.name.encode() + b"\0")
        with open(part, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return {"path": str(path), "bytes": sum(p.stat().st_size for p in parts), "sha256": digest.hexdigest()}


def code_version() -> dict:
    """pvmon's version and, from a git checkout, the commit (with a flag for local edits)."""
    out = {"pvmon": __version__, "git_commit": None, "git_dirty": None}
    repo = Path(__file__).resolve().parents[2]
    try:
        out["git_commit"] = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                                           text=True, timeout=10, check=True).stdout.strip() or None
        status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
        out["git_dirty"] = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_run_json(path: str | Path, record: dict) -> None:
    """Write run.json atomically (sorted keys so re-runs diff cleanly)."""
    write_text_atomic(path, json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
