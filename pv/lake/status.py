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


def lake_sections(home: Home, detail: bool = False) -> list[Section]:
    """Staged quarters with their sources, and the line accounting: per quarter and table with
    ``detail``, else runs of quarters of one origin, one accounting row per table, and the quarters
    that had repaired or quarantined lines (at full FAERS size the detail is ~900 lines)."""
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
            by = "quarter, table_name" if detail else "table_name"
            tables = manifest.rows(
                con,
                f"""SELECT {'quarter, ' if detail else 'COUNT(DISTINCT quarter) AS quarters, '}table_name AS "table",
                          COUNT(*) AS files, SUM(lines_read) AS "lines read",
                          SUM(lines_clean) AS clean, SUM(lines_repaired) AS repaired,
                          SUM(lines_quarantined) AS quarantined, SUM(lines_blank) AS blank,
                          SUM(rows_staged) AS "rows staged",
                          GROUP_CONCAT(DISTINCT era) AS era, GROUP_CONCAT(DISTINCT encoding) AS encoding
                   FROM files GROUP BY {by} ORDER BY {by}""",
            )
            broken = [] if detail else manifest.rows(
                con, """SELECT quarter, table_name AS "table", SUM(lines_repaired) AS repaired,
                               SUM(lines_quarantined) AS quarantined FROM files GROUP BY quarter, table_name
                        HAVING SUM(lines_repaired) + SUM(lines_quarantined) > 0 ORDER BY quarter, table_name""")
            downloads = manifest.rows(con, "SELECT name, sha256, bytes, fetched_at FROM downloads ORDER BY name")
        finally:
            con.close()
    if detail:
        out = [Section("Lake: quarters and sources", quarters), Section("Lake: line accounting", tables)]
    else:
        out = [Section("Lake: quarters by origin (each quarter's source and sha256: pvmon status --all)",
                       _runs_of(quarters)),
               Section("Lake: line accounting, all quarters (per quarter: pvmon status --all)", tables)]
        if broken:
            out.append(Section("Lake: quarters with repaired or quarantined lines", broken))
    if downloads:
        out.append(Section("Raw: downloads", downloads) if detail else
                   Section(f"Raw: {len(downloads)} downloads, {sum(d['bytes'] for d in downloads):,} bytes "
                           f"({downloads[0]['name']} .. {downloads[-1]['name']})", []))
    return out


def _runs_of(quarters: list[dict]) -> list[dict]:
    """Consecutive quarters of one origin as one row: first..last, how many, bytes."""
    def after(quarter: str) -> str:
        y, n = int(quarter[:4]), int(quarter[-1])
        return f"{y + n // 4}Q{n % 4 + 1}"

    out: list[dict] = []
    for q in quarters:
        last = out[-1] if out else None
        if last and last["data"] == q["data"] and after(last["quarters"].split("..")[-1]) == q["quarter"]:
            last["quarters"] = f"{last['quarters'].split('..')[0]}..{q['quarter']}"
            last["count"] += 1
            last["bytes"] += q["bytes"] or 0
        else:
            out.append({"quarters": q["quarter"], "data": q["data"], "count": 1, "bytes": q["bytes"] or 0})
    return out


def cases_sections(home: Home, detail: bool = False) -> list[Section]:
    """The cases stage's dedup funnel (read from cases/funnel.parquet)."""
    from pv.cases.summary import funnel_sections

    return funnel_sections(home, detail)


def signal_sections(home: Home, detail: bool = False) -> list[Section]:
    """The latest signal run and its new signals (read from signals/<run>/)."""
    from pv.signals.summary import signal_sections as sections

    return sections(home)


SECTIONS: list[Callable[[Home, bool], list[Section]]] = [lake_sections, cases_sections, signal_sections]


def collect(home: Home, detail: bool = False) -> list[Section]:
    """Every stage's sections; ``detail``: per quarter (``pvmon status --all``)."""
    return [section for fn in SECTIONS for section in fn(home, detail)]


def print_sections(sections: list[Section]) -> None:
    """Render sections on stdout (data printed literally: pv.inert): rich tables on a terminal;
    piped or redirected, plain tab-separated lines that no width cuts (for less, grep, awk)."""
    from rich.table import Table

    from pv.inert import rich_console

    console = rich_console()
    for section in sections:
        columns = list(section.rows[0]) if section.rows else []
        cells = [["" if v is None else (v[:12] if c == "sha256" else str(v)) for c, v in row.items()]
                 for row in section.rows]
        if not console.is_terminal:  # sys.stdout passes through pv.inert: no control characters
            print(section.title)
            for line in ([columns] if columns else []) + cells:
                print("\t".join(c.replace("\t", " ").replace("\n", " ") for c in line))
            print()
            continue
        if not section.rows:
            console.print(section.title)
            continue
        table = Table(title=section.title, title_justify="left")
        for c in columns:
            table.add_column(c, justify="right" if isinstance(section.rows[0][c], int) else "left")
        for row in cells:
            table.add_row(*row)
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
