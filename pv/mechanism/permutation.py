"""Permutation slope test with the symptom domain as the exchangeable unit (issue 14, point 2).

The receptor-density explanation is about domains (a region's density is a property of the
domain, shared by all its PTs), so PTs of one domain are not independent evidence about density.
Each domain contributes one value y_d (its PTs' signals pooled, see hypothesis.py) and carries one
density rank x_d; the statistic is the ordinary least-squares slope of y on x across domains, and
the null distribution comes from re-assigning the ranks to domains: all n! assignments when
n <= ``EXACT_DOMAINS`` (exact p), else ``MC_PERMUTATIONS`` seeded random ones plus the observed one
(Monte-Carlo p, which stays valid: (1 + hits) / (1 + R)).

Everything follows from two numbers per permutation pi (Sxx = sum (x - mean x)^2):
A_pi = slope of y on x_pi, C_pi = slope of x on x_pi. The one-sided p for slope > beta0 and its
two-sided version are linear in beta0, which gives
- the confidence interval by test inversion (the set of beta0 the two-sided test does not reject:
  it always holds the estimate, where the statistic is 0; no resamples are dropped), and
- for each noise draw the exact critical slope above which the test rejects (``critical_slopes``),
  which the power figure is made of.
A rule under which no assignment can reach alpha (e.g. 7 domains tied at one rank and 1 at
another: the smallest p is 1/8) is reported as such (``p_min``), never as a result.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache

import numpy as np

EXACT_DOMAINS = 8  # 8! = 40,320 assignments: enumerated exactly
MC_PERMUTATIONS = 19_999
TIE = 1e-9


@lru_cache(maxsize=16)
def assignments(n: int, seed: int = 20261206) -> np.ndarray:
    """Index arrays (rows) re-assigning n ranks to n domains; row 0 is the observed assignment."""
    if n <= EXACT_DOMAINS:
        return np.array(list(itertools.permutations(range(n))), dtype=np.int16)
    rng = np.random.default_rng(seed)
    rows = np.argsort(rng.random((MC_PERMUTATIONS, n)), axis=1)
    return np.vstack([np.arange(n), rows]).astype(np.int16)


@lru_cache(maxsize=64)
def _distinct(x: tuple[float, ...], seed: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Distinct centred rank vectors over all assignments, their counts, and the number of assignments.

    Tied ranks make many assignments identical (8 domains ranked 4,4,3,3,3,3,3,2: 168 distinct out
    of 40,320), so each is kept once with its count.
    """
    xc = np.array(x) - np.mean(x)
    perm_x = xc[assignments(len(x), seed)]
    distinct, counts = np.unique(perm_x, axis=0, return_counts=True)
    return distinct, counts, perm_x.shape[0]


class SlopeTest:
    """The permutation slope test of y on ranks x (one value per domain)."""

    def __init__(self, x: np.ndarray, seed: int = 20261206):
        self.x = np.asarray(x, dtype=float)
        n = len(self.x)
        self.exact = n <= EXACT_DOMAINS
        xc = self.x - self.x.mean()
        self.sxx = float(xc @ xc)
        self.perm_x, counts, self.n_perm = _distinct(tuple(self.x.tolist()), seed)
        self.w = counts / self.n_perm
        self.c = self.perm_x @ xc / self.sxx  # C_pi
        # The smallest attainable one-sided p: the share of assignments identical to the observed one.
        self.p_min = float(self.w[self.c >= 1 - TIE].sum())

    @property
    def method(self) -> str:
        if self.exact:
            return f"exact ({math.factorial(len(self.x))} assignments of ranks to domains)"
        return f"Monte-Carlo ({MC_PERMUTATIONS} seeded assignments of ranks to domains)"

    def _a(self, y: np.ndarray) -> np.ndarray:
        return self.perm_x @ np.asarray(y, dtype=float) / self.sxx

    def slope(self, y: np.ndarray) -> float:
        return float((self.x - self.x.mean()) @ np.asarray(y, dtype=float) / self.sxx)

    def p_greater(self, y: np.ndarray, beta0: float = 0.0) -> float:
        """One-sided p for slope > beta0 (exact share, or Monte-Carlo with the observed counted)."""
        a = self._a(y)
        b = self.slope(y)
        stat = a - beta0 * self.c
        return float(self.w[stat >= (b - beta0) - TIE].sum())

    def interval(self, y: np.ndarray, level: float = 0.95) -> tuple[float | None, float | None]:
        """Test-inversion interval: beta0 values the two-sided test at 1 - level does not reject.

        None when the test cannot reject anywhere (too few distinct assignments): an interval that
        cannot exclude anything is not given.
        """
        alpha = 1 - level
        a, b = self._a(y), self.slope(y)
        if self.w[np.abs(self.c) >= 1 - TIE].sum() > alpha:
            return None, None

        def p2(beta0: float) -> float:
            return float(self.w[np.abs(a - beta0 * self.c) >= abs(b - beta0) - TIE].sum())

        scale = max(float(np.std(a)), 1e-6)
        bounds = []
        for sign in (-1.0, 1.0):
            inner, step = b, scale
            outer = b + sign * step
            while p2(outer) > alpha:
                inner, step = outer, step * 2
                outer = b + sign * step
                if step > 1e6 * scale:
                    return None, None
            for _ in range(60):
                mid = (inner + outer) / 2
                inner, outer = (mid, outer) if p2(mid) > alpha else (inner, mid)
            bounds.append(inner)
        return float(min(bounds[0], b)), float(max(bounds[1], b))

    def critical_slopes(self, noise: np.ndarray, alpha: float) -> np.ndarray:
        """For each noise draw z (rows), the slope beta above which y = beta*x + z is significant.

        p(beta) = share of assignments with A_pi(z) - b(z) >= beta (1 - C_pi): assignments equal to
        the observed one always count (k0); the others count while beta <= t_pi. The test rejects
        (p < alpha) once at most m = ceil(alpha N) - 1 - k0 of the t_pi are >= beta, i.e. above the
        (m+1)-th largest. inf: never significant at this alpha.
        """
        noise = np.atleast_2d(noise)
        same = self.c >= 1 - TIE
        m = int(math.ceil(alpha * self.n_perm - TIE)) - 1 - int(round(self.w[same].sum() * self.n_perm))
        if m < 0:
            return np.full(noise.shape[0], np.inf)
        free = self.perm_x[~same]
        counts = np.round(self.w[~same] * self.n_perm)
        denom = 1 - self.c[~same]
        xc = self.x - self.x.mean()
        out = np.empty(noise.shape[0])
        for start in range(0, noise.shape[0], 64):  # bounded memory: N x 64 at a time
            z = noise[start:start + 64]
            t = (free @ z.T / self.sxx - (z @ xc / self.sxx)[None, :]) / denom[:, None]
            order = np.argsort(-t, axis=0)
            above = np.cumsum(counts[order], axis=0) > m  # first (largest-t) position past m assignments
            first = np.argmax(above, axis=0)
            crit = np.take_along_axis(t, np.take_along_axis(order, first[None, :], axis=0), axis=0)[0]
            out[start:start + 64] = np.where(above.any(axis=0), crit, -np.inf)
        return out
