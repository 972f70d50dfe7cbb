"""The pipeline as plain stage functions: the ``pvmon run``/``pvmon demo`` commands and
the Airflow DAG call exactly these, one call per stage.

Each stage reads the previous stage's files in the store and writes its own atomically,
so any stage can be re-run alone and a failed stage leaves the store as it was. Every stage
holds the store lock (pv.lake.lock); ``run`` and ``demo`` hold it for their whole length, so
two runs at once take turns instead of mixing their run ids. The DAGs spread the work: ingest
per quarter (each under its quarter's lock), signals as a prior fit, pieces per level and
chunk of drugs, and a merge (pv.signals.tasks), reports per drug.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from datetime import date, timedelta
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from pv.config import Home
from pv.errors import PvError
from pv.lake.lock import holds_store_lock

log = logging.getLogger("pv.pipeline")


def logged(fn: Callable) -> Callable:
    """Log a stage's start, and its end with seconds and what it returned (a scheduler's task log
    shows progress as it happens; the command line prints its own lines)."""
    @functools.wraps(fn)
    def stage(*args, **kwargs):
        name = fn.__name__.removesuffix("_stage")
        log.info("%s: started", name)
        started = time.perf_counter()
        try:
            out = fn(*args, **kwargs)
        except Exception as err:
            log.error("%s: failed after %.1f s: %s", name, time.perf_counter() - started, err)
            raise
        log.info("%s: done in %.1f s: %s", name, time.perf_counter() - started, _brief(out))
        return out
    return stage


def _brief(out: object) -> str:
    text = str(out)
    return text if len(text) <= 300 else text[:297] + "..."

# The embedded default: simulated extracts (no FDA download is possible on build machines).
DEMO_QUARTERS = "2023Q1..2024Q4"
DEMO_REPORTS_PER_QUARTER = 4000
DEMO_SEED = 1


def simulate_stage(home: Home, quarters: str = DEMO_QUARTERS,
                   reports_per_quarter: int = DEMO_REPORTS_PER_QUARTER, seed: int = DEMO_SEED) -> Path:
    """Write simulated FAERS zips into ``<home>/simulated`` and return that folder."""
    from pv.faers.simulate import simulate

    out = home.root / "simulated"
    simulate(out, quarters, reports_per_quarter, seed)
    return out


def settings_stage(conf: dict | None) -> dict:
    """A scheduled run's settings, checked before any work (pv.settings): unknown keys, wrong types
    and bad quarter ranges are refused with one line."""
    from pv.settings import RunSettings

    return RunSettings.parse(conf).as_dict()


def home_of(settings: dict) -> Home:
    """The store a run's settings name (``home``; default $PV_HOME)."""
    return Home.at(settings.get("home"))


def _fail_on(errors: list[PvError]) -> None:
    """A stage fails as a whole (after doing every item it could) when any item failed."""
    if errors:
        raise PvError("; ".join(str(e) for e in errors))


@logged
def fetch_stage(home: Home, quarters: str, base_url: str | None = None) -> list[Path]:
    """Download FDA's zips for ``quarters`` into raw/ (present ones are skipped); return those zips."""
    from pv.faers.fetch import FDA_BASE_URL, fetch

    report = fetch(home, quarters, base_url or FDA_BASE_URL)
    _fail_on(report.errors)
    return report.paths


def published_quarters(today: date | None = None) -> str:
    """Every quarter FDA has published by ``today``: 2004Q1 up to the last quarter that
    ended at least 60 days ago (FDA posts a quarter one to two months after it ends)."""
    day = (today or date.today()) - timedelta(days=60)
    year, ended = day.year, (day.month - 1) // 3  # quarters of that year fully over
    if ended == 0:
        year, ended = year - 1, 4
    return f"2004Q1..{year}Q{ended}"


def extracts_stage(home: Home, paths: Sequence[str | os.PathLike] = (), quarters: str | None = None,
                   base_url: str | None = None) -> list[str]:
    """The extracts to ingest: ``paths`` when given, else the inbox ``$PV_INBOX`` when it holds any
    (a deployment's mount for the user's own zips), else FDA's zips fetched into raw/."""
    if paths:
        return [str(p) for p in paths]
    inbox = Path(os.environ.get("PV_INBOX") or "/nonexistent")
    if inbox.is_dir() and any(p.suffix.lower() == ".zip" or p.is_dir() for p in inbox.iterdir()):
        return [str(inbox)]
    return [str(p) for p in fetch_stage(home, quarters or published_quarters(), base_url)]


def backfill_quarters(settings: dict) -> list[str]:
    """The quarters of a backfill's range, one per mapped task ('2004Q1', ...)."""
    from pv.faers.layouts import quarter_range

    return [f"{y}Q{q}" for y, q in quarter_range(settings["quarters"])]


_ZIP_QUARTER = re.compile(r"(?i)(?:^|[^0-9])(\d{4})q([1-4])\.zip$")


def quarter_extracts(home: Home, quarter: str, paths: Sequence[str | os.PathLike] = (),
                     base_url: str | None = None) -> list[str]:
    """One quarter's extracts for a backfill: FDA-named zips of that quarter among ``paths`` (or the
    inbox), by name, without reading the others; else that quarter downloaded into raw/."""
    sources = [Path(p) for p in paths] or [p for p in [Path(os.environ.get("PV_INBOX") or "/nonexistent")]
                                           if p.is_dir()]
    want = quarter.upper()
    found = []
    for src in sources:
        for z in ([src] if src.is_file() else sorted(src.rglob("*")) if src.is_dir() else []):
            m = _ZIP_QUARTER.search(z.name)
            if m and f"{m.group(1)}Q{m.group(2)}" == want:
                found.append(str(z))
    if found:
        return found
    if paths:
        raise PvError(f"{quarter}: no FDA-named extract (e.g. faers_ascii_{quarter}.zip) among {', '.join(map(str, paths))}")
    return [str(p) for p in fetch_stage(home, quarter, base_url)]


@logged
def ingest_stage(home: Home, paths: Sequence[str | os.PathLike]) -> dict:
    """Stage the extracts at ``paths``; any file that fails makes the stage fail (after the others)."""
    from pv.lake.ingest import ingest_paths

    report = ingest_paths(home, [Path(p) for p in paths])
    _fail_on(report.errors)
    return {"staged": report.staged, "unchanged": report.unchanged}


def quarter_batches(paths: Sequence[str | os.PathLike]) -> list[list[str]]:
    """The extracts at ``paths`` grouped by quarter, one mapped ingest each (zips by their FDA name,
    anything else by what it holds); a path that cannot be read goes alone, so its task fails alone."""
    from pv.faers.extract import discover

    batches: dict[str, list[str]] = {}
    for path in map(Path, paths):
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
        named = {z: _ZIP_QUARTER.search(z.name) for z in files if z.suffix.lower() == ".zip"}
        if named and all(named.values()) and not any(f.suffix.lower() == ".txt" for f in files):
            for z, m in named.items():
                batches.setdefault(f"{m.group(1)}Q{m.group(2)}", []).append(str(z))
            continue
        extracts, errors = discover([path])
        if errors:
            batches.setdefault(f"~{path}", []).append(str(path))
        for e in extracts:
            batches.setdefault(e.quarter, []).append(str(e.source))
    return [sorted(set(b)) for _, b in sorted(batches.items())]


@logged
def fit_prior_stage(home: Home, drugs: Sequence[str] | None = None) -> str:
    """Signals, first piece: the GPS prior and the plan of the pieces (pv.signals.tasks); return the run id."""
    from pv.signals.tasks import fit_prior

    return fit_prior(home, list(drugs) if drugs else None)


def signal_pieces(home: Home, run: str) -> list[tuple[str, int]]:
    """(level, chunk) of every piece of a signals run, one mapped task each."""
    from pv.signals.tasks import pieces

    return pieces(home, run)


@logged
def signal_chunk_stage(home: Home, run: str, level: str, chunk: int) -> dict:
    """Signals, one piece: one level for one chunk of drugs; return the rows it measured."""
    from pv.signals.tasks import signal_chunk

    return signal_chunk(home, run, level, chunk)


@logged
def merge_signals_stage(home: Home, run: str) -> Path:
    """Signals, last piece: the pieces into signals/<run>/; return the run folder."""
    from pv.signals.tasks import merge_signals

    return merge_signals(home, run)


def changes_since_last_run(home: Home, drugs: Sequence[str] | None = None) -> list[str]:
    """Why a new signal run is needed, or [] when the latest run already reflects the store: the
    quarters staged and their sources, the cases files the run read, and the drugs asked for."""
    import json

    from pv.lake.ingest import committed_sources
    from pv.signals.faers import watchlist_drugs
    from pv.signals.provenance import file_fingerprint
    from pv.signals.summary import latest_run

    run = latest_run(home)
    if run is None:
        return ["no signal run yet"]
    built = home.cases / "build.json"
    if not built.is_file():
        return ["no cases built yet"]
    reasons = []
    was, now = json.loads(built.read_text()).get("sources"), committed_sources(home)
    if was != now:
        changed = sorted(q for q in set(now) | set(was or {}) if (was or {}).get(q) != now.get(q))
        reasons.append("staged quarters changed since cases were built: " + (", ".join(changed) or "unknown"))
    meta = json.loads((run / "run.json").read_text())
    for rec in meta.get("inputs", []):
        recorded = Path(rec["path"])  # cases/<file> or cases/history/<file>, wherever the store now is
        rel = recorded.relative_to(home.cases) if recorded.is_relative_to(home.cases) else (
            Path(*recorded.parts[-2:]) if recorded.parent.name == "history" else Path(recorded.name))
        path = home.cases / rel
        if not path.exists() or file_fingerprint(path)["sha256"] != rec["sha256"]:
            reasons.append(f"{rel} changed since run {run.name}")
    wanted = sorted(d.lower() for d in (drugs or watchlist_drugs()))
    if wanted != sorted(meta.get("drugs", {}).get("requested", [])):
        reasons.append(f"the drugs asked for ({', '.join(wanted)}) differ from run {run.name}'s")
    return reasons


def needs_run(home: Home, drugs: Sequence[str] | None = None, say: Callable[[str], None] = print) -> bool:
    """The nightly gate: True (and why) when the store changed since the latest run, else False and
    a line saying that nothing is new, so the run stops after a status check."""
    reasons = changes_since_last_run(home, drugs)
    say("new work: " + "; ".join(reasons) if reasons else
        f"nothing new since the latest signal run ({home.root}): no quarter arrived and no input changed")
    return bool(reasons)


@logged
def cases_stage(home: Home) -> dict:
    """Build cases/ from every staged quarter; return the funnel totals."""
    from pv.cases.build import build_cases

    funnel = build_cases(home)
    return {row["stage"]: row["count"] for row in funnel.filter(funnel["quarter"] == "total").iter_rows(named=True)}


@logged
def signals_stage(home: Home, drugs: Sequence[str] | None = None) -> Path:
    """Compute the signal table for the watchlist (or ``drugs``); return the run folder."""
    from pv.signals.run import SignalOptions, run_signals

    return run_signals(home, SignalOptions(drugs=list(drugs) if drugs else None))


@logged
def mechanism_stage(home: Home, run: str | os.PathLike | None = None, drugs: Sequence[str] | None = None) -> Path:
    """Receptor-density annotation and hypothesis test on a signals run; return its folder."""
    from pv.mechanism.stage import run_mechanism

    return run_mechanism(home, list(drugs) if drugs else None, run=Path(run) if run else None)


def report_drugs(drugs: Sequence[str] | None = None) -> list[str]:
    """The drugs a pipeline run reports on: the given ones, else the watchlist's target drugs."""
    if drugs:
        return [d.lower() for d in drugs]
    from pv.vocab.lookups import load_watchlist

    watch = load_watchlist().frame
    return watch.filter(watch["role"] == "target")["drug"].to_list() or watch["drug"].head(1).to_list()


@logged
def report_stage(home: Home, run: str | os.PathLike | None = None, drugs: Sequence[str] | None = None) -> Path:
    """Regulator reports (PDF, XLSX, CSV) for ``drugs`` (default: the watchlist's targets) from a
    signals run (default: the newest); return the reports folder."""
    from pv.reports.build import write_report

    written = {}
    for drug in report_drugs(drugs):
        written.update({f"{drug}.{k}": v for k, v in write_report(home, drug, run=str(run) if run else None).items()})
    return next(iter(written.values())).parent


@logged
def publish_stage(home: Home) -> Path:
    """Write the dashboards (static HTML, no network) for the latest run to site/; return it."""
    from dashboards.publish import publish

    return publish(home)


def site_drugs(home: Home, run: str | os.PathLike) -> list[str]:
    """The drugs a signals run's site has a page for: one mapped publish_drug task each."""
    from dashboards.inputs import page_drugs

    return page_drugs(home.signals / run)  # an absolute run path stays as it is


@logged
def publish_drug_stage(home: Home, drug: str) -> dict:
    """One drug's part of the next publish (dashboards.publish.publish_drug), for a mapped task."""
    from dashboards.publish import publish_drug

    return publish_drug(home, drug)


@logged
def prune_stage(home: Home) -> dict:
    """Retention after a run (pv.retention): remove the runs it does not keep; say which."""
    from pv.retention import prune

    report = prune(home)
    return {"removed": report.removed, "kept": sorted(report.kept)}


@dataclass
class RunResult:
    steps: dict[str, object] = field(default_factory=dict)


def summary_lines(result: RunResult, drug: str = "baclofen") -> list[str]:
    """What a run produced, for a person: the funnel, the drug's group-level signals, where files are."""
    import polars as pl

    from pv.signals.summary import FLAGS

    lines = []
    if empty := result.steps.get("empty"):
        lines.append(f"signals: {empty}")
    if funnel := result.steps.get("cases"):
        lines.append("cases: " + " -> ".join(f"{k} {v:,}" for k, v in funnel.items()))
    if run_dir := result.steps.get("signals"):
        table = pl.read_parquet(Path(run_dir) / "signals.parquet").filter(
            (pl.col("drug") == drug) & (pl.col("level") == "group") & (pl.col("subset") == "all"))
        if table.height:
            lines.append(f"{drug}, event groups (all reports): a, PRR, ROR lower 95%, IC025, EB05, flags")
            for r in table.sort("event").iter_rows(named=True):
                flags = ",".join(n for n in FLAGS if r.get(f"flag_{n}")) or "-"
                eb05 = "n/a" if r["eb05"] is None else f"{r['eb05']:.2f}"
                lines.append(f"  {r['event']:<22} a={r['a']:<5} PRR {r['prr']:.2f}  ROR025 {r['ror_lo']:.2f}  "
                             f"IC025 {r['ic025']:.2f}  EB05 {eb05}  [{flags}]")
        lines.append(f"signal table: {Path(run_dir) / 'signals.parquet'} (provenance: run.json)")
    if mech := result.steps.get("mechanism"):
        lines.append(f"receptor-density test and statement: {Path(mech) / 'statement.md'}")
    if site := result.steps.get("publish"):
        lines.append(f"dashboards: {Path(site) / 'index.html'} (open from disk)")
    if reports := result.steps.get("report"):
        lines.append(f"regulator reports (PDF, XLSX, CSV): {reports}")
    return lines


def _nothing_to_report(result: RunResult, say: Callable[[str], None]) -> bool:
    """A signals run in which no watched drug occurs: mechanism and report are skipped, saying why
    (publish writes a page that says it too)."""
    from pv.signals.summary import empty_reason

    reason = empty_reason(Path(result.steps["signals"]))
    if reason:
        result.steps["empty"] = reason
        say(f"mechanism, report: skipped ({reason})")
    return bool(reason)


@holds_store_lock
def run(home: Home, paths: Sequence[str | os.PathLike] = (), drugs: Sequence[str] | None = None,
        say: Callable[[str], None] = lambda _msg: None) -> RunResult:
    """ingest (when ``paths`` are given) -> cases -> signals -> mechanism -> report -> publish.

    A failed mechanism stage does not hold back the report and the dashboards (they say its
    section is missing); the run then ends with that stage's error, after them."""
    result = RunResult()
    if paths:
        say(f"ingest: {len(paths)} path(s)")
        result.steps["ingest"] = ingest_stage(home, paths)
    say("cases: deduplicating and standardising")
    result.steps["cases"] = cases_stage(home)
    say("signals: PRR, ROR, IC, EBGM for the watchlist")
    result.steps["signals"] = signals_stage(home, drugs)
    if _nothing_to_report(result, say):
        result.steps["publish"] = publish_stage(home)
        return result
    say("mechanism: receptor-density annotation and hypothesis test")
    failed = None
    try:
        result.steps["mechanism"] = mechanism_stage(home, result.steps["signals"], drugs)
    except PvError as err:
        failed = PvError(f"mechanism: {err} (the report and the dashboards were written without it)")
        say(f"mechanism failed: {err}; going on with the report and the dashboards")
    say("report: regulator report (PDF, XLSX, CSV) for " + ", ".join(report_drugs(drugs)))
    result.steps["report"] = report_stage(home, result.steps["signals"], drugs)
    say("publish: dashboards to site/ (linking the reports)")
    result.steps["publish"] = publish_stage(home)
    if failed:
        raise failed
    return result


@holds_store_lock
def demo(home: Home, say: Callable[[str], None] = lambda _msg: None) -> RunResult:
    """The embedded default: simulate FAERS extracts, then run the whole pipeline on them.

    Refuses a store that already holds FDA quarters (or quarters of unrecorded origin): simulated cases
    must never mix into real ones."""
    from pv.lake.status import data_origin

    origin = data_origin(home)
    if origin.fda or origin.unknown:
        held = origin.fda or origin.unknown
        what = "FDA quarters" if origin.fda else "quarters of unrecorded origin"
        raise PvError(f"{home.root}: holds {what} ({held[0]}..{held[-1]}); "
                      "run the demo with another --home (its data is simulated)")
    say(f"simulate: {DEMO_QUARTERS}, {DEMO_REPORTS_PER_QUARTER} reports per quarter (SIMULATED data)")
    sim = simulate_stage(home)
    result = run(home, [sim], say=say)
    result.steps = {"simulate": sim, **result.steps}
    return result
