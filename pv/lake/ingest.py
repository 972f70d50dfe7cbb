"""``pvmon ingest``: stage FAERS extracts into the lake, incrementally and safely.

Each extract (one quarter from one zip or folder) is read and written as one
transaction (pv.lake.store), under that quarter's lock (other quarters are staged meanwhile,
by other processes or workers); the store lock is taken only for the commit. An extract whose source sha256 is already the committed
source of its quarter is skipped: re-ingesting the same bytes changes nothing, unless
the quarter's staged files are damaged (pv.lake.integrity): then it is staged again,
which repairs the store. A bad extract fails alone, with a one-line reason; the others of
the same command go in.

Rule ``shrink_guard``: an extract that would leave its quarter with fewer than
``SHRINK_KEEP`` (half) of the reports (DEMO rows) already staged for it is refused, with
one line, unless ``--allow-shrink`` is given: FDA never withdraws most of a quarter, a
broken extract (a DEMO holding only its header) would silently wipe it from cases/.
Tested: tests/test_ingest_integrity.py (test_an_extract_that_would_wipe_its_quarter_...).

Speed: the tables of an extract are read in parallel threads, biggest first; each
thread streams its member (inflated a piece at a time, ``Extract.stream``) and writes its
Parquet file slice by slice while a helper thread inflates and parses the next slice
(``read_ahead``), so parsing overlaps with writing (ISA-L, polars and the Parquet writer
release the GIL). No member is held whole, as text or as rows: only a few slices, so
memory stays flat whatever the member's size (rule ``member_bounds`` caps the size).
Two extracts are in flight: the next quarter is read while the one before finishes its last
(longest) table and commits (fsyncs, renames, manifest rows), which used to leave the cores
idle for about a third of the wall time (py-spy at scale 0.1); commits stay in input order.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pv.config import Home
from pv.errors import PvError
from pv.faers.extract import Extract, Limits, Member, discover
from pv.faers.reader import DELETED, TableRead, open_table, read_ahead, read_table
from pv.lake import integrity, manifest, store
from pv.lake.lock import quarter_lock, store_lock

log = logging.getLogger("pv.ingest")

# Biggest tables first so the long ones start at once.
READ_ORDER = ("DRUG", "REAC", "INDI", "DEMO", "THER", "OUTC", "RPSR", "DELETED")
WORKERS = max(2, min(4, os.cpu_count() or 2))
SHRINK_KEEP = 0.5  # rule shrink_guard


@dataclass
class IngestReport:
    staged: list[str] = field(default_factory=list)  # "2012Q4 <- source"
    unchanged: list[str] = field(default_factory=list)
    errors: list[PvError] = field(default_factory=list)


def _staged_reports(home: Home, quarter: str) -> int:
    con = manifest.connect(home.manifest)
    try:
        (n,) = con.execute("SELECT COALESCE(SUM(rows_staged), 0) FROM files WHERE quarter = ? AND table_name = 'demo'",
                           (quarter,)).fetchone()
    finally:
        con.close()
    return n


def _guard_shrink(home: Home, extract: Extract, reads: list[TableRead]) -> None:
    """Rule ``shrink_guard``: refuse an extract that removes most of its quarter's reports."""
    old = _staged_reports(home, extract.quarter)
    new = sum(r.rows_staged for r in reads if r.table == "DEMO")
    if old and new < SHRINK_KEEP * old:
        raise PvError(f"{Path(extract.source).name}: {extract.quarter} would go from {old} to {new} reports "
                      "(DEMO rows): refused as a broken extract; pass --allow-shrink to accept it")


def prepare_extract(home: Home, extract: Extract, allow_shrink: bool = False) -> tuple[store.Transaction, dict]:
    """Step 1 of the quarter's transaction: read every table of ``extract``, write and seal its
    files under ``.txn`` (no store lock); return the transaction and its commit's rows."""
    txn = store.Transaction(home, extract.quarter)
    try:
        members = sorted(extract.members, key=lambda m: READ_ORDER.index(m.table))

        def work(member: Member) -> TableRead:
            source = extract.opener(member)  # streamed: inflated as it is parsed
            if member.table == DELETED:
                return read_table(source, member.table, extract.quarter, member.source_file)
            read = open_table(source, member.table, extract.quarter, member.source_file)
            txn.write_table(member.table.lower(), read_ahead(read.parts))
            return read

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            reads = list(pool.map(work, members))
        if not allow_shrink:
            _guard_shrink(home, extract, reads)
        deleted = [r for r in reads if r.table == DELETED]
        if deleted:
            txn.write_table("deleted", pl.concat([r.frame for r in deleted]))
        quarantine: dict[str, list[pl.DataFrame]] = {}
        for r in reads:
            if r.quarantine.height:
                quarantine.setdefault(r.table.lower(), []).append(r.quarantine)
        for table, frames in quarantine.items():
            txn.write_quarantine(table, pl.concat(frames))
        txn.seal()
    except BaseException:
        txn.abort()
        raise
    return txn, {
        "quarter_row": {
            "quarter": extract.quarter, "source": Path(extract.source).name,
            "source_sha256": extract.source_sha256, "source_bytes": extract.source_bytes,
            "simulated": int(extract.simulated),
            "committed_at": store.now(),
        },
        "file_rows": [_file_row(r) for r in reads],
        "repair_rows": [
            {"quarter": r.quarter, "table_name": r.table.lower(), "source_file": r.source_file,
             "line": line, "rule": rule, "rows": n}
            for r in reads for line, rule, n in r.repairs
        ],
    }


def commit_prepared(txn: store.Transaction, rows: dict) -> None:
    """Steps 2-4 (the store lock for their moment); an undecided transaction is dropped on failure."""
    try:
        txn.commit(**rows)
    except BaseException:
        txn.abort()
        raise


def _file_row(r: TableRead) -> dict:
    return {
        "quarter": r.quarter, "table_name": r.table.lower(), "source_file": r.source_file,
        "era": r.era, "encoding": r.encoding, "lines_read": r.lines_read,
        "lines_clean": r.lines_clean, "lines_repaired": r.lines_repaired,
        "lines_quarantined": r.lines_quarantined, "lines_blank": r.lines_blank,
        "rows_staged": r.rows_staged,
    }


def committed_source(home: Home, quarter: str) -> str | None:
    if not home.manifest.exists():
        return None
    con = manifest.connect(home.manifest)
    try:
        row = con.execute("SELECT source_sha256 FROM quarters WHERE quarter = ?", (quarter,)).fetchone()
    finally:
        con.close()
    return row[0] if row else None


def committed_sources(home: Home) -> dict[str, str]:
    """quarter -> sha256 of the source its staged tables came from (what a later stage was built on)."""
    if not home.manifest.exists():
        return {}
    con = manifest.connect(home.manifest)
    try:
        return dict(con.execute("SELECT quarter, source_sha256 FROM quarters ORDER BY quarter").fetchall())
    finally:
        con.close()


def _record_origin(home: Home, extract: Extract) -> None:
    con = manifest.connect(home.manifest)
    try:
        manifest.record_origin(con, extract.quarter, extract.simulated)
    finally:
        con.close()


def ingest_paths(home: Home, paths: list[Path], limits: Limits = Limits(), allow_shrink: bool = False) -> IngestReport:
    """Stage every extract found under ``paths``; collect per-extract errors. Each extract is staged
    under its quarter's lock (pv.lake.lock), so ingests of other quarters run at the same time; the
    store lock is held only to settle the store first and for each commit."""
    report = IngestReport()
    extracts, report.errors = discover(paths, limits)
    with store_lock(home):
        store.recover(home)
        damaged = integrity.damaged_quarters(home)
    # Two extracts in flight: the next one is read (in its own thread) while the one before finishes
    # its read and commits, so a quarter's commit (fsyncs, under the store lock) and its longest
    # table's tail no longer leave the cores idle. Commits stay in order, in this thread, under
    # each quarter's lock (taken and released here).
    inflight: list[_InFlight] = []
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="pv-ingest-extract") as pool:
        try:
            for extract in extracts:
                if inflight and inflight[0].extract.quarter == extract.quarter:  # the same quarter twice: in order
                    _finish(inflight.pop(0), report, len(extracts))
                label = f"{extract.quarter} <- {extract.source}"
                locks = contextlib.ExitStack()
                with contextlib.ExitStack() as guard:
                    guard.callback(locks.close)
                    locks.enter_context(quarter_lock(home, extract.quarter))
                    same = committed_source(home, extract.quarter) == extract.source_sha256
                    if same and extract.quarter not in damaged:
                        report.unchanged.append(label)
                        with store_lock(home):
                            _record_origin(home, extract)
                        continue
                    future = pool.submit(prepare_extract, home, extract, allow_shrink)
                    guard.pop_all()  # the lock now goes with the extract in flight
                inflight.append(_InFlight(extract, label, same, locks, future, time.perf_counter()))
                if len(inflight) == 2:
                    _finish(inflight.pop(0), report, len(extracts))
            while inflight:
                _finish(inflight.pop(0), report, len(extracts))
        finally:
            for left in inflight:  # after an error: drop what was prepared, then release its lock
                with left.locks:
                    with contextlib.suppress(BaseException):
                        left.future.result()[0].abort()
    return report


@dataclass
class _InFlight:
    extract: Extract
    label: str
    same: bool  # its source is already committed (staged again because its files are damaged)
    locks: contextlib.ExitStack  # its quarter lock
    future: Future  # prepare_extract's (transaction, rows)
    started: float


def _finish(one: _InFlight, report: IngestReport, total: int) -> None:
    """Commit one prepared extract (or record its error), then release its quarter lock."""
    with one.locks:
        try:
            commit_prepared(*one.future.result())
        except PvError as err:
            log.error("ingest: %s failed: %s", one.label, err)
            report.errors.append(err)
            return
    report.staged.append(one.label + (" (repaired: its staged files were damaged)" if one.same else ""))
    log.info("ingest: %s staged in %.1f s (%d of %d)", one.label, time.perf_counter() - one.started,
             len(report.staged), total)
