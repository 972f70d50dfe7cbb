"""Power of the density test from the store's own uncertainty (issue 14, point 4).

Question: how steep would the density slope have to be for this store to detect it with the
plan's power (80%) at the plan's alpha? Model of one domain value (pv/mechanism/hypothesis.py):
y_d = beta * x_d + u_d + e_d, where
- e_d is the sampling noise of the pooled IC: a parametric bootstrap of the signal estimates
  (each PT's count redrawn as Poisson(lambda_hat * E), lambda_hat = (a + 0.5) / (E + 0.5), its IC
  and weight recomputed, the domain pooled again; e = deviation from the replicates' mean);
- u_d ~ Normal(0, tau^2) is the domains' spread around any line that sampling noise does not
  explain: tau^2 = max(0, residual variance of the observed fit - mean sampling variance). With 8
  domains the residual variance is itself uncertain (n - 2 degrees of freedom), and plugging in one
  estimate makes the printed power optimistic when it happens to be low; so each replicate draws
  its own residual variance, s^2 (n - 2) / chi^2_{n-2}, before subtracting the sampling part.
For every replicate the exact slope above which the permutation test rejects is computed
(``SlopeTest.critical_slopes``), so power(beta) = share of replicates whose critical slope is
below beta, and the smallest detectable slope is their ``power`` quantile.
"""

from __future__ import annotations

import numpy as np
import polars as pl

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


def critical_slopes(pts: pl.DataFrame, ranks: dict[str, float], alpha: float, seed: int = 20261206,
                    replicates: int = REPLICATES) -> tuple[np.ndarray, float]:
    """Per replicate the slope the test needs to reject, and the tau used; ``pts`` one drug's PT rows."""
    values = domain_values(pts).filter(pl.col("domain").is_in(list(ranks)) & pl.col("ic").is_finite()).sort("domain")
    domains = values["domain"].to_list()
    x = np.array([ranks[d] for d in domains])
    test = SlopeTest(x)
    rng = np.random.default_rng(seed)
    sampling = noise_draws(pts, domains, rng, replicates)
    y = values["ic"].to_numpy()
    fit = np.polyfit(x, y, 1)
    df = max(len(x) - 2, 1)
    resid_var = float(np.sum((y - np.polyval(fit, x)) ** 2) / df)
    sampling_var = float(sampling.var(axis=0).mean())
    tau = float(np.sqrt(max(0.0, resid_var - sampling_var)))
    drawn = resid_var * df / rng.chisquare(df, replicates)  # the residual variance's own uncertainty
    taus = np.sqrt(np.maximum(0.0, drawn - sampling_var))
    noise = sampling + rng.normal(0.0, 1.0, sampling.shape) * taus[:, None]
    return test.critical_slopes(noise, alpha), tau


def power_summary(critical: np.ndarray, power: float, observed: float | None = None) -> dict:
    """Smallest slope detected with ``power``; power at the observed slope."""
    finite = np.isfinite(critical).mean()
    mds = float(np.quantile(critical, power)) if finite >= power else None
    out = {"mds": mds, "mds_ratio": None if mds is None else 2.0**mds, "power_target": power,
           "replicates": int(len(critical))}
    if observed is not None:
        out["power_at_observed"] = power_at(critical, observed)
    return out


def power_at(critical: np.ndarray, slope: float) -> float:
    return float(np.mean(critical < slope))


def power_curve(critical: np.ndarray, upto: float, points: int = 41) -> pl.DataFrame:
    """Power against the true slope, 0 .. ``upto`` (for the page's figure)."""
    grid = np.linspace(0.0, upto, points)
    return pl.DataFrame({"slope": grid, "power": [power_at(critical, s) for s in grid]})
