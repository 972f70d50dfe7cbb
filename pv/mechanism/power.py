"""Power of the density test from the store's own uncertainty (issue 14, point 4).

Question: how steep would the density slope have to be for this store to detect it with the
plan's power (80%) at the plan's alpha? Model of one domain value (pv/mechanism/hypothesis.py):
y_d = beta * x_d + u_d + e_d, where
- e_d is the sampling noise of the pooled IC: a parametric bootstrap of the signal estimates
  (each PT's count redrawn as Poisson(lambda_hat * E), lambda_hat = (a + 0.5) / (E + 0.5), its IC
  and weight recomputed, the domain pooled again; e = deviation from the replicates' mean);
- u_d ~ Normal(0, tau^2) is the domains' spread around any line that sampling noise does not
  explain: tau^2 = max(0, s^2 - the part of s^2 sampling noise alone gives), s^2 the residual
  variance of the observed fit (n - 2 degrees of freedom).
For every replicate the exact slope above which the permutation test rejects is computed
(``SlopeTest.critical_slopes``), so power(beta) = share of replicates whose critical slope is
below beta.

Why the plug-in power needs a correction: with 8 domains, s^2 has 6 degrees of freedom (its
standard deviation is ~58% of its value), and power is a non-linear (sigmoid) function of tau. A
store whose s^2 came out low by chance prints a high power, and the gain is larger than the loss
of a store whose s^2 came out high, so the mean printed power over stores sits above the true
detection rate where power is low (measured: slope 0.2, tau 0.3: printed 0.30 vs detected 0.245).
Drawing tau from its posterior instead (the previous version) adds spread rather than removing it.
The figure printed here is the bootstrap bias-corrected power (Efron & Tibshirani 1993, ch. 10):
2 * power(tau_hat) - mean power(tau*), where tau* is tau re-estimated on a bootstrap store drawn
from the fitted model, the same way tau_hat was estimated on this one. Both sets of replicates
share their noise draws (common random numbers), so the correction adds little Monte-Carlo noise.
The result is clipped to [0, 1] and made non-decreasing in the slope (isotonic regression, which
averages out Monte-Carlo wiggles rather than holding their peaks).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.optimize import isotonic_regression

from pv.mechanism.hypothesis import domain_values, ic_weight
from pv.mechanism.permutation import SlopeTest

REPLICATES = 1_000


def noise_draws(pts: pl.DataFrame, domains: list[str], rng: np.random.Generator, replicates: int) -> np.ndarray:
    """Parametric-bootstrap deviations of the pooled domain IC (replicates x domains)."""
    pts = pts.filter(pl.col("domain").is_in(domains))
    a, e = pts["a"].to_numpy().astype(float), pts["expected"].to_numpy()
    lam = (a + 0.5) / (e + 0.5)
    draws = rng.poisson(lam * e, size=(replicates, len(a))).astype(float)
    ic = np.log2((draws + 0.5) / (e + 0.5))
    w = ic_weight(draws)
    index = np.array([domains.index(d) for d in pts["domain"]])
    num = np.zeros((replicates, len(domains)))
    den = np.zeros((replicates, len(domains)))
    np.add.at(num.T, index, (w * ic).T)
    np.add.at(den.T, index, w.T)
    pooled = num / den
    return pooled - pooled.mean(axis=0)


def residual_variance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residual variance (n - 2 degrees of freedom) of the OLS line of each row of ``y`` on ``x``."""
    y = np.atleast_2d(y)
    xc = x - x.mean()
    yc = y - y.mean(axis=1, keepdims=True)
    resid = yc - np.outer(yc @ xc / (xc @ xc), xc)
    return (resid**2).sum(axis=1) / max(len(x) - 2, 1)


def spread(resid_var: np.ndarray | float, sampling_part: float) -> np.ndarray:
    """tau from a residual variance: what sampling noise does not explain, never below 0."""
    return np.sqrt(np.maximum(0.0, np.asarray(resid_var, dtype=float) - sampling_part))


class Power:
    """The test's power against the true slope, from two sets of critical slopes (see module docstring).

    ``plugin``: critical slopes with tau at this store's estimate; ``refit``: the same noise draws
    with tau re-estimated on a bootstrap store. ``tau``: this store's estimate.
    """

    def __init__(self, plugin: np.ndarray, refit: np.ndarray, tau: float):
        self.plugin, self.refit, self.tau = plugin, refit, tau
        steps = np.unique(np.concatenate([plugin, refit]))
        self._steps = steps[np.isfinite(steps)]
        raw = 2 * self._below(plugin, self._steps) - self._below(refit, self._steps)  # power just above each step
        self._power = isotonic_regression(np.clip(raw, 0.0, 1.0)).x if self._steps.size else raw
        self._base = float(np.clip(2 * np.mean(plugin == -np.inf) - np.mean(refit == -np.inf), 0.0, 1.0))

    @staticmethod
    def _below(critical: np.ndarray, steps: np.ndarray) -> np.ndarray:
        return np.searchsorted(np.sort(critical), steps, side="right") / len(critical)

    @property
    def replicates(self) -> int:
        return int(len(self.plugin))

    def at(self, slope: float) -> float:
        """Power at the true ``slope``: the share of stores that would reject (p < alpha)."""
        i = int(np.searchsorted(self._steps, slope, side="left")) - 1  # last step strictly below the slope
        return self._base if i < 0 else max(self._base, float(self._power[i]))

    def smallest_detectable(self, power: float) -> float | None:
        """The smallest slope detected with ``power``; None when no slope reaches it."""
        reached = np.flatnonzero(self._power >= power)
        return float(self._steps[reached[0]]) if reached.size else None

    def summary(self, power: float, observed: float | None = None) -> dict:
        mds = self.smallest_detectable(power)
        out = {"mds": mds, "mds_ratio": None if mds is None else 2.0**mds, "power_target": power,
               "replicates": self.replicates, "tau": self.tau}
        if observed is not None:
            out["power_at_observed"] = self.at(observed)
        return out

    def curve(self, upto: float, points: int = 41) -> pl.DataFrame:
        """Power against the true slope, 0 .. ``upto`` (for the page's figure)."""
        grid = np.linspace(0.0, upto, points)
        return pl.DataFrame({"slope": grid, "power": [self.at(s) for s in grid]})


def density_power(pts: pl.DataFrame, ranks: dict[str, float], alpha: float, seed: int = 20261206,
                  replicates: int = REPLICATES) -> Power:
    """Power of the primary test on this store; ``pts`` one drug's PT rows, ``ranks`` the rule's domain ranks."""
    values = domain_values(pts).filter(pl.col("domain").is_in(list(ranks)) & pl.col("ic").is_finite()).sort("domain")
    domains = values["domain"].to_list()
    x = np.array([ranks[d] for d in domains])
    test = SlopeTest(x)
    rng = np.random.default_rng(seed)
    sampling = noise_draws(pts, domains, rng, 2 * replicates)
    # what sampling noise alone adds to s^2 (exact for unequal noise across domains)
    sampling_part = float(residual_variance(x, sampling).mean())
    tau = float(spread(residual_variance(x, values["ic"].to_numpy())[0], sampling_part))
    here, other = sampling[:replicates], sampling[replicates:]
    shape = rng.normal(0.0, 1.0, (2, replicates, len(domains)))
    # a bootstrap store from the fitted model, and tau estimated on it as on this store
    tau_star = spread(residual_variance(x, other + tau * shape[1]), sampling_part)
    plugin = test.critical_slopes(here + tau * shape[0], alpha)
    refit = test.critical_slopes(here + tau_star[:, None] * shape[0], alpha)
    return Power(plugin, refit, tau)
