"""Information component with exact credibility bounds (Norén shrinkage; methods.md).

IC = log2((a + 0.5) / (E + 0.5)); IC_p = log2(q_p / (E + 0.5)) where q_p is the p-quantile
of Gamma(shape a + 0.5, rate 1). The gamma quantile depends on a only, so it is computed
once per distinct count and broadcast: exact bounds at the cost of a handful of
inversions.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaincinv


def gamma_quantile_by_count(a, p: float) -> np.ndarray:
    """p-quantile of Gamma(a + 0.5, 1), evaluated once per distinct a (a table indexed by the
    count when the counts are whole numbers of modest size, else a sort)."""
    a = np.asarray(a, dtype=np.float64)
    if a.size and a.min() >= 0 and a.max() < 10_000_000 and np.array_equal(a, np.floor(a)):
        index = a.astype(np.int64)
        present = np.zeros(int(index.max()) + 1, dtype=bool)
        present[index] = True
        table = np.zeros(len(present))
        table[present] = gammaincinv(np.nonzero(present)[0] + 0.5, p)
        return table[index]
    values, inverse = np.unique(a, return_inverse=True)
    return gammaincinv(values + 0.5, p)[inverse].reshape(a.shape)


def ic(a, expected):
    """IC = log2((a + 0.5) / (E + 0.5))."""
    return np.log2((np.asarray(a, dtype=np.float64) + 0.5) / (np.asarray(expected, dtype=np.float64) + 0.5))


def ic_bound(a, expected, p: float):
    """IC_p = log2(Gamma(a + 0.5, rate E + 0.5) quantile p), exact."""
    return np.log2(gamma_quantile_by_count(a, p) / (np.asarray(expected, dtype=np.float64) + 0.5))
