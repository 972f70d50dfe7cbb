"""The mechanism stage: read a signals run (and cases/) from the store, write the outputs.

Reads only other stages' files: ``signals/<run_id>/signals.parquet`` and ``cases/``. The density
test's input is the engine's PT-level rows (level = pt, all reports); for watchlist drugs the run
has no PT rows for (or when there is no signals run yet), they are computed from ``cases/`` with
the engine's public functions (pv/mechanism/domain_signals.py) and the statement says so. Writes
``mechanism/<run_id>/`` (``mechanism/cases-only/`` without a signals run) atomically as one
folder, so a re-run replaces it whole:
- ``annotated_signals.parquet``: every signal row with its receptor-map annotation;
- ``reaction_pts.parquet`` (when cases/ exists): every distinct reported PT with its report
  count and annotation (``mechanism_status`` says "no mapping" for PTs outside the map);
- ``pt_strengths.parquet``: the test's input, per drug x map PT (a, E, IC);
- ``domains.parquet``: per drug x ranked domain, the pooled IC with its interval and every rule's rank;
- ``hypothesis.parquet`` / ``hypothesis.csv``: every test (primary, rank rules, drugs, contrasts),
  the primary row carrying the conclusion and the power figure;
- ``power.parquet``: power of the primary test against the true slope (the page's curve);
- ``statement.md``: the plain-language statement;
- ``dose_response.parquet`` / ``dose_trends.parquet`` (when cases/ exists): oral mg/day bands
  of the hypothesis drug(s) and the exact trend tests (pv/mechanism/dose_response.py).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pv.atomic import atomic_dir
from pv.lake.lock import holds_store_lock
from pv.config import Home
from pv.errors import PvError
from pv.inert import write_csv
from pv.mechanism.annotate import annotate_reported_pts, annotate_signals
from pv.mechanism.domain_signals import SOURCE as FALLBACK_SOURCE
from pv.mechanism.domain_signals import pt_signal_rows
from pv.mechanism.dose_response import dose_outputs
from pv.mechanism.hypothesis import OVERALL_SUBSETS, conclusion, density_test, domain_ranks, domain_strengths, pt_strengths
from pv.mechanism.power import density_power
from pv.mechanism.statement import statement
from pv.signals.summary import latest_run
from pv.vocab.lookups import load_watchlist
from pv.vocab.receptors import load_mechanism_plan, load_mechanism_roles, load_receptor_map
from pv.cases import tables

NEEDED = {"drug", "event", "level", "subset", "a", "b", "c", "d", "expected"}
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


def with_power(table: pl.DataFrame, pts: pl.DataFrame, plan: dict, rmap: pl.DataFrame, seed: int) -> tuple[pl.DataFrame, dict | None, pl.DataFrame | None]:
    """The primary row gets the power figure (smallest slope detected with the plan's power)."""
    primary = table.filter(pl.col("family") == "primary")
    if primary.height == 0 or primary["p"][0] is None:
        return table, None, None
    ranks = domain_ranks(rmap=rmap)
    rule = plan["primary_rank_rule"]["value"]
    mine = pts.filter(pl.col("drug") == plan["primary_drug"]["value"])
    figure = density_power(mine, dict(zip(ranks["domain"], ranks[rule])), float(plan["alpha"]["value"]), seed)
    power = figure.summary(float(plan["power"]["value"]), primary["slope"][0])
    top = max(power["mds"] or 0.0, abs(primary["slope"][0]), 0.1) * 1.5
    is_primary = pl.col("family") == "primary"
    table = table.with_columns(
        pl.when(is_primary).then(pl.lit(power["mds"], dtype=pl.Float64)).alias("mds80"),
        pl.when(is_primary).then(pl.lit(power["mds_ratio"], dtype=pl.Float64)).alias("mds80_ratio"),
        pl.when(is_primary).then(pl.lit(power["power_at_observed"])).alias("power_at_observed"),
    )
    return table, power, figure.curve(top)


@holds_store_lock
def run_mechanism(home: Home, drugs: list[str] | None = None, run: Path | None = None, seed: int = 20261129) -> Path:
    """Annotate a signals run and run the density test for ``drugs`` (default: the watchlist).

    ``seed`` seeds the power figure's bootstrap and the dose trends' Monte-Carlo draws (the density
    test itself is exact for up to 8 domains, seeded Monte-Carlo beyond).
    """
    run = latest_run(home, need=()) if run is None else Path(run)  # any run with a signal table
    have_cases = tables.exists(home.cases, "drugs")
    if run is None and not have_cases:
        raise PvError(f"{home.root}: no signals run and no cases/ (run `pvmon cases` and `pvmon signals` first)")
    signals = read_signals(run) if run is not None else None
    overall_pt = (None if signals is None else signals.filter(
        (pl.col("level") == "pt") & (pl.col("subset").is_null() | pl.col("subset").is_in(OVERALL_SUBSETS))))
    with_pts = set() if overall_pt is None else set(overall_pt["drug"].unique())
    explicit = drugs is not None
    drugs = [d.lower() for d in (drugs if explicit else load_watchlist().frame["drug"].to_list())]
    lacking = [d for d in drugs if d not in with_pts]
    rmap = load_receptor_map()
    plan = load_mechanism_plan()
    sources = [f"signal engine run {run.name}"] if with_pts & set(drugs) else []
    pt_rows = [] if overall_pt is None else [overall_pt.filter(pl.col("drug").is_in(drugs))]
    if lacking and have_cases:
        computed = pt_signal_rows(home, lacking, rmap)
        if computed.height:
            pt_rows.append(computed.select(pt_rows[0].columns) if pt_rows else computed)
            sources.append(f"{', '.join(sorted(computed['drug'].unique()))}: {FALLBACK_SOURCE}")
    tested = pl.concat(pt_rows, how="vertical_relaxed") if pt_rows else None
    if tested is None or tested.height == 0:
        raise PvError(f"{home.root}: no PT-level signal rows for {', '.join(drugs) or 'the watchlist'}")
    if not explicit:  # watchlist drugs without any PT row are simply not tested
        drugs = [d for d in drugs if d in set(tested["drug"].unique())]
    pts = pt_strengths(tested, rmap).filter(pl.col("drug").is_in(drugs))
    table = density_test(tested, drugs, rmap, plan=plan)
    table, power, curve = with_power(table, pts, plan, rmap, seed)
    decision = conclusion(table, plan)
    table = table.with_columns(pl.when(pl.col("family") == "primary").then(pl.lit(decision["key"])).alias("conclusion"))
    dose = dose_outputs(home, [d for d in hypothesis_drugs() if d in drugs], seed) if have_cases else None
    out = mechanism_dir(home, CASES_ONLY if run is None else run.name)
    with atomic_dir(out) as tmp:
        if signals is not None:
            annotate_signals(signals, rmap).write_parquet(tmp / "annotated_signals.parquet")
        if have_cases:
            annotate_reported_pts(tables.scan(home.cases, "reactions"), rmap).write_parquet(
                tmp / "reaction_pts.parquet")
        pts.write_parquet(tmp / "pt_strengths.parquet")
        domain_strengths(tested, rmap).filter(pl.col("drug").is_in(drugs)).write_parquet(tmp / "domains.parquet")
        table.write_parquet(tmp / "hypothesis.parquet")
        write_csv(table, tmp / "hypothesis.csv")
        if curve is not None:
            curve.write_parquet(tmp / "power.parquet")
        text = statement(table, decision, power, plan) + "\nPT-level signal rows: " + "; ".join(sources) + ".\n"
        if dose is not None:
            bands, trend, dose_text = dose
            bands.write_parquet(tmp / "dose_response.parquet")
            trend.write_parquet(tmp / "dose_trends.parquet")
            text += dose_text
        (tmp / "statement.md").write_text(text, encoding="utf-8")
    return out
