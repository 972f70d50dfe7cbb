"""Signal management: the review status of a signal (drug × event × level), with its history.

Why: a flag is reviewed, validated or refuted by a person, and a refuted or closed signal must
not come back as "new" every night. The records live in the store's SQLite manifest, table
``triage``: one row per change (who, when, status, comment, the headline measure at that moment),
append-only — triggers refuse UPDATE and DELETE, so the history is never overwritten. A
signal's status is its newest row; a signal never triaged is ``new``.

Rules (enforced in ``carry_over``, called once by the signals run; tested in tests/test_triage.py):
- ``triage-key``: a signal is drug × event × level, the event matched case-insensitively
  (``pvmon triage baclofen somnolence`` is the PT Somnolence).
- ``triage-carry``: a signal whose status is refuted or closed is never reported as new
  (``is_new`` false on every subset row of that drug × event × level).
- ``triage-reopen``: a closed signal whose headline measure (ROR025, the lower 95% bound of
  the ROR on all reports) has risen by at least ``REOPEN_MARGIN`` (default 0.5 = +50%) over its
  value when it was closed is reopened: a new row, status ``under review``, user ``pvmon``,
  with the reason. Users may change the margin with ``$PV_REOPEN_MARGIN`` (a fraction ≥ 0).
  A signal closed without a measure (no row in the run it was closed against) is not reopened.
"""

from __future__ import annotations

import getpass
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone

import polars as pl

from pv.config import Home, env_number
from pv.errors import PvError
from pv.lake.manifest import connect, rows

STATUSES = ("new", "under review", "validated", "refuted", "monitored", "closed")
LEVELS = ("pt", "group", "domain")
SILENCED = ("refuted", "closed")  # rule triage-carry
MEASURE = "ror_lo"  # the headline measure: ROR025 on all reports
MEASURE_LABEL = "ROR025"
REOPEN_MARGIN = 0.5
REOPEN_STATUS = "under review"
SYSTEM_USER = "pvmon"
MAX_NOTE = 2000

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS triage(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    drug TEXT NOT NULL, event TEXT NOT NULL, level TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ({", ".join(repr(s) for s in STATUSES)})),
    user TEXT NOT NULL, at TEXT NOT NULL, note TEXT NOT NULL,
    measure REAL,  -- {MEASURE_LABEL} on all reports in run_id when the row was written
    run_id TEXT);
CREATE INDEX IF NOT EXISTS triage_signal ON triage(drug, event, level, id);
CREATE TRIGGER IF NOT EXISTS triage_no_update BEFORE UPDATE ON triage
    BEGIN SELECT RAISE(ABORT, 'triage history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS triage_no_delete BEFORE DELETE ON triage
    BEGIN SELECT RAISE(ABORT, 'triage history is append-only'); END;
"""
COLUMNS = ("id", "drug", "event", "level", "status", "user", "at", "note", "measure", "run_id")


def open_triage(home: Home) -> sqlite3.Connection:
    """The manifest with the triage table."""
    con = connect(home.manifest)
    con.executescript(SCHEMA)
    return con


def reopen_margin() -> float:
    """The reopening margin: ``$PV_REOPEN_MARGIN`` or REOPEN_MARGIN (one-line error if not a fraction ≥ 0)."""
    return env_number("PV_REOPEN_MARGIN", REOPEN_MARGIN, "a fraction >= 0 (0.5 = +50%)")


@dataclass(frozen=True)
class Change:
    drug: str
    event: str
    level: str
    status: str
    note: str
    user: str
    measure: float | None = None
    run_id: str | None = None


def check(drug: str, event: str, status: str, level: str, note: str, user: str) -> None:
    """One-line errors for an unknown status or level and empty or oversized text."""
    if status not in STATUSES:
        raise PvError(f"triage: unknown status {status!r} (one of: {', '.join(STATUSES)})")
    if level not in LEVELS:
        raise PvError(f"triage: unknown level {level!r} (one of: {', '.join(LEVELS)})")
    for name, value in (("drug", drug), ("event", event), ("user", user)):
        if not value.strip():
            raise PvError(f"triage: {name} is empty")
        if len(value) > 300 or any(ord(ch) < 32 for ch in value):
            raise PvError(f"triage: {name} must be one line of at most 300 characters")
    if not note.strip():
        raise PvError("triage: --note is empty (say why the status changes)")
    if len(note) > MAX_NOTE:
        raise PvError(f"triage: --note longer than {MAX_NOTE} characters")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def append(con: sqlite3.Connection, changes: list[Change]) -> None:
    """Append history rows in one transaction."""
    con.execute("BEGIN IMMEDIATE")
    try:
        con.executemany(
            "INSERT INTO triage(drug, event, level, status, user, at, note, measure, run_id) VALUES (?,?,?,?,?,?,?,?,?)",
            [(c.drug, c.event, c.level, c.status, c.user, _now(), c.note, c.measure, c.run_id) for c in changes])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _latest_signals(home: Home) -> tuple[str | None, pl.DataFrame | None]:
    from pv.signals.summary import latest_run

    run = latest_run(home)
    if run is None:
        return None, None
    return run.name, pl.read_parquet(run / "signals.parquet", columns=["drug", "event", "level", "subset", MEASURE])


def set_status(home: Home, drug: str, event: str, status: str, note: str, user: str | None = None,
               level: str = "pt") -> Change:
    """Record a status change by a person; the measure is taken from the newest signals run.
    The event is matched to the run's spelling case-insensitively (PTs are stored as FDA writes them)."""
    user = user if user is not None else default_user()
    drug, event, status, level = drug.strip().lower(), event.strip(), status.strip().lower(), level.strip().lower()
    check(drug, event, status, level, note, user)
    run_id, table = _latest_signals(home)
    measure = None
    if table is not None:
        hit = table.filter(pl.col("drug") == drug, pl.col("level") == level, pl.col("subset") == "all",
                           pl.col("event").str.to_lowercase() == event.lower())
        if hit.height:
            event = hit["event"][0]
            measure = hit[MEASURE][0]
    change = Change(drug, event, level, status, note.strip(), user.strip(), measure, run_id)
    con = open_triage(home)
    try:
        append(con, [change])
    finally:
        con.close()
    return change


def default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def history(home: Home, drug: str | None = None) -> pl.DataFrame:
    """Every triage row (oldest first), of one drug if given (none when the store has no manifest)."""
    found = []
    if home.manifest.is_file():
        con = open_triage(home)
        try:
            found = rows(con, "SELECT * FROM triage" + (" WHERE drug = ?" if drug else "") + " ORDER BY id",
                         *([drug.lower()] if drug else []))
        finally:
            con.close()
    schema = {"id": pl.Int64, "drug": pl.Utf8, "event": pl.Utf8, "level": pl.Utf8, "status": pl.Utf8,
              "user": pl.Utf8, "at": pl.Utf8, "note": pl.Utf8, "measure": pl.Float64, "run_id": pl.Utf8}
    return pl.DataFrame(found, schema=schema)


def current(home: Home, drug: str | None = None) -> pl.DataFrame:
    """The newest row of every triaged signal: its status now."""
    every = history(home, drug).with_columns(_event=pl.col("event").str.to_lowercase())
    return every.group_by("drug", "_event", "level").agg(pl.all().sort_by("id").last()).sort(
        "drug", "_event", "level").select(COLUMNS)


def carry_over(home: Home, signals: pl.DataFrame, run_id: str) -> tuple[pl.DataFrame, list[Change]]:
    """Rules triage-carry and triage-reopen on a fresh signal table: (the table with ``is_new``
    off for refuted/closed signals, the reopening rows to append once the run is written)."""
    statuses = current(home)
    if statuses.is_empty() or signals.is_empty():
        return signals, []
    margin = reopen_margin()
    keys = ["drug", "_event", "level"]  # events match case-insensitively (a PT typed in any case)
    signals = signals.with_columns(_event=pl.col("event").str.to_lowercase())
    statuses = statuses.with_columns(_event=pl.col("event").str.to_lowercase())
    headline = signals.filter(pl.col("subset") == "all").select(*keys, pl.col(MEASURE).alias("_now"))
    closed = statuses.filter(pl.col("status") == "closed").join(headline, on=keys, how="inner")
    reopen = closed.filter(pl.col("measure").is_not_null() & pl.col("_now").is_not_null()
                           & (pl.col("_now") >= pl.col("measure") * (1 + margin)) & (pl.col("_now") > pl.col("measure")))
    changes = [Change(r["drug"], r["event"], r["level"], REOPEN_STATUS,
                      f"reopened by run {run_id}: {MEASURE_LABEL} {r['_now']:.3g} is at least {1 + margin:g} x "
                      f"{r['measure']:.3g} when closed ({r['at']})", SYSTEM_USER, r["_now"], run_id)
               for r in reopen.iter_rows(named=True)]
    silenced = statuses.filter(pl.col("status").is_in(SILENCED)).select(keys).join(
        reopen.select(keys), on=keys, how="anti").with_columns(_silenced=pl.lit(True))
    out = (signals.join(silenced, on=keys, how="left")
           .with_columns(is_new=pl.col("is_new") & ~pl.col("_silenced").fill_null(False)).drop("_silenced", "_event"))
    return out, changes


def record_reopened(home: Home, changes: list[Change]) -> None:
    if changes:
        con = open_triage(home)
        try:
            append(con, changes)
        finally:
            con.close()


def history_table(home: Home, drug: str) -> pl.DataFrame:
    """A drug's status changes, newest first, ``now`` marking each signal's current status
    (the drug page's and the regulator report's status and history table)."""
    every = history(home, drug)
    latest = every.group_by(pl.col("event").str.to_lowercase(), "level").agg(pl.col("id").max())["id"]
    return every.with_columns(now=pl.col("id").is_in(latest.implode())).sort("id", descending=True).select(
        "event", "level", "status", "now", "user", "at", "note", "measure", "run_id")


def listing_lines(home: Home) -> list[str]:
    """``pvmon triage --list``: tab-separated lines, the status now of each signal, then every change."""
    now, every = current(home), history(home)
    if every.is_empty():
        return ["no triaged signal"]
    fields = ("drug", "event", "level", "status", "user", "at", "note")
    lines = ["# status now", "\t".join(fields)]
    lines += ["\t".join(" ".join(str(r[f]).split()) for f in fields) for r in now.iter_rows(named=True)]
    lines += ["", "# history (every change, oldest first)", "\t".join(("id", *fields, "measure", "run_id"))]
    lines += ["\t".join(" ".join(str(r[f]).split()) for f in ("id", *fields, "measure", "run_id"))
              for r in every.iter_rows(named=True)]
    return lines
