"""Does the store still hold what it committed? (rule ``store_integrity``)

Every staged and quarantine file is recorded at commit in the manifest's ``staged_files``
(its path, size, row count and sha256). A file deleted, truncated, replaced or added by
hand is then *damage*: ``check`` finds it, ``pvmon status`` lists it (fast path: size and
the Parquet footer's row count, no data read; ``pvmon status --verify``: the sha256 of
every file), every stage that reads staged/ refuses to run with one line naming the file
(``require_intact``), and re-ingesting the quarter's source repairs it (pv.lake.ingest
stages it again instead of calling it unchanged). Quarters committed by a pvmon that did
not record files yet are reported as unverifiable, not as damaged. Tested:
tests/test_ingest_integrity.py (truncated, deleted, flipped and added files; the repaired
store's content hashes equal an undisturbed run's).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from pv.config import Home
from pv.errors import PvError
from pv.lake import manifest, store


@dataclass(frozen=True)
class Damage:
    quarter: str
    path: Path
    reason: str

    def line(self, source: str | None) -> str:
        fix = f"re-ingest {source} to repair it" if source else "re-ingest its quarter's source to repair it"
        return f"{self.path}: damaged staged file of {self.quarter} ({self.reason}); {fix}"


@dataclass
class Report:
    damage: list[Damage]
    checked: int  # files compared with their record
    unrecorded: list[str]  # quarters committed without file records (older pvmon)
    sources: dict[str, str]  # quarter -> source name, for the repair hint

    def first_line(self) -> str:
        """One line naming the first damaged file (and how many more there are)."""
        first = self.damage[0]
        more = f" (and {len(self.damage) - 1} more: pvmon status)" if len(self.damage) > 1 else ""
        return first.line(self.sources.get(first.quarter)) + more


def file_record(path: Path, rows: int) -> dict:
    """What the manifest keeps of a staged file: size, rows, sha256."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return {"bytes": path.stat().st_size, "rows": rows, "sha256": h.hexdigest()}


def _problem(path: Path, record: dict, hashes: bool) -> str | None:
    if not path.exists():
        return "missing"
    size = path.stat().st_size
    if size != record["bytes"]:
        return f"{size} bytes, {record['bytes']} recorded: truncated or changed"
    try:
        rows = pq.ParquetFile(path).metadata.num_rows
    except Exception as err:  # any unreadable footer is damage, whatever pyarrow calls it
        return f"not a readable Parquet file ({type(err).__name__})"
    if rows != record["rows"]:
        return f"{rows} rows, {record['rows']} recorded"
    if hashes and file_record(path, rows)["sha256"] != record["sha256"]:
        return "content differs from its recorded sha256"
    return None


def _on_disk(home: Home) -> dict[Path, str]:
    """Every Parquet file under staged/ and quarantine/, with the quarter its folder names."""
    found = {}
    for pattern in ("staged/*/quarter=*/*.parquet", "quarantine/quarter=*/*.parquet"):  # what the stages scan
        for p in home.root.glob(pattern):
            found[p] = p.parent.name.removeprefix("quarter=")
    return found


def check(home: Home, hashes: bool = False) -> Report:
    """Compare staged/ and quarantine/ with the manifest's records. Read a settled store."""
    if not home.manifest.exists():
        return Report([], 0, [], {})
    con = manifest.connect(home.manifest)
    try:
        records = manifest.rows(con, "SELECT quarter, path, bytes, rows, sha256 FROM staged_files ORDER BY path")
        sources = dict(con.execute("SELECT quarter, source FROM quarters").fetchall())
    finally:
        con.close()
    recorded = {r["quarter"] for r in records}
    damage = []
    for r in records:
        reason = _problem(home.root / r["path"], r, hashes)
        if reason:
            damage.append(Damage(r["quarter"], home.root / r["path"], reason))
    known = {home.root / r["path"] for r in records}
    for path, quarter in sorted(_on_disk(home).items()):
        if path not in known and (quarter in recorded or quarter not in sources):
            damage.append(Damage(quarter, path, "not recorded in the manifest"))
    return Report(damage, len(records), sorted(set(sources) - recorded), sources)


def damaged_quarters(home: Home) -> set[str]:
    """Quarters with damage (fast path), for ingest's repair."""
    return {d.quarter for d in check(home).damage}


def require_intact(home: Home) -> None:
    """One-line PvError naming the first damaged file, for stages to call at their start.
    It takes no lock (a stage may already hold the store lock): call it under the lock
    (``store.settled``) where staged/ is read, so an ingest's swap is never seen half-done."""
    report = check(home)
    if report.damage:
        raise PvError(report.first_line())


def sections(home: Home, hashes: bool = False):
    """``pvmon status``'s integrity section."""
    from pv.lake.status import Section

    with store.readable(home):  # status works on a read-only store too
        report = check(home, hashes)
    how = "size, rows and sha256" if hashes else "size and rows; --verify also checks hashes"
    out = []
    if report.damage:
        out.append(Section(f"Lake: DAMAGED: {len(report.damage)} of {report.checked} staged files ({how})",
                           [{"quarter": d.quarter, "file": str(d.path), "problem": d.reason} for d in report.damage]))
    elif report.checked:
        out.append(Section(f"Lake: {report.checked} staged files intact ({how})", []))
    if report.unrecorded:
        out.append(Section("Lake: quarters staged before file records, not verifiable until re-ingested: "
                           + ", ".join(report.unrecorded), []))
    return out, report
