"""The GPS prior in mean–dispersion form, which reaches the point-mass limit (issue 10).

On real FAERS counts the shape–rate fit (pv.signals.gps) can run to the search box's edge
with α/β fixed: α1 = 100, β1 ≈ 26 on 10,000 reports of 2020Q3, i.e. component 1 becoming a
point mass at λ ≈ 3.9. That limit is a legitimate maximum of the likelihood, not a failed
fit, but α, β cannot reach it. Here each component is written as its mean μ = α/β and
dispersion φ = 1/α (its squared coefficient of variation); φ = 0 IS the point mass, a
plain edge of the box [0, φmax], where every formula has an exact value:

    ln f(n) = Σ_{k<n} ln(1 + kφ) + n·ln(μE) − n·ln(1 + φμE) − ln(1 + φμE)/φ − ln n!
            → n·ln(μE) − μE − ln n!      (φ = 0: the marginal is Poisson(μE))

(the first sum is lnΓ(α+n) − lnΓ(α) + n·ln φ, summed directly so no cancellation occurs
as φ → 0). The posterior of a point-mass component is the point mass itself, so (see
gps.component_*) its share of ln EBGM is ln μ, EBGM = exp(Qn·ln μ + (1−Qn)[ψ(α2+n) −
ln(β2+E)]) with Qn from the Poisson marginal, and EB05/EB95 have the closed form of
gps._quantile_with_point_masses.

Used only when the shape–rate optimum ends on the box (pv.signals.prior): the search
restarts from it in (ln μ1, φ1, ln μ2, φ2, P) with μ in the same range α/β spans there
and φ ∈ [0, 1/α_min]. A φ that ends on 0 is the point-mass limit, recorded as the fit's
shape; a μ, P or φmax on their bounds remains a fit that did not find a maximum, and EBGM
stays withheld.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from pv.signals import gps

#: ln μ range: μ = α/β spans [1e-4/100, 100/1e-4] in the shape-rate box
LOG_MEAN_BOUNDS = (np.log(gps.SHAPE_RATE_BOUNDS[0] / gps.SHAPE_RATE_BOUNDS[1]),
                   np.log(gps.SHAPE_RATE_BOUNDS[1] / gps.SHAPE_RATE_BOUNDS[0]))
#: φ = 1/α: 0 (point mass) to 1/α_min (the shape-rate box's smallest α)
DISPERSION_BOUNDS = (0.0, 1.0 / gps.SHAPE_RATE_BOUNDS[0])
BOUNDS = [LOG_MEAN_BOUNDS, DISPERSION_BOUNDS, LOG_MEAN_BOUNDS, DISPERSION_BOUNDS, gps.P_BOUNDS]
NAMES = ("log_mean1", "dispersion1", "log_mean2", "dispersion2", "p")
#: a dispersion this close to 0 is the point mass: the likelihood of φ differs from the
#: limit's by O(φ·n²), far below the fit's tolerance, while α = 1/φ would lose the
#: gamma function's precision
POINT_MASS_DISPERSION = 1e-8
#: below this φ·μE, ln(1 + φx)/φ and its derivative come from their series (no cancellation)
_SERIES = 1e-4


def _log1p_over(phi: float, x: np.ndarray):
    """g = ln(1 + φx)/φ and ∂g/∂φ, exact at φ = 0 (g = x, ∂g/∂φ = −x²/2)."""
    t = phi * x
    series = t < _SERIES
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(series, x * (1 - t / 2 + t * t / 3 - t ** 3 / 4), np.log1p(t) / phi)
        dg = np.where(series, -x * x * (0.5 - 2 * t / 3 + 0.75 * t * t - 0.8 * t ** 3),
                      x / (phi * (1 + t)) - np.log1p(t) / phi ** 2)
    return g, dg


def _rising(phi: float, n_values: np.ndarray):
    """Σ_{k<n} ln(1 + kφ) and its φ-derivative Σ_{k<n} k/(1 + kφ) for each distinct n."""
    top = int(n_values.max()) if n_values.size else 0
    k = np.arange(top, dtype=np.float64)
    value = np.concatenate([[0.0], np.cumsum(np.log1p(k * phi))])
    slope = np.concatenate([[0.0], np.cumsum(k / (1 + k * phi))])
    index = n_values.astype(np.int64)
    return value[index], slope[index]


def _log_pmf(n, n_values, index, e, log_mean: float, phi: float):
    """ln f(n) + ln n! of one component, with ∂/∂ln μ and ∂/∂φ."""
    x = np.exp(log_mean) * e
    rising, d_rising = _rising(phi, n_values)
    g, dg = _log1p_over(phi, x)
    spread = np.log1p(phi * x)
    value = rising[index] + n * (log_mean + np.log(e)) - n * spread - g
    d_log_mean = (n - x) / (1 + phi * x)
    d_phi = d_rising[index] - n * x / (1 + phi * x) - dg
    return value, d_log_mean, d_phi


def _component(bins: gps.Bins, log_mean: float, phi: float, n_star, gradient: bool):
    """ln g (without −ln n!) of one component and its derivatives, truncated at N* if given."""
    lg, d_mu, d_phi = _log_pmf(bins.n, bins.n_values, bins.n_index, bins.e, log_mean, phi)
    if n_star is None:
        return lg, d_mu, d_phi
    if n_star == 1:  # 1 − f(0) = 1 − exp(−g), in closed form
        x = np.exp(log_mean) * bins.e
        g, dg = _log1p_over(phi, x)
        tail = -np.expm1(-g)
        share = np.exp(-g) / tail  # f(0)/(1 − f(0))
        return lg - np.log(tail), d_mu + share * (-x / (1 + phi * x)), d_phi + share * (-dg)
    head = np.zeros_like(bins.e)
    d_head_mu = np.zeros_like(bins.e)
    d_head_phi = np.zeros_like(bins.e)
    for m in range(n_star):  # F(N*−1) = Σ_{m<N*} f(m)
        values = np.array([float(m)])
        lf, dm, dp = _log_pmf(float(m), values, np.zeros(len(bins.e), dtype=np.int64), bins.e, log_mean, phi)
        f = np.exp(lf - gammaln(m + 1.0))
        head += f
        d_head_mu += f * dm
        d_head_phi += f * dp
    tail = 1.0 - head
    return lg - np.log(tail), d_mu + d_head_mu / tail, d_phi + d_head_phi / tail


def neg_loglik(theta, bins: gps.Bins, n_star: int | None = None, gradient: bool = False):
    """−ln L of θ = (ln μ1, φ1, ln μ2, φ2, P) over the bins (as gps.bins_neg_loglik)."""
    return gps.mixture_neg_loglik(theta, bins, _component, n_star, gradient)


def to_theta(prior: gps.Prior) -> np.ndarray:
    """(ln μ1, φ1, ln μ2, φ2, P) of a prior (φ = 0 for a point mass)."""
    out = []
    for alpha, beta, point in prior.components():
        out += [np.log(point), 0.0] if point is not None else [np.log(alpha / beta), 1.0 / alpha]
    return np.array([*out, prior.p])


def to_prior(theta) -> gps.Prior:
    """The prior of θ; a dispersion at or below POINT_MASS_DISPERSION is the point mass."""
    parts, points = [], []
    for log_mean, phi in (theta[0:2], theta[2:4]):
        mean = float(np.exp(log_mean))
        if phi <= POINT_MASS_DISPERSION:
            parts += [np.inf, np.inf]
            points.append(mean)
        else:
            parts += [float(1.0 / phi), float(1.0 / (phi * mean))]
            points.append(None)
    return gps.Prior(*parts, float(theta[4]), *points).canonical()


def prior_neg_loglik(prior: gps.Prior, n, e, w, n_star: int | None = None) -> float:
    """−ln L of any prior (point masses included) on plain arrays."""
    if prior.point1 is None and prior.point2 is None:
        return gps.neg_loglik(prior.as_array(), n, e, w, n_star)
    return neg_loglik(to_theta(prior), gps.Bins(n, e, w), n_star)


def refit(n, e, w, n_star: int | None, start: gps.Prior) -> gps.FitReport:
    """The maximum likelihood prior in mean–dispersion form, searched from a shape–rate optimum
    that ended on the box (``start``): from it as it is, and from it with each component in
    turn at its point-mass limit."""
    bins = gps.Bins(n, e, w)
    total = float(bins.w.sum())
    first = to_theta(start)
    starts = [first]
    for k in (1, 3):
        limit = first.copy()
        limit[k] = 0.0
        starts.append(limit)
    starts = [np.clip(s, [lo for lo, _ in BOUNDS], [hi for _, hi in BOUNDS]) for s in starts]
    best, tried = gps.multistart(lambda theta: neg_loglik(theta, bins, n_star, gradient=True), total, starts,
                                 BOUNDS)
    mode = "all-cells" if n_star is None else "truncated"
    if best is None:
        return gps.FitReport(None, None, False, [], mode, n_star, len(bins.n), total, tried,
                             "no start converged (mean-dispersion)", "mean-dispersion")
    theta = np.array(best["theta"])
    theta[[1, 3]] = np.where(theta[[1, 3]] <= POINT_MASS_DISPERSION, 0.0, theta[[1, 3]])
    hits = gps.bound_hits(theta, bounds=BOUNDS, names=NAMES)
    failing = [h for h in hits if h not in ("dispersion1", "dispersion2") or theta[NAMES.index(h)] > 0]
    prior = to_prior(theta)
    value = neg_loglik(theta, bins, n_star)
    if failing:
        message = f"optimum on the bound of {', '.join(failing)} (mean-dispersion)"
    elif prior.point1 is not None or prior.point2 is not None:
        message = f"converged at the point-mass limit: {prior.shape}"
    else:
        message = "converged inside the mean-dispersion box (alpha beyond the shape-rate box)"
    return gps.FitReport(prior, value, True, failing, mode, n_star, len(bins.n), total, tried, message,
                         "mean-dispersion")
