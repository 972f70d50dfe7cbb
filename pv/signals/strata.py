"""Stratified expected counts (methods.md; Empirica, openEBGM stratified runs).

E_ij = Σ_s n_i.(s)·n_.j(s) / n..(s) over strata s (sex × age band × report year by
default in the FAERS run; one stratum when strata are off, giving E = n_i.·n_.j/n..).
Computed as a matrix product (drugs × strata)·(strata × events) over blocks of drugs when
the observed cells fill a fair share of that grid (BLAS, no per-cell gathers), else as a
row-wise dot product of each cell's drug and event margins; either way in chunks so memory
stays bounded whatever the number of cells and strata.
"""

from __future__ import annotations

import numpy as np


def expected_counts(drug_idx, event_idx, drug_margins, event_margins, totals, chunk_cells: int = 4_000_000):
    """E for the cells (drug_idx[k], event_idx[k]) from (drugs × strata), (events × strata), (strata)."""
    totals = np.asarray(totals, dtype=np.float64)
    scaled = np.divide(event_margins, totals[None, :], out=np.zeros_like(event_margins, dtype=np.float64),
                       where=totals[None, :] > 0)
    drug_idx = np.asarray(drug_idx)
    event_idx = np.asarray(event_idx)
    n_strata = len(totals)
    if n_strata == 1:
        return drug_margins[drug_idx, 0] * scaled[event_idx, 0]
    out = np.empty(len(drug_idx), dtype=np.float64)
    if drug_margins.shape[0] * scaled.shape[0] <= 8 * len(drug_idx):
        return _by_drug_blocks(drug_idx, event_idx, drug_margins, scaled, chunk_cells, out)
    step = max(1, chunk_cells // n_strata)
    for start in range(0, len(drug_idx), step):
        stop = start + step
        out[start:stop] = np.einsum("ks,ks->k", drug_margins[drug_idx[start:stop]], scaled[event_idx[start:stop]])
    return out


def _by_drug_blocks(drug_idx, event_idx, drug_margins, scaled, chunk_cells, out):
    """E of a block of drugs × all events at once (a BLAS product), read at the cells' positions."""
    order = np.argsort(drug_idx, kind="stable")
    sorted_idx = drug_idx[order]
    step = max(1, chunk_cells // max(1, scaled.shape[0]))
    for start in range(0, drug_margins.shape[0], step):
        lo, hi = np.searchsorted(sorted_idx, [start, start + step])
        if lo == hi:
            continue
        block = drug_margins[start:start + step] @ scaled.T
        cells = order[lo:hi]
        out[cells] = block[drug_idx[cells] - start, event_idx[cells]]
    return out
