"""The density test (issue 14) on PT-level signal tables built from planted counts.

Calibration (small-count versions here; bench/bench_mechanism_calibration.py runs many seeds):
with no ordering planted the primary test's false-positive rate is at most alpha; with a planted
slope its detection rate matches the power the tool prints; an ordering planted in a negative
control is never reported as support.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest

from mechanism_fixtures import LOWEST, pt_rows, signal_table
from pv.mechanism.hypothesis import RULES, conclusion, density_test, domain_strengths, domain_values, pt_strengths
from pv.mechanism.permutation import SlopeTest
from pv.mechanism.power import critical_slopes, power_at, power_summary
from pv.mechanism.statement import statement
from pv.vocab.receptors import load_mechanism_plan

PLAN = load_mechanism_plan()
RANKS = {d: float(r) for d, r in LOWEST.items() if r is not None}


@pytest.fixture(scope="module")
def table():
    return density_test(signal_table())


def _primary_p(signals: pl.DataFrame) -> float:
    """The primary test alone (baclofen, lowest rule), as density_test computes it."""
    values = domain_values(pt_strengths(signals)).filter(pl.col("domain").is_in(list(RANKS))).sort("domain")
    return SlopeTest(np.array([RANKS[d] for d in values["domain"]])).p_greater(values["ic"].to_numpy())


def test_every_interval_holds_its_estimate_and_p_q_are_probabilities(table):
    tested = table.filter(pl.col("p").is_not_null())
    assert tested.height == table.height == 3 * 4 + 3  # 3 drugs x 4 rules, 2 contrasts + the pooled one
    for r in tested.iter_rows(named=True):
        assert 0 <= r["p"] <= 1 and 0 <= r["q_bh"] <= 1 and r["q_bh"] >= r["p"], r
        if r["ci_lo"] is not None:
            assert r["ci_lo"] <= r["slope"] <= r["ci_hi"], r
    # the tier rule has 7 "high" domains and 1 "medium": p can never go below 1/8, so no interval
    tier = table.filter((pl.col("drug") == "baclofen") & (pl.col("rule") == "tier")).row(0, named=True)
    assert tier["p_min"] == 0.125 and tier["ci_lo"] is None and tier["verdict"].startswith("cannot reach p < 0.05")
    domains = domain_strengths(signal_table())
    assert (domains["ic_lo"] <= domains["ic"]).all() and (domains["ic"] <= domains["ic_hi"]).all()


def test_planted_slope_recovered_and_conclusion_consistent(table):
    primary = table.filter(pl.col("family") == "primary").row(0, named=True)
    assert (primary["drug"], primary["rule"], primary["n_domains"]) == ("baclofen", "lowest", 8)
    assert primary["n_pts"] == 52 and primary["permutation"].startswith("exact (40320")
    assert primary["p"] < 0.05 and primary["ci_lo"] < 0.8 < primary["ci_hi"]
    assert sorted(table.filter(pl.col("drug") == "baclofen", pl.col("family") != "contrast")["rule"]) == sorted(RULES)
    decision = conclusion(table, PLAN)
    assert decision["key"] == "consistent with the explanation", decision
    text = statement(table, decision, None, PLAN)
    assert "consistent with the explanation" in text and "Rank rules side by side" in text
    assert "negative controls (pooled)" in text and "hypothesis-generating" in text


def test_p_value_is_the_share_of_rank_assignments_by_brute_force():
    signals = signal_table(seed=3)
    values = domain_values(pt_strengths(signals)).filter(
        pl.col("drug") == "baclofen", pl.col("domain").is_in(list(RANKS))).sort("domain")
    x = np.array([RANKS[d] for d in values["domain"]])
    y = values["ic"].to_numpy()
    slope = np.polyfit(x, y, 1)[0]
    perms = [np.polyfit(np.array(p), y, 1)[0] for p in itertools.permutations(x)]
    expected = sum(s >= slope - 1e-9 for s in perms) / math.factorial(8)
    row = density_test(signals).filter(pl.col("family") == "primary").row(0, named=True)
    assert math.isclose(row["slope"], slope, rel_tol=1e-9) and math.isclose(row["p"], expected, rel_tol=1e-12)


def test_ordering_planted_in_a_negative_control_is_not_support():
    signals = signal_table(seed=5, slope=0.8, control_slope=0.8)
    table = density_test(signals)
    nal = table.filter((pl.col("drug") == "naltrexone") & (pl.col("rule") == "lowest")).row(0, named=True)
    assert nal["p"] < 0.05
    decision = conclusion(table, PLAN)
    assert decision["key"] == "ordering not specific" and "naltrexone" in decision["ordered_negatives"]
    assert "consistent with the explanation" not in statement(table, decision, None, PLAN)
    # and an ordering in the control alone, none in baclofen: no support either
    table = density_test(signal_table(seed=6, slope=0.0, control_slope=0.8))
    assert conclusion(table, PLAN)["key"] in ("no ordering shown", "ordering not specific")


def test_false_positive_rate_without_ordering_is_at_most_alpha():
    seeds = range(100)
    hits = sum(_primary_p(pt_rows("baclofen", 0.0, seed, tau=0.3)) < 0.05 for seed in seeds)
    assert hits / len(seeds) <= 0.05, hits


def test_detection_rate_matches_printed_power():
    slope, seeds = 0.35, range(60)
    detected, printed = [], []
    for seed in seeds:
        signals = pt_rows("baclofen", slope, 500 + seed, tau=0.3)
        detected.append(_primary_p(signals) < 0.05)
        critical, _ = critical_slopes(pt_strengths(signals), RANKS, 0.05, seed=seed, replicates=300)
        printed.append(power_at(critical, slope))
    rate, mean_power = np.mean(detected), np.mean(printed)
    # binomial error of a 60-seed rate: 3 standard errors
    assert abs(rate - mean_power) <= 3 * math.sqrt(mean_power * (1 - mean_power) / len(seeds)), (rate, mean_power)
    assert 0.15 < mean_power < 0.95  # the check is informative: neither trivially 0 nor 1


def test_critical_slopes_are_exact_thresholds():
    test = SlopeTest(np.array([4, 3, 4, 3, 3, 3, 3, 2.0]))
    noise = np.random.default_rng(2).normal(0, 0.4, (6, 8))
    for z, crit in zip(noise, test.critical_slopes(noise, 0.05)):
        x = test.x
        assert test.p_greater(z + (crit + 1e-6) * x) < 0.05 <= test.p_greater(z + (crit - 1e-6) * x)
    summary = power_summary(test.critical_slopes(noise, 0.05), 0.8, observed=0.5)
    assert summary["mds"] is not None and 0 <= summary["power_at_observed"] <= 1
