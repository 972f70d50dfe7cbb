"""Assemble the signal table of design.md from a count table and a prior.

Columns: drug, event, level, subset, a, b, c, d, expected, prr, prr_lo, prr_hi, chi2,
ror, ror_lo, ror_hi, ic, ic025, ic975, ebgm, eb05, eb95, the flags (flag_evans,
flag_ror025, flag_ic025, flag_eb05; prefixed because ic025/eb05 name the measures),
first_quarter, is_new, then first_quarter_<threshold> for each. PRR/ROR/χ² use the
report counts a, b, c, d; IC and EBGM use ``expected`` (stratified when strata are on).
EBGM columns are null when no usable prior exists (see pv.signals.prior).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from pv.signals import frequentist, gps, ic
from pv.signals.thresholds import FLAG_COLUMNS, PRESETS, flag_columns

SIGNAL_COLUMNS = [
    "drug", "event", "level", "subset", "a", "b", "c", "d", "expected",
    "prr", "prr_lo", "prr_hi", "chi2", "ror", "ror_lo", "ror_hi", "ic", "ic025", "ic975",
    "ebgm", "eb05", "eb95", *FLAG_COLUMNS, "first_quarter", "is_new",
    *(f"first_quarter_{name}" for name in PRESETS),
]


def _distinct_pairs(n, e):
    """Distinct (n, E) pairs and the map back: equal cells share one posterior solve.

    Sorts one 64-bit key (E's bits mixed with n) instead of the pair; a key shared by two
    different pairs (a hash collision) is detected and the exact pair sort used instead.
    """
    key = e.view(np.int64) ^ (n.astype(np.int64) * np.int64(0x9E3779B97F4A7C15 - (1 << 64)))
    order = np.argsort(key)
    sorted_key = key[order]
    first, inverse = _groups(order, np.r_[True, sorted_key[1:] != sorted_key[:-1]])
    if not (np.array_equal(n[first][inverse], n) and np.array_equal(e[first][inverse], e)):
        order = np.lexsort((e, n))
        ns, es = n[order], e[order]
        first, inverse = _groups(order, np.r_[True, (ns[1:] != ns[:-1]) | (es[1:] != es[:-1])])
    return n[first], e[first], inverse


def _groups(order, starts):
    """First member of each run of a sorted order, and every element's run number."""
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return order[starts], inverse


QUANTILES = {0.05: "eb05", 0.95: "eb95"}


def gps_measures(n, e, prior: gps.Prior | None, quantiles=(0.05, 0.95)) -> dict[str, np.ndarray]:
    """EBGM and the posterior quantiles (EB05, EB95) for every cell (NaN without a usable prior)."""
    names = ["ebgm", *(QUANTILES[p] for p in quantiles)]
    if prior is None or len(n) == 0:
        return {name: np.full(len(n), np.nan) for name in names}
    un, ue, inverse = _distinct_pairs(np.asarray(n, dtype=np.float64), np.asarray(e, dtype=np.float64))
    q = gps.posterior_weight(un, ue, prior)
    # the quantiles are independent solves: one thread each (numpy/scipy release the GIL)
    with ThreadPoolExecutor(max_workers=2) as pool:
        solved = list(pool.map(lambda p: gps.posterior_quantile(un, ue, prior, p, q), quantiles))
    return dict(zip(names, (x[inverse] for x in [gps.ebgm(un, ue, prior, q), *solved])))


def measure_columns(cells: pl.DataFrame, prior: gps.Prior | None, quantiles=(0.05, 0.95)) -> dict[str, np.ndarray]:
    """Every measure of methods.md for cells holding a, b, c, d, expected."""
    a, b, c, d = (cells[k].to_numpy().astype(np.float64) for k in "abcd")
    e = cells["expected"].to_numpy()
    out = {}
    out["prr"], out["prr_lo"], out["prr_hi"] = frequentist.prr(a, b, c, d)
    out["chi2"] = frequentist.chi2_yates(a, b, c, d)
    out["ror"], out["ror_lo"], out["ror_hi"] = frequentist.ror(a, b, c, d)
    out["ic"] = ic.ic(a, e)
    out["ic025"] = ic.ic_bound(a, e, 0.025)
    out["ic975"] = ic.ic_bound(a, e, 0.975)
    out.update(gps_measures(a, e, prior, quantiles))
    return out


def signal_table(cells: pl.DataFrame, prior: gps.Prior | None, level: str = "pt", subset: str = "all",
                 ror_min_a: int = 3) -> pl.DataFrame:
    """The signal table rows for these cells (first_quarter / is_new left null here); ``level``
    and ``subset`` name them unless the cells carry those columns themselves."""
    measures = measure_columns(cells, prior)
    names = {k: pl.lit(v) for k, v in (("level", level), ("subset", subset)) if k not in cells.columns}
    frame = cells.with_columns(**names).select(
        "drug", "event", "level", "subset", "a", "b", "c", "d", "expected").with_columns(
        **{k: pl.Series(v).fill_nan(None) for k, v in measures.items()},
    )
    frame = flag_columns(frame, ror_min_a).with_columns(
        first_quarter=pl.lit(None, dtype=pl.Utf8), is_new=pl.lit(None, dtype=pl.Boolean),
        **{f"first_quarter_{name}": pl.lit(None, dtype=pl.Utf8) for name in PRESETS})
    return frame.select(SIGNAL_COLUMNS)


def compute(counts, settings, level: str = "pt", subset: str = "all", ror_min_a: int = 3):
    """Fit (or take) the prior on a count table and build its signal table: (table, fit report)."""
    from pv.signals.prior import fit_prior, usable_prior

    report = fit_prior(counts, settings)
    frame = signal_table(counts.two_by_two(), usable_prior(report, settings), level, subset, ror_min_a)
    return frame, report
