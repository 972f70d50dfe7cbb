"""GPS pieces one by one: marginal, likelihood gradient, squashing, bound reporting."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.stats import nbinom

from pv.signals import counts, gps, prior, squash, table

PRIOR = gps.Prior(0.43225, 0.18248, 1.67308, 2.14468, 0.13804)


def test_marginal_is_the_negative_binomial():
    n = np.array([0, 1, 3, 10, 250])
    e = np.array([0.01, 0.5, 2.0, 7.5, 300.0])
    alpha, beta = 1.7, 2.1
    # scipy: successes alpha, success probability beta/(beta+E)
    ref = nbinom.logpmf(n, alpha, beta / (beta + e))
    assert np.allclose(gps.nb_logpmf(n, e, alpha, beta), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n_star", [None, 1, 2])
def test_likelihood_gradient_matches_finite_differences(n_star):
    rng = np.random.default_rng(5)
    e = rng.gamma(0.5, 2.0, 400) + 1e-3
    n = rng.poisson(e * rng.gamma(1.0, 1.0, 400)).astype(float)
    if n_star:
        keep = n >= n_star
        n, e = n[keep], e[keep]
    w = rng.integers(1, 4, len(n)).astype(float)
    theta = np.array([0.6, 0.3, 1.4, 1.9, 0.25])
    _, grad = gps.neg_loglik(theta, n, e, w, n_star, gradient=True)
    for k in range(5):
        h = 1e-6 * theta[k]
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        numeric = (gps.neg_loglik(up, n, e, w, n_star) - gps.neg_loglik(down, n, e, w, n_star)) / (2 * h)
        assert grad[k] == pytest.approx(numeric, rel=1e-5, abs=1e-6)


def test_squash_keeps_counts_and_is_exact_for_singletons():
    n = np.array([1, 1, 1, 2, 5])
    e = np.array([0.5, 0.5000001, 3.0, 0.5, 0.5])
    bn, be, bw = squash.squash(n, e, rel_width=1e-3)
    assert bw.sum() == 5 and len(bn) == 4
    merged = (bn == 1) & (bw == 2)
    assert be[merged][0] == pytest.approx(0.50000005)
    assert set(be[bw == 1]) == {3.0, 0.5}


def test_zero_cell_bins_cover_the_rest_of_the_grid():
    drugs = np.array([[3.0, 1.0], [1.0, 0.0], [3.0, 1.0]])  # two drugs share a profile
    events = np.array([[2.0, 1.0], [1.0, 1.0]])
    totals = np.array([5.0, 2.0])
    observed_e = np.array([drugs[0] @ (events[0] / totals)])  # cell (0, 0) observed
    zn, ze, zw = squash.zero_cell_bins(drugs, events, totals, observed_e, rel_width=1e-9)
    assert zw.sum() == 3 * 2 - 1
    grid = sorted((drugs @ (events / totals).T).ravel().tolist())
    grid.remove(observed_e[0])
    assert sorted(np.repeat(ze, zw.astype(int)).tolist()) == pytest.approx(grid)
    assert (zn == 0).all()


def test_bound_hits_and_unusable_fits_publish_no_ebgm():
    assert gps.bound_hits([1e-4, 0.2, 1.0, 100.0, 0.5]) == ["alpha1", "beta2"]
    assert gps.bound_hits([0.4, 0.2, 1.0, 2.0, 0.5]) == []
    settings = prior.PriorSettings()
    on_bound = gps.FitReport(PRIOR, 1.0, True, ["alpha1"], "truncated", 1, 10, 10.0)
    assert not on_bound.usable and prior.usable_prior(on_bound, settings) is None
    assert prior.usable_prior(on_bound, prior.PriorSettings(accept_bound=True)) == PRIOR
    failed = gps.FitReport(PRIOR, 1.0, False, [], "truncated", 1, 10, 10.0)
    assert prior.usable_prior(failed, prior.PriorSettings(accept_bound=True)) is None
    cells = counts.pair_counts(pl.LazyFrame({"d": ["A", "B"], "e": ["x", "x"], "n": [3, 1]}), "d", "e", "n")
    frame = table.signal_table(cells.two_by_two(), prior.usable_prior(on_bound, settings))
    assert frame["ebgm"].null_count() == 2 and frame["flag_eb05"].null_count() == 2
    assert frame["prr"].null_count() == 0


def test_quantiles_bracket_ebgm_and_solve_extreme_cells():
    n = np.array([0, 1, 1, 5, 40, 2000, 1])
    e = np.array([1e-6, 1e-6, 50.0, 0.2, 3.0, 10.0, 1e4])
    eb05 = gps.posterior_quantile(n, e, PRIOR, 0.05)
    eb95 = gps.posterior_quantile(n, e, PRIOR, 0.95)
    mid = gps.ebgm(n, e, PRIOR)
    assert (eb05 < mid).all() and (mid < eb95).all()
    # n = 2000 at E = 10: Qn = 1 to machine precision, so the quantile is component 1's
    from scipy.special import gammaincinv

    assert gps.posterior_weight(n, e, PRIOR)[5] == 1.0
    single = gammaincinv(PRIOR.alpha1 + 2000, 0.05) / (PRIOR.beta1 + 10.0)
    assert eb05[5] == pytest.approx(single, rel=1e-12)


def test_canonical_labels_the_high_mean_component_first():
    swapped = gps.Prior(PRIOR.alpha2, PRIOR.beta2, PRIOR.alpha1, PRIOR.beta1, 1 - PRIOR.p)
    assert np.allclose(swapped.canonical().as_array(), PRIOR.as_array(), rtol=1e-14)
