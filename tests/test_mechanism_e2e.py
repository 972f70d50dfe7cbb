"""Issue 14 end to end on simulated FAERS: simulate -> ingest -> cases -> signals -> mechanism.

The simulator plants a density ordering with a known slope (``PV_SIM_DENSITY_PLANT``,
pv/faers/simulate/world.py): in baclofen AND in the negative control naltrexone. The primary
test must find baclofen's ordering (the store is sized so the power the tool prints at that
slope is high), and the conclusion must not call it support for the explanation, because a
drug of another mechanism shows the same ordering.
"""

from __future__ import annotations

import polars as pl
import pytest

from pv.cases.build import build_cases
from pv.config import Home
from pv.faers.simulate import simulate
from pv.faers.simulate.world import PLANT_ENV
from pv.lake.ingest import ingest_paths
from pv.mechanism.stage import run_mechanism
from pv.signals.run import SignalOptions, run_signals

SLOPE = 2.0  # planted per rank step (log2 RR); large enough that one 15,000-report store detects it


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    sim = root / "sim"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(PLANT_ENV, f"baclofen:{SLOPE},naltrexone:{SLOPE}")
        simulate(sim, quarters="2023Q1..2023Q3", reports_per_quarter=5_000, seed=5)
    home = Home.at(root / "home")
    assert not ingest_paths(home, [sim]).errors
    build_cases(home)
    drugs = ["baclofen", "naltrexone", "acamprosate"]
    run = run_signals(home, SignalOptions(drugs=drugs))
    return sim, home, run_mechanism(home, drugs, run=run)


def test_planted_truth_carries_the_slope(pipeline):
    sim, _, _ = pipeline
    truth = pl.read_csv(sim / "ground_truth.csv", infer_schema=False).filter(
        (pl.col("kind") == "planted_signal") & (pl.col("subset").fill_null("") == "")
        & pl.col("event").is_in(["domain:sensory", "domain:memory_cognition"]))
    rr = {(r["drug"], r["event"]): float(r["value"]) for r in truth.iter_rows(named=True)}
    # "any PT of the domain" ratios rise with the planted rank (sensory 4 > memory 3) for both drugs
    for drug in ("baclofen", "naltrexone"):
        assert rr[(drug, "domain:sensory")] > rr[(drug, "domain:memory_cognition")] > 1


def test_ordering_found_but_not_reported_as_support(pipeline):
    _, _, out = pipeline
    table = pl.read_parquet(out / "hypothesis.parquet")
    primary = table.filter(pl.col("family") == "primary").row(0, named=True)
    assert primary["power_at_observed"] is not None and primary["mds80"] < SLOPE  # the store can see this slope
    assert primary["p"] < 0.05 and primary["ci_lo"] <= primary["slope"] <= primary["ci_hi"]
    nal = table.filter((pl.col("drug") == "naltrexone") & (pl.col("rule") == "lowest")).row(0, named=True)
    assert nal["role"] == "negative_control" and nal["slope"] > 0
    assert primary["conclusion"] == "ordering not specific"
    text = (out / "statement.md").read_text()
    assert "not reported as support" in text and "consistent with the explanation" not in text
    tested = table.filter(pl.col("p").is_not_null())
    assert ((tested["p"] >= 0) & (tested["p"] <= 1) & (tested["q_bh"] >= tested["p"]) & (tested["q_bh"] <= 1)).all()


INTERVALS = {"ci": "slope", "ic": "ic", "share": "share", "prr": "prr", "ror": "ror"}  # <base>_lo/_hi -> estimate
NAMED_INTERVALS = {("ic025", "ic975"): "ic", ("eb05", "eb95"): "ebgm"}
PROBABILITIES = ("p", "q_bh", "p_min", "p_trend", "power_at_observed", "power")


def test_every_interval_in_every_output_holds_its_estimate(pipeline):
    """Every parquet the stage writes: each interval contains its point estimate; p, q, power in [0, 1]; q >= p."""
    _, _, out = pipeline
    checked = set()
    for path in sorted(out.glob("*.parquet")):
        frame = pl.read_parquet(path)
        lows = [c for c in frame.columns if c.endswith("_lo")]
        assert all(c[:-3] in INTERVALS for c in lows), (path.name, lows)  # no interval escapes the check
        pairs = [(f"{b}_lo", f"{b}_hi", INTERVALS[b]) for b in (c[:-3] for c in lows)]
        pairs += [(lo, hi, est) for (lo, hi), est in NAMED_INTERVALS.items() if lo in frame.columns]
        for lo, hi, est in pairs:
            rows = frame.filter(pl.col(lo).is_not_null() & pl.col(est).is_not_null()
                                & pl.col(lo).is_finite() & pl.col(hi).is_finite())
            bad = rows.filter((pl.col(lo) > pl.col(est) + 1e-9) | (pl.col(est) > pl.col(hi) + 1e-9))
            assert rows.height and bad.height == 0, (path.name, est, bad.head(3))
            checked.add((path.name, est))
        for col in set(PROBABILITIES) & set(frame.columns):
            values = frame[col].drop_nulls()
            assert ((values >= 0) & (values <= 1)).all(), (path.name, col)
            checked.add((path.name, col))
        if "q_bh" in frame.columns:
            p = "p" if "p" in frame.columns else "p_trend"
            tested = frame.filter(pl.col(p).is_not_null())
            assert tested.height and (tested["q_bh"] >= tested[p] - 1e-12).all(), path.name
    assert {("hypothesis.parquet", "slope"), ("domains.parquet", "ic"), ("dose_response.parquet", "share"),
            ("annotated_signals.parquet", "ebgm"), ("dose_trends.parquet", "p_trend"),
            ("power.parquet", "power")} <= checked
    curve = pl.read_parquet(out / "power.parquet")["power"]
    assert (curve.diff().drop_nulls() >= 0).all()  # power never falls as the true slope rises


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(pl.all())


@pytest.mark.parametrize("roles,dedup", [("ps+ss", True), ("ps", True), ("any", False)])
def test_a_few_drugs_read_are_the_engines_rows_of_those_reports(pipeline, roles, dedup):
    """read_inputs(of_drugs=...) (semi-joined at each scan, read in batches) gives exactly the full read's
    rows of those drugs' reports; and nothing for a drug no case names."""
    from pv.mechanism.domain_signals import pt_signal_rows
    from pv.signals.faers import read_inputs

    _, home, _ = pipeline
    drugs = ["baclofen", "naltrexone"]
    mine = read_inputs(home, roles, dedup, strata=(), of_drugs=drugs)
    full = read_inputs(home, roles, dedup, strata=())
    ids = full.drugs.filter(pl.col("drug").is_in(drugs)).select("id").unique()
    assert mine.universe.height > 100 and mine.drugs["drug"].is_in(drugs).any()
    assert _sorted(mine.universe).equals(_sorted(full.universe.join(ids, on="id", how="semi")))
    assert _sorted(mine.drugs).equals(_sorted(full.drugs.join(ids, on="id", how="semi")))
    assert mine.events.keys() == full.events.keys()
    for level in full.events:
        assert _sorted(mine.events[level]).equals(_sorted(full.events[level].join(ids, on="id", how="semi"))), level
    assert read_inputs(home, roles, dedup, strata=(), of_drugs=["phenibut"]).universe.height == 0
    assert pt_signal_rows(home, ["phenibut"]).height == 0
    assert pt_signal_rows(home, ["Acamprosate"])["drug"].unique().to_list() == ["acamprosate"]
