"""Cumulative signals quarter by quarter (issue 5 "Time").

At the end of each quarter q the 2×2 table of every watched cell is recounted over what FDA
had published by q (rule time-as-received: each case as its best version received by q,
minus the deleted lists published by q, so exactly what a run at the end of q would count;
cumulative, as a safety reviewer sees the database grow), the measures
recomputed with the run's prior, and the thresholds applied. The counts come from one pass
over the quarters per level (pv.signals.cumulative); this module turns them into measures
and flags:

- ``trend_table``: every measure and flag of the all-reports cells at every quarter (the
  trend.parquet a reviewer plots);
- ``subset_flags``: only the four flags, for the subset cells, whose trend is not
  published: a row that fails a preset's necessary condition (thresholds.candidates: the
  smallest possible count, a disproportionate table, a > E, a posterior mean >= 2) is not
  flagged by it without computing the measure, and the EB05 flag is one posterior-CDF
  evaluation at the bound instead of a quantile solve;
- ``first_flagged``: per cell, the first quarter each threshold was met;
- ``mark_new``: ``is_new`` = flagged now under the run's signal rule and not flagged (or absent)
  in the previous run.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pv.signals import frequentist, ic
from pv.signals.gps import posterior_cdf
from pv.signals.thresholds import EB05_BOUND, FLAG_COLUMNS, PRESETS, candidates, flag_columns, signal_rule_expr

KEYS = ["drug", "event", "level", "subset"]
TREND_MEASURES = ["prr", "prr_lo", "chi2", "ror", "ror_lo", "ic", "ic025", "ebgm", "eb05"]


def trend_table(counts: pl.DataFrame, prior, ror_min_a: int = 3) -> pl.DataFrame:
    """Measures and flags of every (cell, quarter) row of ``counts`` (KEYS, quarter, a, b, c, d,
    expected); EB95 left out: no threshold uses it."""
    from pv.signals.table import measure_columns

    measures = measure_columns(counts, prior, quantiles=(0.05,))
    frame = counts.select(*KEYS, "quarter", "a", "b", "c", "d", "expected").with_columns(
        **{k: pl.Series(v).fill_nan(None) for k, v in measures.items() if k in TREND_MEASURES})
    return flag_columns(frame, ror_min_a).select(KEYS + ["quarter", "a", "b", "c", "d", "expected",
                                                         *TREND_MEASURES, *FLAG_COLUMNS])


def subset_flags(a, b, c, d, expected, prior, ror_min_a: int = 3, lows: dict[str, int] | None = None
                 ) -> dict[str, np.ndarray]:
    """The four flags of every row (False where a preset cannot be met or its measure is
    undefined), measured only on the rows that pass the presets' necessary conditions
    (thresholds.candidates); ``lows``: smallest_count(prior, ror_min_a), once per run."""
    maybe = candidates(a, b, c, d, expected, prior, ror_min_a, lows)
    out = {f"flag_{name}": np.zeros(len(a), dtype=bool) for name in PRESETS}
    rows = np.nonzero(maybe["evans"] | maybe["ror025"] | maybe["ic025"])[0]
    if len(rows):
        ra, rb, rc, rd = (np.asarray(x[rows], dtype=np.float64) for x in (a, b, c, d))
        frame = pl.DataFrame({
            "a": ra, "prr": frequentist.prr(ra, rb, rc, rd)[0], "chi2": frequentist.chi2_yates(ra, rb, rc, rd),
            "ror_lo": frequentist.ror(ra, rb, rc, rd)[1], "ic025": ic.ic_bound(ra, expected[rows], 0.025),
            "eb05": np.full(len(rows), np.nan)}).fill_nan(None)
        flags = flag_columns(frame, ror_min_a)
        for name in ("evans", "ror025", "ic025"):
            out[f"flag_{name}"][rows] = flags[f"flag_{name}"].fill_null(False).to_numpy() & maybe[name][rows]
    rows = np.nonzero(maybe["eb05"])[0]
    if prior is not None and len(rows):
        out["flag_eb05"][rows] = posterior_cdf(a[rows], expected[rows], prior, EB05_BOUND) <= 0.05
    return out


def first_flagged(cell: np.ndarray, quarter: np.ndarray, flag: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct cells flagged at some quarter and the first such quarter (rows in quarter order)."""
    hit = np.nonzero(flag)[0]
    cells, first = np.unique(cell[hit], return_index=True)
    return cells, quarter[hit][first]


def mark_new(current: pl.DataFrame, previous: pl.DataFrame | None, rule: str | None = None) -> pl.DataFrame:
    """is_new = flagged now under the signal rule (thresholds.signal_rule_expr; default any
    threshold) and not flagged under the same rule in the previous run."""
    flagged = signal_rule_expr(rule)
    if previous is None or previous.height == 0:
        return current.with_columns(is_new=flagged)
    before = previous.select(*KEYS, signal_rule_expr(rule).alias("_was")).unique(subset=KEYS)
    return (current.join(before, on=KEYS, how="left", nulls_equal=True)
            .with_columns(is_new=flagged & ~pl.col("_was").fill_null(False)).drop("_was"))
