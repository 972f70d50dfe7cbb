"""Which signal runs the store keeps: ``pvmon prune``, and the nightly run after it publishes.

Rule ``retention`` (default: keep 14; set ``PV_KEEP_RUNS`` or ``pvmon prune --keep N``): a run
is ``signals/<id>/`` with its ``mechanism/<id>/`` and ``reports/<id>/``. Kept are the newest N
runs, every run a report was exported from on request (``pvmon report`` records it in the
manifest's ``kept_runs``: a regulator may ask for the numbers behind a report years later), and
always the newest run (the one the dashboards show). Everything else goes, oldest first, with
whatever pieces a scheduler left of it under ``.work/`` (pv.signals.tasks, dashboards.publish);
the work folder of a run that never completed has no signals/<id>/ and stays.
Why: every nightly run used to add a ~200 MB run at full scale that nothing ever removed.
Tested in tests/test_retention.py.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from pv.atomic import remove_output
from pv.config import Home
from pv.errors import PvError

DEFAULT_KEEP = 14
KEPT_SQL = "CREATE TABLE IF NOT EXISTS kept_runs(run_id TEXT PRIMARY KEY, reason TEXT NOT NULL, kept_at TEXT NOT NULL)"


@dataclass
class PruneReport:
    removed: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # run id -> why


def default_keep() -> int:
    text = os.environ.get("PV_KEEP_RUNS", str(DEFAULT_KEEP))
    if not text.isdigit() or int(text) < 1:
        raise PvError(f"PV_KEEP_RUNS: {text!r} is not a whole number of at least 1")
    return int(text)


def keep_run(home: Home, run_id: str, reason: str) -> None:
    """Record that ``run_id`` must never be pruned (a report was exported from it)."""
    from pv.lake import manifest
    from pv.signals.provenance import utc_now

    con = manifest.connect(home.manifest)
    try:
        with con:
            con.execute(KEPT_SQL)
            con.execute("INSERT OR IGNORE INTO kept_runs(run_id, reason, kept_at) VALUES (?, ?, ?)",
                        (run_id, reason, utc_now()))
    finally:
        con.close()


def kept_runs(home: Home) -> dict[str, str]:
    if not home.manifest.exists():
        return {}
    from pv.lake import manifest

    con = manifest.connect(home.manifest)
    try:
        con.execute(KEPT_SQL)
        return dict(con.execute("SELECT run_id, reason FROM kept_runs").fetchall())
    finally:
        con.close()


def runs_newest_first(home: Home) -> list[str]:
    """Signal run ids, newest first (by signals.parquet's time, then id: as ``latest_run``)."""
    tables = [p for p in home.signals.glob("*/signals.parquet")] if home.signals.is_dir() else []
    return [p.parent.name for p in sorted(tables, key=lambda p: (p.stat().st_mtime, p.parent.name), reverse=True)]


def plan(home: Home, keep: int | None = None) -> PruneReport:
    """What ``prune`` would remove and what it keeps, and why."""
    keep = default_keep() if keep is None else keep
    if keep < 1:
        raise PvError(f"--keep: {keep} is below 1 (the newest run is always kept)")
    report = PruneReport()
    pinned = kept_runs(home)
    for i, run_id in enumerate(runs_newest_first(home)):
        if i < keep:
            report.kept[run_id] = "newest" if i == 0 else f"among the newest {keep}"
        elif run_id in pinned:
            report.kept[run_id] = pinned[run_id]
        else:
            report.removed.append(run_id)
    return report


def prune(home: Home, keep: int | None = None, dry_run: bool = False) -> PruneReport:
    """Remove the runs the retention rule does not keep (under the store lock)."""
    from pv.lake.lock import store_lock

    with store_lock(home):
        report = plan(home, keep)
        if not dry_run:
            work = home.root / ".work"  # pieces a scheduler left of a removed run (signals, site)
            for run_id in report.removed:
                for stage in (home.reports, home.root / "mechanism", home.signals):  # the signal table last
                    remove_output(stage / run_id)
                for leftover in sorted(work.glob(f"*/{run_id}")) if work.is_dir() else []:
                    shutil.rmtree(leftover, ignore_errors=True)
    return report
