"""Staged Parquet and quarantine, replaced one quarter at a time, crash-safe.

Layout (CONTRACTS.md): ``staged/<table>/quarter=YYYYQn/part-0.parquet`` and
``quarantine/quarter=YYYYQn/<table>.parquet``. A quarter lives in nine folders (eight
tables and its quarantine) and in manifest rows; no single rename can swap them all, so
a quarter is replaced by a journaled transaction (roll-forward):

1. *prepare*: every new file is written and fsynced under ``.txn/<id>/new/``, outside the
   live tree. A crash here leaves only a stray ``.txn/<id>`` folder: the store is as
   before, and the next writer deletes the folder.
2. *decide*: one SQLite transaction records the intent (``pending`` row: quarter, new
   manifest rows, tables present). This commit is the atomic point: from now on the
   quarter is "after".
3. *apply*: each live folder is renamed aside to ``.txn/<id>/old/`` and the new one
   renamed in. Every step checks what is already done, so it can be repeated.
4. *finish*: one SQLite transaction replaces the quarter's manifest rows and deletes the
   ``pending`` row; then ``.txn/<id>`` is removed.

Steps 1 run under the quarter's lock only (pv.lake.lock), so quarters are prepared side by
side; steps 2-4 take the store lock for their moment. Every writer first runs ``recover`` under
the store lock: pending transactions are applied and finished (roll forward), unjournaled
``.txn`` folders are deleted unless their quarter's lock is held (being prepared now). So a
process killed at any moment leaves the store as before or as after, and the rerun
completes. Readers that must not see a half-applied swap (``pvmon status``, the next
stages) read inside ``with settled(home):`` (the lock, after ``recover``). Other
quarters are never touched.

Reading: every staged file has all current columns of its table; legacy DEMO files also
carry ``image``, ``death_dt`` and ``confid``. Scan across eras by column name, e.g.
``pl.scan_parquet(home.staged / "demo" / "*" / "*.parquet", missing_columns="insert")``,
or select the current columns only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

import polars as pl
import pyarrow.parquet as pq

from pv.atomic import _fsync_dir as _fsync  # opens read-only and fsyncs: works on files too
from pv.config import Home
from pv.lake import manifest
from pv.lake.lock import quarter_busy, store_lock

STAGED_TABLES = ("demo", "drug", "reac", "outc", "rpsr", "ther", "indi", "deleted")
PART = "part-0.parquet"
# Measured on a 2025-sized simulated quarter (bench/bench_ingest.py, best of 3 CPU
# seconds to write every staged table once the writer gets Arrow string views): zstd
# level 1 1.8 s / 41 MB, lz4 1.6 s / 80 MB, snappy 1.6 s / 80 MB, none 1.45 s / 232 MB.
# Most of the time goes into encoding text, not into the codec; lz4 takes 0.2 s off the
# critical work for 2x bigger files (still 4.6x smaller than the text) and reads back
# fastest. Dictionaries pay off on the coded and repeated columns but not on the unique
# ids (primaryid, caseid: a dictionary there is built and then abandoned): dictionaries
# on all but those write DRUG ~17% faster and ~2x smaller than none. No min/max
# statistics (the next stage scans whole quarters). The Arrow schema is not stored, so
# every text column, including the Enum constants, reads back as String.
PARQUET = {"compression": "lz4", "write_statistics": False, "store_schema": False}
UNIQUE_COLUMNS = ("primaryid", "caseid", "source_line", "line", "raw")
ROW_GROUP = 256 * 1024
ARROW_VIEWS = pl.CompatLevel.newest()


def staged_dir(home: Home, table: str, quarter: str) -> Path:
    return home.staged / table / f"quarter={quarter}"


def quarantine_dir(home: Home, quarter: str) -> Path:
    return home.quarantine / f"quarter={quarter}"


def _targets(home: Home, quarter: str) -> dict[str, Path]:
    """Live folders of one quarter, by their name inside a transaction folder."""
    out = {f"staged/{t}": staged_dir(home, t, quarter) for t in STAGED_TABLES}
    out["quarantine"] = quarantine_dir(home, quarter)
    return out


class Transaction:
    """New content of one quarter, written beside the live tree until committed."""

    def __init__(self, home: Home, quarter: str):
        self.home = home
        self.quarter = quarter
        self.id = f"{quarter}.{uuid.uuid4().hex}"  # the quarter first: recover leaves a quarter's work in progress
        self.root = home.root / ".txn" / self.id
        self.new = self.root / "new"
        (self.new / "quarantine").mkdir(parents=True)
        self.decided = False
        self.present: list[str] | None = None  # the folders staged, once sealed
        self.records: dict[str, dict] = {}  # live path (relative to home) -> size, rows, sha256

    def write_table(self, table: str, parts: pl.DataFrame | Iterable[pl.DataFrame | None]) -> None:
        """One staged table from a frame or from its parts, as they come (see
        ``pv.faers.reader.TableRead.parts``: a ``None`` part voids the parts before it)."""
        folder = self.new / "staged" / table
        folder.mkdir(parents=True, exist_ok=True)
        rows = self._write([parts] if isinstance(parts, pl.DataFrame) else parts, folder / PART)
        self._record(folder / PART, staged_dir(self.home, table, self.quarter) / PART, rows)

    def write_quarantine(self, table: str, frame: pl.DataFrame) -> None:
        path = self.new / "quarantine" / f"{table}.parquet"
        self._record(path, quarantine_dir(self.home, self.quarter) / path.name, self._write([frame], path))

    def _record(self, path: Path, live: Path, rows: int) -> None:
        """Size, rows and sha256 of a written file, for the manifest (pv.lake.integrity)."""
        from pv.lake.integrity import file_record

        self.records[str(live.relative_to(self.home.root))] = file_record(path, rows)

    @staticmethod
    def _write(parts: Iterable[pl.DataFrame | None], path: Path) -> int:
        """Write the parts; return the rows written."""
        # Arrow's string views share polars' buffers: handing a slice to the writer copies
        # nothing (plain Arrow strings cost a copy of every value, ~40% of the write).
        # The writer takes no dictionary of views, so Enum constants go as text.
        writer, rows = None, 0
        try:
            for part in parts:
                if part is None:  # start again: the file is rewritten from the next part
                    if writer is not None:
                        writer.close()
                        writer = None
                    rows = 0
                    continue
                rows += part.height
                part = part.with_columns(pl.col(pl.Enum).cast(pl.String))
                if writer is None:
                    schema = part.head(0).to_arrow(compat_level=ARROW_VIEWS).schema
                    dictionary = [c for c in schema.names if c not in UNIQUE_COLUMNS]
                    writer = pq.ParquetWriter(path, schema, use_dictionary=dictionary, **PARQUET)
                for chunk in part.iter_slices(ROW_GROUP):
                    writer.write_table(chunk.to_arrow(compat_level=ARROW_VIEWS))
        finally:
            if writer is not None:
                writer.close()
        _fsync(path)
        return rows

    def abort(self) -> None:
        """Drop an undecided transaction; a decided one is left for ``recover`` to finish."""
        if not self.decided:
            shutil.rmtree(self.root, ignore_errors=True)

    def seal(self) -> None:
        """End of step 1: the new folders' entries made durable. Needs no lock, so an ingest does it
        in its reading thread, beside the previous quarter's commit (pv.lake.ingest)."""
        for folder in [p for p in self.new.rglob("*") if p.is_dir()] + [self.new]:
            _fsync(folder)
        self.present = sorted(
            str(p.relative_to(self.new)) for p in self.new.glob("*/*") if p.is_dir()
        ) + ["quarantine"]

    def commit(self, quarter_row: dict, file_rows: list[dict], repair_rows: list[dict]) -> None:
        """Decide, apply and finish (steps 2-4)."""
        if self.present is None:
            self.seal()
        staged = [{"path": p, "quarter": self.quarter, **r} for p, r in sorted(self.records.items())]
        payload = {"quarter": quarter_row, "files": file_rows, "repairs": repair_rows, "present": self.present,
                   "staged": staged}
        with store_lock(self.home):  # short: the renames and the manifest rows
            con = manifest.connect(self.home.manifest)
            try:
                con.execute(
                    "INSERT INTO pending(txn, quarter, payload) VALUES (?, ?, ?)",
                    (self.id, self.quarter, json.dumps(payload)),
                )
                self.decided = True
                _apply(self.home, con, self.id, self.quarter, payload)
            finally:
                con.close()


def _apply(home: Home, con, txn: str, quarter: str, payload: dict) -> None:
    """Steps 3-4; safe to repeat after a crash at any point.

    Every folder a rename touched is fsynced once, after all the renames and before step 4
    deletes the journal row (one journal commit instead of one per rename): a power cut before
    that leaves the row, and the next ``recover`` repeats whatever renames did not last."""
    root = home.root / ".txn" / txn
    present = set(payload["present"])
    touched: dict[Path, None] = {}
    for name, live in _targets(home, quarter).items():
        new, old = root / "new" / name, root / "old" / name
        if name in present and not new.exists():
            continue  # already swapped in
        if live.exists():
            old.parent.mkdir(parents=True, exist_ok=True)
            os.replace(live, old)
            touched[old.parent] = None
        if name in present:
            live.parent.mkdir(parents=True, exist_ok=True)
            os.replace(new, live)
            touched[live.parent] = None
    for folder in touched:
        _fsync(folder)
    con.execute("BEGIN IMMEDIATE")
    try:
        for table in ("quarters", "files", "repairs", "staged_files"):
            con.execute(f"DELETE FROM {table} WHERE quarter = ?", (quarter,))
        _insert(con, "quarters", [payload["quarter"]])
        _insert(con, "files", payload["files"])
        _insert(con, "repairs", payload["repairs"])
        _insert(con, "staged_files", payload.get("staged", []))  # journals of older pvmon have none
        con.execute("DELETE FROM pending WHERE txn = ?", (txn,))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    shutil.rmtree(root, ignore_errors=True)


def _insert(con, table: str, records: list[dict]) -> None:
    if not records:
        return
    cols = list(records[0])
    con.executemany(
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
        [tuple(r[c] for c in cols) for r in records],
    )


def recover(home: Home) -> list[str]:
    """Finish every journaled transaction, drop unjournaled ones. Call under the lock."""
    done = []
    txn_root = home.root / ".txn"
    if not home.manifest.exists() and not txn_root.exists():
        return done
    con = manifest.connect(home.manifest)
    try:
        for txn, quarter, payload in con.execute("SELECT txn, quarter, payload FROM pending").fetchall():
            _apply(home, con, txn, quarter, json.loads(payload))
            done.append(quarter)
    finally:
        con.close()
    if txn_root.exists():
        for stray in txn_root.iterdir():
            quarter = stray.name.split(".")[0] if "." in stray.name else None
            if quarter is None or not quarter_busy(home, quarter):  # else being prepared under its quarter's lock
                shutil.rmtree(stray, ignore_errors=True)
    return done


@contextlib.contextmanager
def settled(home: Home) -> Iterator[None]:
    """For readers of staged/ (pvmon status, the next stages): hold the store lock with
    every interrupted commit finished, so what is read is one committed state."""
    with store_lock(home):
        recover(home)
        yield


@contextlib.contextmanager
def readable(home: Home) -> Iterator[None]:
    """``settled`` where the store can be written; on a read-only store, the store as it is
    (``pvmon status`` must work there: it only reads)."""
    from pv.lake.lock import StoreReadOnly

    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(settled(home))
        except StoreReadOnly:
            pass
        yield


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
