"""The SQLite manifest (``pvmon.sqlite``): what is in the store and where it came from.

- ``quarters``: one row per staged quarter: the source (zip or folder) and its sha256,
  which makes re-ingesting the same bytes a no-op, and whether it came from `pvmon simulate`.
- ``files``: per source file, the line accounting ``lines_read = lines_clean +
  lines_repaired + lines_quarantined + lines_blank`` and ``rows_staged``.
- ``repairs``: every repaired line, with the rule that repaired it.
- ``staged_files``: every staged and quarantine file with its size, row count and sha256,
  so the store can tell when a file was damaged (pv.lake.integrity).
- ``pending``: the commit journal of pv.lake.store (a quarter being swapped in).
- ``downloads``: files fetched from FDA, with their sha256.

Other stages may add their own tables; they read these ones through ``connect``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS quarters(
    quarter TEXT PRIMARY KEY, source TEXT NOT NULL, source_sha256 TEXT NOT NULL,
    source_bytes INTEGER NOT NULL, committed_at TEXT NOT NULL,
    simulated INTEGER);  -- 1 pvmon simulate, 0 FDA, NULL not recorded (stores of pvmon before it was)
CREATE TABLE IF NOT EXISTS files(
    quarter TEXT NOT NULL, table_name TEXT NOT NULL, source_file TEXT NOT NULL,
    era TEXT, encoding TEXT NOT NULL, lines_read INTEGER NOT NULL, lines_clean INTEGER NOT NULL,
    lines_repaired INTEGER NOT NULL, lines_quarantined INTEGER NOT NULL,
    lines_blank INTEGER NOT NULL, rows_staged INTEGER NOT NULL,
    PRIMARY KEY (quarter, source_file),
    CHECK (lines_read = lines_clean + lines_repaired + lines_quarantined + lines_blank));
CREATE TABLE IF NOT EXISTS repairs(
    quarter TEXT NOT NULL, table_name TEXT NOT NULL, source_file TEXT NOT NULL,
    line INTEGER NOT NULL, rule TEXT NOT NULL, rows INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS staged_files(
    path TEXT PRIMARY KEY, quarter TEXT NOT NULL, bytes INTEGER NOT NULL, rows INTEGER NOT NULL,
    sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending(txn TEXT PRIMARY KEY, quarter TEXT NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS downloads(
    name TEXT PRIMARY KEY, url TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL,
    fetched_at TEXT NOT NULL);
"""

FILE_COLUMNS = (
    "quarter", "table_name", "source_file", "era", "encoding", "lines_read", "lines_clean",
    "lines_repaired", "lines_quarantined", "lines_blank", "rows_staged",
)
REPAIR_COLUMNS = ("quarter", "table_name", "source_file", "line", "rule", "rows")


def connect(path: Path) -> sqlite3.Connection:
    """Open (and create) the manifest; synchronous=FULL so a commit survives a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=60, isolation_level=None)
    con.execute("PRAGMA synchronous=FULL")
    con.executescript(SCHEMA)
    if "simulated" not in {r[1] for r in con.execute("PRAGMA table_info(quarters)")}:
        con.execute("ALTER TABLE quarters ADD COLUMN simulated INTEGER")  # NULL: origin not recorded
    return con


def simulated_quarters(con: sqlite3.Connection) -> tuple[list[str], list[str], list[str]]:
    """(simulated, FDA, not recorded) staged quarters: pages and reports must say when data is simulated."""
    found = con.execute("SELECT quarter, simulated FROM quarters ORDER BY quarter").fetchall()
    return [q for q, s in found if s == 1], [q for q, s in found if s == 0], [q for q, s in found if s is None]


def record_origin(con: sqlite3.Connection, quarter: str, simulated: bool) -> None:
    """Fill in a quarter's origin where an older pvmon did not record it (same bytes, so same origin)."""
    con.execute("UPDATE quarters SET simulated = ? WHERE quarter = ? AND simulated IS NULL", (int(simulated), quarter))


def rows(con: sqlite3.Connection, sql: str, *args) -> list[dict]:
    cur = con.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]
