"""The mechanism stage: read a signals run from the store, write the mechanism outputs.

Reads only the signal stage's files (``signals/<run_id>/signals.parquet``) and writes
``mechanism/<run_id>/`` atomically as one folder, so a re-run replaces it whole:
- ``annotated_signals.parquet``: every signal row with its receptor-map annotation;
- ``domains.parquet``: domain-level strengths with density rank (the test's input);
- ``hypothesis.parquet`` / ``hypothesis.csv``: the density test, one row per drug x measure;
- ``statement.md``: the plain-language statement;
- ``dose_response.parquet`` / ``dose_trends.parquet`` (when cases/ exists): domain (and
  Tinnitus) counts per daily-dose band and the trend test, for the hypothesis drug(s) only:
  the bands are baclofen's mg/day bands and mean nothing for other drugs.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pv.atomic import atomic_dir
from pv.config import Home
from pv.errors import PvError
from pv.mechanism.annotate import annotate_signals
from pv.mechanism.dose_response import band_counts, dose_statement, trends
from pv.mechanism.hypothesis import density_test, domain_strengths, statement
from pv.vocab.lookups import load_watchlist
from pv.vocab.receptors import load_mechanism_roles, load_receptor_map


def latest_signals_run(home: Home) -> Path:
    """The newest ``signals/<run_id>/`` holding a signals.parquet (by file modification time)."""
    runs = sorted(home.signals.glob("*/signals.parquet"), key=lambda p: (p.stat().st_mtime, p.parent.name))
    if not runs:
        raise PvError(f"{home.signals}: no signals run found (run `pvmon signals` first)")
    return runs[-1].parent


def mechanism_dir(home: Home, run_id: str) -> Path:
    return home.root / "mechanism" / run_id


def run_mechanism(home: Home, drugs: list[str] | None = None, run: Path | None = None, seed: int = 20261129) -> Path:
    """Annotate a signals run and test density vs strength for ``drugs`` (default: the watchlist)."""
    run = latest_signals_run(home) if run is None else Path(run)
    path = run / "signals.parquet"
    try:
        signals = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as err:
        raise PvError(f"{path}: cannot read signal table ({str(err).splitlines()[0]})") from err
    missing = {"drug", "event", "level", "subset", "a", "expected", "ebgm", "eb05", "eb95", "ic", "ic025", "ic975"} - set(signals.columns)
    if missing:
        raise PvError(f"{path}: signal table lacks columns {', '.join(sorted(missing))}")
    rmap = load_receptor_map()
    with_domains = set(signals.filter(pl.col("level") == "domain")["drug"].unique().to_list())
    if drugs is None:  # the watchlist (seeds/watchlist.csv) drugs that have domain-level rows
        drugs = [d for d in load_watchlist().frame["drug"].to_list() if d in with_domains]
    drugs = [d.lower() for d in drugs]
    if not drugs or not set(drugs) & with_domains:
        raise PvError(f"{path}: no domain-level rows (level = domain) for {', '.join(drugs) or 'the watchlist'}")
    table = density_test(signals, drugs, rmap, seed=seed)
    dose = None
    if (home.cases / "drugs.parquet").is_file():
        hypothesis_drugs = load_mechanism_roles().filter(pl.col("role") == "hypothesis")["drug"].to_list()
        dose = pl.concat([band_counts(home.cases, d) for d in hypothesis_drugs if d in drugs] or [pl.DataFrame()], how="diagonal")
    out = mechanism_dir(home, run.name)
    with atomic_dir(out) as tmp:
        annotate_signals(signals, rmap).write_parquet(tmp / "annotated_signals.parquet")
        domain_strengths(signals, rmap).filter(pl.col("drug").is_in(drugs)).write_parquet(tmp / "domains.parquet")
        table.write_parquet(tmp / "hypothesis.parquet")
        table.write_csv(tmp / "hypothesis.csv")
        text = statement(table)
        if dose is not None and dose.height:
            dose.write_parquet(tmp / "dose_response.parquet")
            trend = trends(dose)
            trend.write_parquet(tmp / "dose_trends.parquet")
            text += dose_statement(trend)
        (tmp / "statement.md").write_text(text, encoding="utf-8")
    return out
