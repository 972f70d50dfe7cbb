"""Data squashing for the prior fit (DuMouchel & Pregibon 2001; methods.md).

Cells with the same count n and nearly the same expected count E share almost the same
likelihood term, so they are replaced by one bin (n, mean E, weight = number of cells).
Here a bin is every cell with the same n whose E falls in the same slice of relative
width ``rel_width`` on the log scale; a cell alone in its slice is kept exactly. The
error of a bin's term is second order in the width (≤ (n+α)·width²/24 per cell), so the
width sets the accuracy, not a fixed bin count.

The all-cells likelihood also needs the zero cells of the full drug × event grid. Their
E = Σ_s n_i.(s)·n_.j(s)/n..(s) comes from the margins alone, so ``zero_cell_bins`` builds
the grid from the DISTINCT margin profiles (drugs, resp. events, with identical
per-stratum margins collapse to one row with a multiplicity), bins every grid E, and
takes the observed cells' bins away. Nothing of size drugs × events is materialised
unless the distinct profiles themselves are that many.
"""

from __future__ import annotations

import numpy as np

#: Default relative slice width for the fit (fast); the reference tests use finer ones.
FIT_WIDTH = 1e-3


def _slice_of(e, rel_width: float):
    return np.floor(np.log(e) / np.log1p(rel_width)).astype(np.int64)


def _group_sums(keys, e, w, dense_limit: int = 20_000_000):
    """Per distinct key: total weight and weighted sum of E (a dense bincount when the keys
    span a modest range, else a sort)."""
    if keys.size and int(keys.max()) - int(keys.min()) < dense_limit:
        offset = int(keys.min())
        weight = np.bincount(keys - offset, weights=w)
        sum_e = np.bincount(keys - offset, weights=w * e)
        present = np.nonzero(weight)[0]
        return present + offset, weight[present], sum_e[present]
    uniq, inverse = np.unique(keys, return_inverse=True)
    return uniq, np.bincount(inverse, weights=w), np.bincount(inverse, weights=w * e)


def squash(n, e, w=None, rel_width: float = FIT_WIDTH):
    """Bins (n, mean E, weight) of the cells: same n, E in the same log slice."""
    n = np.asarray(n, dtype=np.int64)
    e = np.asarray(e, dtype=np.float64)
    w = np.ones_like(e) if w is None else np.asarray(w, dtype=np.float64)
    if rel_width <= 0:
        return n.astype(np.float64), e, w
    slices = _slice_of(e, rel_width)
    offset = slices.min() if slices.size else 0
    span = int(slices.max() - offset + 1) if slices.size else 1
    keys = n * span + (slices - offset)
    uniq, weight, sum_e = _group_sums(keys, e, w)
    return (uniq // span).astype(np.float64), sum_e / weight, weight


def _distinct_rows(margins: np.ndarray):
    """Distinct per-stratum margin profiles and how many drugs (or events) have each."""
    profiles, counts = np.unique(margins, axis=0, return_counts=True)
    return profiles.astype(np.float64), counts.astype(np.float64)


def zero_cell_bins(drug_margins, event_margins, totals, observed_e,
                   rel_width: float = FIT_WIDTH, block: int = 2_000_000):
    """Squashed bins (n = 0, mean E, weight) of the drug × event cells never reported together.

    drug_margins: (drugs × strata) n_i.(s); event_margins: (events × strata) n_.j(s);
    totals: (strata) n..(s); observed_e: E of the observed cells (computed the same way).
    """
    drugs, drug_mult = _distinct_rows(np.atleast_2d(drug_margins))
    events, event_mult = _distinct_rows(np.atleast_2d(event_margins))
    totals = np.asarray(totals, dtype=np.float64)[None, :]
    scaled_events = np.divide(events, totals, out=np.zeros_like(events), where=totals > 0)
    rows_per_block = max(1, block // max(1, len(events)))
    keys_parts, w_parts, e_parts = [], [], []
    for start in range(0, len(drugs), rows_per_block):
        grid_e = drugs[start:start + rows_per_block] @ scaled_events.T
        grid_w = np.outer(drug_mult[start:start + rows_per_block], event_mult)
        positive = grid_e > 0
        k, wsum, esum = _group_sums(_slice_of(grid_e[positive], rel_width), grid_e[positive],
                                    grid_w[positive])
        keys_parts.append(k)
        w_parts.append(wsum)
        e_parts.append(esum / wsum)
    keys, weight, sum_e = _group_sums(np.concatenate(keys_parts), np.concatenate(e_parts),
                                      np.concatenate(w_parts))
    observed_e = np.asarray(observed_e, dtype=np.float64)
    obs_keys, obs_w, obs_sum = _group_sums(_slice_of(observed_e, rel_width), observed_e,
                                           np.ones_like(observed_e))
    pos = np.minimum(np.searchsorted(keys, obs_keys), len(keys) - 1)
    # an observed E computed with another summation order can land one slice over
    # (probability ~1e-16/width per cell); such cells stay out of the subtraction
    same = keys[pos] == obs_keys
    np.subtract.at(weight, pos[same], obs_w[same])
    np.subtract.at(sum_e, pos[same], obs_sum[same])
    keep = weight > 0.5
    return np.zeros(int(keep.sum())), sum_e[keep] / weight[keep], weight[keep]
