"""Everything the dashboards show, read from the store's FILES (never another stage's memory).

Why one loader: every page cites the file each number came from, so the files are read
once, fingerprinted once (path relative to the store, bytes, sha256) and handed to the
pages together with their citations. A stage whose files are missing stops the publish
with one line naming the file (PvError), so a site never silently shows a partial store.

Read, in order of the data flow:
- the manifest (pvmon.sqlite) through ``pv.lake.status`` (sources and line accounting);
- ``quarantine/quarter=*/*.parquet`` (every line that could not be staged, with its reason);
- ``cases/funnel.parquet`` (the dedup funnel);
- ``signals/<run_id>/`` of the latest run: ``signals.parquet``, ``trend.parquet``, ``run.json``;
- ``mechanism/<run_id>/`` of the same run: ``domains.parquet``, ``hypothesis.parquet``,
  ``statement.md`` and, when present, ``dose_response.parquet`` / ``dose_trends.parquet``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from pv.config import Home
from pv.errors import PvError
from pv.lake.status import DataOrigin, data_origin
from pv.signals.thresholds import PRESETS, signal_rule_expr, signal_rule_headline, signal_rule_meaning, signal_rule_name
from pv.cases import tables
from pv.signals.provenance import file_fingerprint

FLAGS = tuple(PRESETS)  # evans, ror025, ic025, eb05
FLAG_COLUMNS = tuple(f"flag_{name}" for name in FLAGS)
#: the trend rows a page draws (dashboards.drug.trend: event groups, all reports); the PT rows are ~99% of the file
TREND_SHOWN = (pl.col("level") == "group") & (pl.col("subset") == "all")


@dataclass(frozen=True)
class Source:
    """One file a page read: its path inside the store, size and sha256 (for the citation)."""

    path: str
    bytes: int
    sha256: str

    @property
    def cite(self) -> str:
        return f"{self.path} (sha256 {self.sha256[:12]})"


@dataclass
class Inputs:
    home: Home
    run_id: str
    run: dict  # run.json
    signals: pl.DataFrame
    trend: pl.DataFrame | None  # the trend rows the pages draw (TREND_SHOWN), not the whole file
    domains: pl.DataFrame | None  # None: no mechanism output for the run (failed or not run)
    hypothesis: pl.DataFrame | None
    statement: str | None
    dose_response: pl.DataFrame | None
    dose_trends: pl.DataFrame | None
    funnel: pl.DataFrame
    quarters: list[dict]  # manifest: quarter, source, sha256, bytes, committed_at
    accounting: pl.DataFrame  # manifest: per quarter x table line accounting
    quarantine: pl.DataFrame
    origin: DataOrigin  # simulated / FDA quarters, from the manifest
    drugs: list[str]  # watched drugs of the run, watchlist order (target first)
    roles: dict[str, str]  # drug -> target | comparator
    sources: dict[str, Source] = field(default_factory=dict)  # key -> fingerprint
    previous: pl.DataFrame | None = None  # the previous run's signals.parquet (with ``flagged``), if kept
    previous_last_quarter: str | None = None  # last quarter of the previous run's trend
    memo: dict = field(default_factory=dict)  # what several pages show, computed once per publish

    @property
    def rule(self) -> str:
        """The run's signal rule (run.json; runs before the setting flagged on any threshold)."""
        return signal_rule_name(self.run.get("signal_rule", {}).get("rule"))

    @property
    def rule_meaning(self) -> str:
        return signal_rule_meaning(self.rule)

    @property
    def first_quarter(self) -> str:
        """The data's first quarter (where every cumulative trend starts)."""
        return min(q["quarter"] for q in self.quarters)

    @property
    def headline(self) -> str:
        return signal_rule_headline(self.rule)

    def cite(self, *keys: str) -> str:
        """'Source: <file> (sha256 ...); ...' for the files behind one table or figure."""
        return "Source: " + "; ".join(self.sources[k].cite for k in keys) + f" - signals run {self.run_id}"


def _need(path: Path, stage: str) -> Path:
    if not (path.is_file() or (path.is_dir() and any(path.glob("*.parquet")))):  # a case table: pv.cases.tables
        raise PvError(f"{path}: missing (run `pvmon {stage}` first)")
    return path


def _parquet(path: Path, stage: str, columns: set[str], where: pl.Expr | None = None) -> pl.DataFrame:
    """The file's rows (only those ``where`` holds: scanned with the filter, never read whole)."""
    try:
        if where is None:
            frame = pl.read_parquet(_need(path, stage))
        else:  # an empty frame when a column is missing: the check below names it
            scan = pl.scan_parquet(_need(path, stage))
            has = set(scan.collect_schema().names()) >= columns
            frame = scan.filter(where).collect() if has else scan.head(0).collect()
    except pl.exceptions.PolarsError as err:
        raise PvError(f"{path}: cannot read ({str(err).splitlines()[0]})") from err
    missing = columns - set(frame.columns)
    if missing:
        raise PvError(f"{path}: lacks column(s) {', '.join(sorted(missing))}")
    return frame


def latest_run(home: Home) -> Path:
    """The newest complete signals/<run_id>/ (pv.signals.summary.latest_run)."""
    from pv.signals.summary import latest_run as newest

    run = newest(home)
    if run is None:
        orphans = sorted(home.signals.glob("*/signals.parquet"))
        missing = orphans[-1].parent / "run.json" if orphans else home.signals / "<run_id>" / "signals.parquet"
        raise PvError(f"{missing}: missing (run `pvmon signals` first)")
    return run


def _manifest(home: Home) -> tuple[list[dict], pl.DataFrame]:
    from pv.lake.status import lake_sections

    _need(home.manifest, "ingest")
    sections = {s.title: s.rows for s in lake_sections(home, detail=True)}
    quarters = sections.get("Lake: quarters and sources", [])
    rows = sections.get("Lake: line accounting", [])
    if not quarters or not rows:
        raise PvError(f"{home.manifest}: no staged quarter (run `pvmon ingest` first)")
    accounting = pl.DataFrame(rows).rename({"lines read": "lines_read", "rows staged": "rows_staged"})
    return quarters, accounting.select("quarter", "table", "files", "lines_read", "clean", "repaired",
                                       "quarantined", "blank", "rows_staged")


def _quarantine(home: Home) -> pl.DataFrame:
    files = sorted(home.quarantine.glob("quarter=*/*.parquet"))
    schema = {"quarter": pl.Utf8, "table": pl.Utf8, "source_file": pl.Utf8, "line": pl.Int64, "reason": pl.Utf8}
    if not files:
        return pl.DataFrame(schema=schema)
    return (pl.scan_parquet(files).select(list(schema)).collect()
            .sort("quarter", "table", "source_file", "line"))


def _watched(run: dict) -> tuple[list[str], dict[str, str]]:
    from pv.vocab.lookups import load_watchlist

    roles = dict(load_watchlist().frame.select("drug", "role").iter_rows())
    reported = list(run.get("drugs", {}).get("reported", []))
    # target(s) first, then comparators, each in the run's (watchlist) order
    ordered = sorted(reported, key=lambda d: (roles.get(d, "comparator") != "target", reported.index(d)))
    return ordered, {d: roles.get(d, "other") for d in ordered}


def page_drugs(run_dir: Path) -> list[str]:
    """The drugs a run's site has a page for (its watched drugs, targets first), from its run.json."""
    try:
        run = json.loads((Path(run_dir) / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise PvError(f"{Path(run_dir) / 'run.json'}: cannot read ({err})") from err
    return _watched(run)[0]


def _previous(home: Home, run: dict, rule: str, note) -> tuple[pl.DataFrame | None, str | None]:
    """The previous run's signals (flagged under THIS run's rule, so the change compares like with
    like) and the last quarter its trend reached; (None, None) when it was pruned or there is none."""
    name = run.get("previous_run")
    if not name or not (home.signals / name / "signals.parquet").is_file():
        return None, None
    path = home.signals / name / "signals.parquet"
    frame = _parquet(path, "signals", {"drug", "event", "level", "subset", "a", *FLAG_COLUMNS})
    note("previous", path)
    last = None
    if (home.signals / name / "trend.parquet").is_file():
        last = pl.scan_parquet(home.signals / name / "trend.parquet").select(pl.col("quarter").max()).collect().item()
    return frame.with_columns(flagged=signal_rule_expr(rule)), last


SIGNAL_NEEDS = {"drug", "event", "level", "subset", "a", "b", "c", "d", "expected", "prr", "prr_lo", "prr_hi",
                "chi2", "ror", "ror_lo", "ror_hi", "ic", "ic025", "ic975", "ebgm", "eb05", "eb95",
                *FLAG_COLUMNS, "first_quarter", "is_new"}


def load(home: Home) -> Inputs:
    """Read and fingerprint every file the site shows."""
    sources: dict[str, Source] = {}

    def note(key: str, path: Path) -> None:
        print_ = file_fingerprint(path)  # a case table is a folder of quarter files (pv.cases.tables)
        sources[key] = Source(str(path.relative_to(home.root)), print_["bytes"], print_["sha256"])

    quarters, accounting = _manifest(home)
    note("manifest", home.manifest)
    quarantine = _quarantine(home)
    funnel_path = home.cases / "funnel.parquet"
    funnel = _parquet(funnel_path, "cases", {"quarter", "stage", "count"})
    note("funnel", funnel_path)
    note("cases", _need(tables.folder(home.cases, "cases"), "cases"))

    run_dir = latest_run(home)
    run_json = _need(run_dir / "run.json", "signals")
    try:
        run = json.loads(run_json.read_text(encoding="utf-8"))
    except ValueError as err:
        raise PvError(f"{run_json}: not JSON ({err})") from err
    note("run", run_json)
    signals = _parquet(run_dir / "signals.parquet", "signals", SIGNAL_NEEDS)
    note("signals", run_dir / "signals.parquet")
    trend = None
    if (run_dir / "trend.parquet").is_file():
        trend = _parquet(run_dir / "trend.parquet", "signals", {"drug", "event", "level", "subset", "quarter", "a"},
                         where=TREND_SHOWN)
        note("trend", run_dir / "trend.parquet")

    mech = home.root / "mechanism" / run_dir.name
    domains = hypothesis = statement = dose_response = dose_trends = None
    if (mech / "statement.md").is_file():  # else the mechanism stage failed or did not run: its page says so
        domains, hypothesis, statement, dose_response, dose_trends = _mechanism(mech, note)

    rule = signal_rule_name(run.get("signal_rule", {}).get("rule"))
    signals = signals.with_columns(flagged=signal_rule_expr(rule))
    previous, previous_last = _previous(home, run, rule, note)
    drugs, roles = _watched(run)
    drugs = [d for d in drugs if d in set(signals["drug"].unique())]
    return Inputs(previous=previous, previous_last_quarter=previous_last, home=home, run_id=run_dir.name, run=run, signals=signals, trend=trend, domains=domains,
                  hypothesis=hypothesis, statement=statement, dose_response=dose_response, dose_trends=dose_trends,
                  funnel=funnel, quarters=quarters, accounting=accounting, quarantine=quarantine,
                  origin=data_origin(home), drugs=drugs, roles=roles, sources=sources)


def _mechanism(mech: Path, note) -> tuple:
    """The mechanism stage's outputs of a run: domains, hypothesis, statement, dose tables."""
    domains = _parquet(mech / "domains.parquet", "mechanism",
                       {"drug", "domain", "regions", "density", "lowest", "a", "n_pts", "ic", "ic_lo", "ic_hi"})
    note("domains", mech / "domains.parquet")
    hypothesis = _parquet(mech / "hypothesis.parquet", "mechanism",
                          {"family", "drug", "role", "rule", "slope", "p", "q_bh", "ci_lo", "ci_hi", "verdict"})
    note("hypothesis", mech / "hypothesis.parquet")
    statement = _need(mech / "statement.md", "mechanism").read_text(encoding="utf-8")
    note("statement", mech / "statement.md")
    dose_response = dose_trends = None
    if (mech / "dose_response.parquet").is_file():
        dose_response = _parquet(mech / "dose_response.parquet", "mechanism",
                                 {"drug", "scale", "event", "level", "dose_band", "n", "a", "share", "share_lo", "share_hi"})
        note("dose_response", mech / "dose_response.parquet")
    if (mech / "dose_trends.parquet").is_file():
        dose_trends = _parquet(mech / "dose_trends.parquet", "mechanism", {"drug", "scale", "event", "p_trend", "q_bh", "verdict"})
        note("dose_trends", mech / "dose_trends.parquet")
    return domains, hypothesis, statement, dose_response, dose_trends
