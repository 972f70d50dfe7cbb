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


def overdispersed_cells(m=40_000, seed=20):
    """Cells as FAERS gives them (issue 10: 10,000 reports of 2020Q3): many small E, a third of
    the cells at one relative rate λ = 3.9 (a sharp excess), the rest a wide gamma around 1."""
    rng = np.random.default_rng(seed)
    e = rng.lognormal(-1.5, 1.3, m)
    lam = np.where(rng.random(m) < 0.3, 3.9, rng.gamma(0.5, 1 / 0.6, m))
    n = rng.poisson(lam * e)
    keep = n >= 1
    cells = pl.DataFrame({"drug": np.arange(m)[keep].astype(str), "event": "x", "a": n[keep], "expected": e[keep]})
    return counts.CountTable(cells, pl.Series([]), pl.Series([]), np.zeros((0, 1)), np.zeros((0, 1)), np.ones(1),
                             "pairs")


def point_mass_closed_form(n, e, fitted: gps.Prior):
    """(Qn, EBGM) of a prior whose component 1 is a point mass at mu: the posterior is that point
    with probability Qn (Poisson marginal) and component 2's gamma otherwise."""
    from scipy.special import psi
    from scipy.stats import nbinom, poisson

    mu, a2, b2, p = fitted.point1, fitted.alpha2, fitted.beta2, fitted.p
    f1 = p * poisson.pmf(n, mu * e)
    f2 = (1 - p) * nbinom.pmf(n, a2, b2 / (b2 + e))
    qn = f1 / (f1 + f2)
    return qn, np.exp(qn * np.log(mu) + (1 - qn) * (psi(a2 + n) - np.log(b2 + e)))


def test_ebgm_is_published_at_the_point_mass_limit_and_equals_its_closed_form():
    from scipy.stats import gamma, nbinom, poisson

    from pv.signals import dispersion

    cells = overdispersed_cells()
    report = prior.fit_prior(cells, prior.PriorSettings(fit="truncated"))
    # the shape-rate search ran to the box (alpha1 = 100, beta1 ~ 26: a point mass at ~3.9) ...
    edge = [s for s in report.starts if max(s["theta"][:4]) >= gps.SHAPE_RATE_BOUNDS[1] * (1 - 1e-9)]
    assert edge and all(25 < s["theta"][1] < 27 for s in edge if s["theta"][0] >= 100 * (1 - 1e-9))
    # ... and the mean-dispersion fit reaches the limit: component 1 IS the point mass, usable
    assert report.usable and report.converged and report.parametrisation == "mean-dispersion"
    fitted = report.prior
    assert fitted.point1 == pytest.approx(3.9, rel=0.02) and fitted.point2 is None
    assert np.isinf(fitted.alpha1) and np.isinf(fitted.beta1)
    assert report.to_dict()["prior"]["alpha1"] is None and "point mass" in report.to_dict()["shape"]
    assert report.neg_loglik < min(s["neg_loglik"] for s in edge) - 1.0  # strictly more likely than the edge
    # published: EBGM, EB05, EB95 for every cell, equal to the limit's closed form
    n = cells.cells["a"].to_numpy().astype(float)
    e = cells.cells["expected"].to_numpy()
    got = table.gps_measures(n, e, fitted)
    assert not np.isnan(got["ebgm"]).any() and not np.isnan(got["eb05"]).any()
    mu, a2, b2, p = fitted.point1, fitted.alpha2, fitted.beta2, fitted.p
    qn, closed = point_mass_closed_form(n, e, fitted)
    assert np.abs(got["ebgm"] / closed - 1).max() < 1e-10
    for prob, col in ((0.05, "eb05"), (0.95, "eb95")):  # inf{x: F(x) >= prob}, F steps by Qn at mu
        lo, hi = np.zeros_like(n), np.full_like(n, 1e3)
        for _ in range(80):
            mid = (lo + hi) / 2
            above = qn * (mid >= mu) + (1 - qn) * gamma.cdf(mid, a2 + n, scale=1 / (b2 + e)) >= prob
            lo, hi = np.where(above, lo, mid), np.where(above, mid, hi)
        assert np.abs(got[col] - hi).max() < 1e-8
    sits = np.isclose(got["eb05"], mu, rtol=0, atol=0)
    assert 0 < sits.sum() < len(n)  # the step itself is the 5% quantile for part of the cells
    # the closed form is the shape-rate posterior's limit (alpha1 -> inf at alpha1/beta1 = mu)
    near = gps.Prior(1e9, 1e9 / mu, a2, b2, p)
    assert np.abs(gps.ebgm(n, e, near) / got["ebgm"] - 1).max() < 1e-6
    # the EB05 flag from one CDF evaluation (left limit at the point) agrees with the solved EB05
    frame = table.signal_table(cells.cells.with_columns(b=1, c=1, d=1), fitted)
    assert (frame["flag_eb05"] == (frame["eb05"] >= 2)).all()
    from pv.signals.trend import subset_flags

    a = cells.cells["a"].to_numpy()
    ones = np.ones(len(a), dtype=np.int64)
    assert np.array_equal(subset_flags(a, ones, ones, ones, e, fitted)["flag_eb05"], frame["flag_eb05"].to_numpy())
    # the point-mass prior's truncated likelihood: Poisson and negative binomial, each truncated at 0
    g1 = poisson.pmf(n, mu * e) / -np.expm1(-mu * e)
    g2 = nbinom.pmf(n, a2, b2 / (b2 + e)) / (1 - nbinom.pmf(0, a2, b2 / (b2 + e)))
    reference = -np.log(p * g1 + (1 - p) * g2).sum()
    assert dispersion.prior_neg_loglik(fitted, n, e, np.ones_like(n), 1) == pytest.approx(reference, rel=1e-12)


def sparse_table(drugs=400, events=100, seed=20):
    """A whole drug x event table as FAERS's small extracts give it (most cells empty, mean E
    0.013), with its margins, so the all-cells fit counts every empty cell: a third of the cells
    at one relative rate 3.9, the rest a wide gamma around 1."""
    rng = np.random.default_rng(seed)
    dm, em, total = rng.lognormal(3.0, 1.2, drugs), rng.lognormal(3.0, 1.2, events), 1.2e5
    e = np.outer(dm, em) / total
    n = rng.poisson(np.where(rng.random(e.shape) < 0.3, 3.9, rng.gamma(0.5, 1 / 0.6, e.shape)) * e)
    i, j = np.nonzero(n)
    cells = pl.DataFrame({"drug": i.astype(str), "event": j.astype(str), "a": n[i, j], "expected": e[i, j]})
    return counts.CountTable(cells, pl.Series(np.arange(drugs).astype(str)), pl.Series(np.arange(events).astype(str)),
                             dm[:, None], em[:, None], np.array([total]), "pairs")


def test_the_all_cells_fit_reaches_the_point_mass_limit_too():
    """Issue 10 item 6 names both fits: the all-cells fit (every empty cell of the table counted,
    from the margins) also runs to the shape-rate box, and is published at the limit."""
    cells = sparse_table()
    report = prior.fit_prior(cells, prior.PriorSettings(fit="all-cells"))
    edge = [s for s in report.starts if max(s["theta"][:4]) >= gps.SHAPE_RATE_BOUNDS[1] * (1 - 1e-9)]
    assert edge and report.mode == "all-cells" and report.n_star is None
    assert report.usable and report.converged and report.parametrisation == "mean-dispersion"
    fitted = report.prior
    assert fitted.point1 == pytest.approx(3.9, rel=0.05) and fitted.point2 is None and np.isinf(fitted.alpha1)
    assert report.neg_loglik < min(s["neg_loglik"] for s in edge)
    assert prior.usable_prior(report, prior.PriorSettings()) is fitted  # what pvmon signals publishes from
    n = cells.cells["a"].to_numpy().astype(float)
    e = cells.cells["expected"].to_numpy()
    got = table.gps_measures(n, e, fitted)
    assert not np.isnan(got["ebgm"]).any() and not np.isnan(got["eb05"]).any()
    _, closed = point_mass_closed_form(n, e, fitted)
    assert np.abs(got["ebgm"] / closed - 1).max() < 1e-10
