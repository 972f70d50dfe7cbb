"""The mechanism stage: read a signals run (and cases/) from the store, write the outputs.

Reads only other stages' files: ``signals/<run_id>/signals.parquet`` and ``cases/``. Its
domain-level rows (level = domain) come from the signal engine; for watchlist drugs the run
has no domain rows for (or when there is no signals run yet), they are computed from
``cases/`` with the engine's public functions (pv/mechanism/domain_signals.py) and the
statement says so. Writes ``mechanism/<run_id>/`` (``mechanism/cases-only/`` without a
signals run) atomically as one folder, so a re-run replaces it whole:
- ``annotated_signals.parquet``: every signal row with its receptor-map annotation;
- ``reaction_pts.parquet`` (when cases/ exists): every distinct reported PT with its report
  count and annotation (``mechanism_status`` says "no mapping" for PTs outside the map);
- ``domains.parquet``: domain-level strengths with density rank (the test's input);
- ``hypothesis.parquet`` / ``hypothesis.csv``: the density test, one row per drug x measure;
- ``statement.md``: the plain-language statement;
- ``dose_response.parquet`` / ``dose_trends.parquet`` (when cases/ exists): domain (and
  Tinnitus) signal rows per daily-dose band and the trend test, for the hypothesis drug(s)
  only: the bands are baclofen's mg/day bands and mean nothing for other drugs.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pv.atomic import atomic_dir
from pv.lake.lock import holds_store_lock
from pv.config import Home
from pv.errors import PvError
from pv.mechanism.annotate import annotate_reported_pts, annotate_signals
from pv.mechanism.domain_signals import SOURCE as FALLBACK_SOURCE
from pv.mechanism.domain_signals import domain_signal_rows
from pv.mechanism.dose_response import band_counts, band_rows_from_signals, band_signals, dose_statement, trends
from pv.mechanism.hypothesis import density_test, domain_strengths, statement
from pv.signals.summary import latest_run
from pv.vocab.lookups import load_watchlist
from pv.vocab.receptors import load_mechanism_roles, load_receptor_map

NEEDED = {"drug", "event", "level", "subset", "a", "expected", "ebgm", "eb05", "eb95", "ic", "ic025", "ic975"}
CASES_ONLY = "cases-only"


def mechanism_dir(home: Home, run_id: str) -> Path:
    return home.root / "mechanism" / run_id


def read_signals(run: Path) -> pl.DataFrame:
    path = run / "signals.parquet"
    try:
        signals = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as err:
        raise PvError(f"{path}: cannot read signal table ({str(err).splitlines()[0]})") from err
    missing = NEEDED - set(signals.columns)
    if missing:
        raise PvError(f"{path}: signal table lacks columns {', '.join(sorted(missing))}")
    return signals


def hypothesis_drugs() -> list[str]:
    return load_mechanism_roles().filter(pl.col("role") == "hypothesis")["drug"].to_list()


def dose_rows(home: Home, signals: pl.DataFrame | None, drugs: list[str], have_cases: bool) -> tuple[pl.DataFrame | None, list[str]]:
    """Dose-band rows per drug (the signal run's dose_band subsets, else counted from cases/), and their sources."""
    parts, sources = [], []
    for drug in drugs:
        from_run = None if signals is None else band_rows_from_signals(signals, drug)
        if from_run is not None and from_run.filter(pl.col("level") == "domain").height:
            parts.append(from_run)
            sources.append(f"{drug}: the signal run's dose_band subsets")
        elif have_cases:
            parts.append(band_signals(band_counts(home, drug)))
            sources.append(f"{drug}: counted from cases/ by pv.mechanism.dose_response")
    return (pl.concat(parts, how="diagonal_relaxed") if parts else None), sources


@holds_store_lock
def run_mechanism(home: Home, drugs: list[str] | None = None, run: Path | None = None, seed: int = 20261129) -> Path:
    """Annotate a signals run and test density vs strength for ``drugs`` (default: the watchlist)."""
    run = latest_run(home, need=()) if run is None else Path(run)  # any run with a signal table
    have_cases = (home.cases / "drugs.parquet").is_file()
    if run is None and not have_cases:
        raise PvError(f"{home.root}: no signals run and no cases/ (run `pvmon cases` and `pvmon signals` first)")
    signals = read_signals(run) if run is not None else None
    with_domains = set() if signals is None else set(signals.filter(pl.col("level") == "domain")["drug"].unique())
    explicit = drugs is not None
    drugs = [d.lower() for d in (drugs if explicit else load_watchlist().frame["drug"].to_list())]
    lacking = [d for d in drugs if d not in with_domains]
    rmap = load_receptor_map()
    sources = [f"signal engine run {run.name}"] if with_domains & set(drugs) else []
    domain_rows = [] if signals is None else [signals.filter(pl.col("level") == "domain", pl.col("drug").is_in(drugs))]
    if lacking and have_cases:
        computed = domain_signal_rows(home, lacking, rmap)
        if computed.height:
            domain_rows.append(computed.select(domain_rows[0].columns) if domain_rows else computed)
            sources.append(f"{', '.join(sorted(computed['drug'].unique()))}: {FALLBACK_SOURCE}")
    tested = pl.concat(domain_rows, how="vertical_relaxed") if domain_rows else None
    if tested is None or tested.height == 0:
        raise PvError(f"{home.root}: no domain-level signal rows for {', '.join(drugs) or 'the watchlist'}")
    if not explicit:  # watchlist drugs without any domain row are simply not tested
        drugs = [d for d in drugs if d in set(tested["drug"].unique())]
    table = density_test(tested, drugs, rmap, seed=seed)
    dose, dose_sources = dose_rows(home, signals, [d for d in hypothesis_drugs() if d in drugs], have_cases)
    out = mechanism_dir(home, CASES_ONLY if run is None else run.name)
    with atomic_dir(out) as tmp:
        if signals is not None:
            annotate_signals(signals, rmap).write_parquet(tmp / "annotated_signals.parquet")
        if have_cases:
            annotate_reported_pts(pl.scan_parquet(home.cases / "reactions.parquet"), rmap).write_parquet(
                tmp / "reaction_pts.parquet")
        domain_strengths(tested, rmap).filter(pl.col("drug").is_in(drugs)).write_parquet(tmp / "domains.parquet")
        table.write_parquet(tmp / "hypothesis.parquet")
        table.write_csv(tmp / "hypothesis.csv")
        text = statement(table) + "\nDomain-level signal rows: " + "; ".join(sources) + ".\n"
        if dose is not None and dose.height:
            dose.write_parquet(tmp / "dose_response.parquet")
            trend = trends(dose)
            trend.write_parquet(tmp / "dose_trends.parquet")
            text += dose_statement(trend) + "Dose-band rows: " + "; ".join(dose_sources) + ".\n"
        (tmp / "statement.md").write_text(text, encoding="utf-8")
    return out
