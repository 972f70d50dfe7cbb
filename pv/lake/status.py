"""What the store holds, as data: ``pvmon status`` prints it, tests and DAGs read it.

``collect(home)`` returns a list of sections (title, rows as dicts). Each stage adds its
own section by registering a function in ``SECTIONS`` (the cases stage will add the
dedup funnel), so the command stays one call and no stage reads another's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from pv.config import Home
from pv.lake import manifest, store


@dataclass
class Section:
    title: str
    rows: list[dict]


def lake_sections(home: Home) -> list[Section]:
    """Staged quarters with their sources, and per quarter and table the line accounting."""
    if not home.manifest.exists():
        return [Section("Lake: nothing ingested yet", [])]
    with store.readable(home):
        con = manifest.connect(home.manifest)
        try:
            quarters = manifest.rows(
                con, "SELECT quarter, CASE simulated WHEN 1 THEN 'SIMULATED' WHEN 0 THEN 'FDA' ELSE 'not recorded' END AS data, "
                "source, "
                "source_sha256 AS sha256, source_bytes AS bytes, committed_at FROM quarters ORDER BY quarter"
            )
            tables = manifest.rows(
                con,
                """SELECT quarter, table_name AS "table", COUNT(*) AS files, SUM(lines_read) AS "lines read",
                          SUM(lines_clean) AS clean, SUM(lines_repaired) AS repaired,
                          SUM(lines_quarantined) AS quarantined, SUM(lines_blank) AS blank,
                          SUM(rows_staged) AS "rows staged",
                          GROUP_CONCAT(DISTINCT era) AS era, GROUP_CONCAT(DISTINCT encoding) AS encoding
                   FROM files GROUP BY quarter, table_name ORDER BY quarter, table_name""",
            )
            downloads = manifest.rows(con, "SELECT name, sha256, bytes, fetched_at FROM downloads ORDER BY name")
        finally:
            con.close()
    out = [Section("Lake: quarters and sources", quarters), Section("Lake: line accounting", tables)]
    if downloads:
        out.append(Section("Raw: downloads", downloads))
    return out


def cases_sections(home: Home) -> list[Section]:
    """The cases stage's dedup funnel (read from cases/funnel.parquet)."""
    from pv.cases.summary import funnel_sections

    return funnel_sections(home)


def signal_sections(home: Home) -> list[Section]:
    """The latest signal run and its new signals (read from signals/<run>/)."""
    from pv.signals.summary import signal_sections as sections

    return sections(home)


SECTIONS: list[Callable[[Home], list[Section]]] = [lake_sections, cases_sections, signal_sections]


def collect(home: Home) -> list[Section]:
    return [section for fn in SECTIONS for section in fn(home)]


def print_sections(sections: list[Section]) -> None:
    """Render sections as rich tables on stdout."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for section in sections:
        if not section.rows:
            console.print(section.title)
            continue
        table = Table(title=section.title, title_justify="left")
        columns = list(section.rows[0]) if section.rows else []
        for c in columns:
            table.add_column(c, justify="right" if isinstance(section.rows[0][c], int) else "left")
        for row in section.rows:
            table.add_row(*["" if v is None else (v[:12] if c == "sha256" else str(v)) for c, v in row.items()])
        console.print(table)


@dataclass
class DataOrigin:
    """Where the staged quarters came from; every published page and report states it."""
    simulated: list[str]
    fda: list[str]
    unknown: list[str] = field(default_factory=list)  # ingested before pvmon recorded the origin

    def of(self, quarter: str) -> str:
        """One quarter's origin: SIMULATED, FDA or "not recorded"."""
        return "SIMULATED" if quarter in self.simulated else "FDA" if quarter in self.fda else "not recorded"

    @property
    def may_be_simulated(self) -> bool:
        """True when any quarter is simulated or of unrecorded origin (pages and reports carry a banner)."""
        return bool(self.simulated or self.unknown)

    @property
    def label(self) -> str:
        """SIMULATED, FDA, MIXED (both; say so loudly), UNKNOWN (some quarters not recorded) or EMPTY."""
        if self.simulated and self.fda:
            return "MIXED"
        if self.unknown:
            return "UNKNOWN"
        return "SIMULATED" if self.simulated else "FDA" if self.fda else "EMPTY"


def data_origin(home: Home) -> DataOrigin:
    """Simulated and FDA quarters of the store (from the manifest; `pvmon simulate` marks its zips)."""
    if not home.manifest.exists():
        return DataOrigin([], [])
    with store.readable(home):
        con = manifest.connect(home.manifest)
        try:
            return DataOrigin(*manifest.simulated_quarters(con))
        finally:
            con.close()
