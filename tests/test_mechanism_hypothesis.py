"""The density-vs-signal-strength test on a signal table built from planted counts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from mechanism_fixtures import ORDERED_RR, domain_rows, signal_table
from pv.mechanism.hypothesis import density_test, domain_strengths, statement


@pytest.fixture(scope="module")
def table():
    return density_test(signal_table())


def _row(table, drug, measure="log_ebgm"):
    return table.filter((pl.col("drug") == drug) & (pl.col("measure") == measure)).row(0, named=True)


def test_recovers_planted_density_order_and_none_for_other_mechanisms(table):
    for measure in ("log_ebgm", "ic", "log_eb05", "ic025"):
        bac = _row(table, "baclofen", measure)
        assert bac["rho"] > 0.5 and bac["p_perm"] < 0.05 and bac["ci_lo"] > 0, bac
        assert bac["verdict"] == "rises with density"
        for control in ("naltrexone", "acamprosate"):
            row = _row(table, control, measure)
            assert row["p_perm"] > 0.05 and row["verdict"] == "no clear ordering", row
            assert row["role"] == "negative_control"
    bac = _row(table, "baclofen")
    assert bac["n_domains"] == 8 and bac["permutation"] == "exact (40320 orderings)"
    assert bac["domains_excluded"] == "respiratory (density not ranked)"


def test_statistics_match_direct_computation(table):
    strengths = domain_strengths(signal_table()).filter(
        (pl.col("drug") == "baclofen") & pl.col("density_rank").is_not_null()
    )
    x = strengths["density_rank"].to_numpy().astype(float)
    y = strengths["log_ebgm"].to_numpy()
    rho = stats.spearmanr(x, y).statistic
    # Exact one-sided permutation p by brute force over all 8! pairings.
    perms = stats.rankdata(np.array(list(itertools.permutations(y))), axis=1)
    rx = stats.rankdata(x)
    rhos = np.array([np.corrcoef(rx, p)[0, 1] for p in perms])
    hits = int((rhos >= rho - 1e-12).sum())
    row = _row(table, "baclofen")
    assert math.isclose(row["rho"], rho, rel_tol=1e-12)
    assert math.isclose(row["p_perm"], hits / math.factorial(8), rel_tol=1e-9)
    assert np.allclose(strengths["log_ebgm"], np.log(strengths["ebgm"]))


def test_seeded_and_reproducible(table):
    assert density_test(signal_table()).equals(table)


def test_too_few_domains_is_not_testable():
    few = domain_rows("baclofen", {k: ORDERED_RR[k] for k in ("sensory", "memory_cognition", "respiratory")}, seed=9)
    row = _row(density_test(few), "baclofen")
    assert row["rho"] is None and row["verdict"].startswith("not testable")


def test_statement_reports_numbers_and_says_hypothesis_generating(table):
    text = statement(table)
    bac = _row(table, "baclofen")
    assert f"rho = {bac['rho']:.2f}" in text
    assert "hypothesis-generating" in text
    for caveat in ("reporting bias", "notoriety", "confounding by indication", "adjusted"):
        assert caveat in text
    assert "absent in the negative controls" in text
    # The honesty check: on the tiers alone baclofen's 8 domains are 7 "high" and 1 "medium".
    tier = _row(table, "baclofen", "log_ebgm_tier_only")
    assert tier["n_domains"] == 8 and tier["p_perm"] >= 1 / 8
    assert f"tiers alone (without the inferred split of the high tier): rho = {tier['rho']:.2f}" in text
    assert text.count("leans on that inferred split") == 1


def test_without_ebgm_the_headline_is_ic():
    # The signal engine leaves EBGM null when its prior fit did not converge.
    signals = signal_table().with_columns(pl.lit(None, dtype=pl.Float64).alias(c) for c in ("ebgm", "eb05", "eb95"))
    table = density_test(signals, ["baclofen", "naltrexone"])
    heads = table.filter(pl.col("headline"))
    assert heads["measure"].to_list() == ["ic", "ic"]
    assert heads.filter(pl.col("drug") == "baclofen")["verdict"].item() == "rises with density"
    text = statement(table)
    assert "IC Spearman rho" in text and "log EBGM: not available for this run." in text
