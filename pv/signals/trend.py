"""Cumulative signals quarter by quarter (issue 5 "Time").

At the end of each quarter q the 2×2 table of every watched cell is recounted over all
reports up to q (cumulative, as a safety reviewer sees the database grow), the measures
recomputed with the run's prior, and the thresholds applied. Because every report belongs
to exactly one quarter, counts up to q are running sums of per-quarter increments: the
data are grouped ONCE by quarter, then one pass over the quarters (not over rows) adds each
quarter's margins into dense drug × stratum and event × stratum arrays and evaluates the
stratified expected counts of the cells seen so far.

``first_quarters``: the first quarter each threshold was met. ``mark_new``: ``is_new`` =
flagged now by any threshold and not flagged (or absent) in the previous run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pv.signals.counts import STRATUM
from pv.signals.thresholds import EB05_BOUND, FLAG_COLUMNS, PRESETS, flag_columns

KEYS = ["drug", "event", "level", "subset"]
TREND_MEASURES = ["prr", "prr_lo", "chi2", "ror", "ror_lo", "ic", "ic025", "ebgm", "eb05"]


def _sorted_by_quarter(frame: pl.DataFrame, n_quarters: int):
    """The rows sorted by quarter code, and where each quarter's rows start."""
    frame = frame.sort("_q")
    return frame, np.searchsorted(frame["_q"].to_numpy(), np.arange(n_quarters + 1))


@dataclass
class Background:
    """Per-quarter increments of the event margins and totals of one universe and level,
    computed once and shared by every drug and drug-level subset counted against them."""

    quarters: pl.Series
    ids: pl.DataFrame  # id, _stratum, _q
    event_inc: pl.DataFrame  # event, _stratum, _q, n
    total_inc: pl.DataFrame  # _stratum, _q, n


def background(event_rows: pl.DataFrame, universe: pl.DataFrame) -> Background:
    """universe (id, quarter, _stratum); event_rows (id, event), one row per report and event."""
    quarters = universe["quarter"].unique().sort()
    qcode = pl.DataFrame({"quarter": quarters, "_q": np.arange(len(quarters))})
    ids = universe.join(qcode, on="quarter").select("id", STRATUM, "_q")
    event_inc = event_rows.join(ids, on="id").group_by("event", STRATUM, "_q").agg(n=pl.len())
    return Background(quarters, ids, event_inc, ids.group_by(STRATUM, "_q").agg(n=pl.len()))


def _share(D, V, T, i, j, strata) -> np.ndarray:
    """Σ_s D[i,s]·V[j,s]/T[s] over the given strata (the stratified E of those strata)."""
    if len(strata) == 0:
        return np.zeros(len(i))
    scaled = V[:, strata] / T[strata][None, :]
    out = np.empty(len(i))
    step = max(1, 4_000_000 // len(strata))
    for start in range(0, len(i), step):
        sl = slice(start, start + step)
        out[sl] = np.einsum("ks,ks->k", D[i[sl]][:, strata], scaled[j[sl]])
    return out


def cumulative_counts(drug_rows: pl.DataFrame, event_rows: pl.DataFrame, bg: Background,
                      n_strata: int) -> pl.DataFrame:
    """Per quarter, the cumulative a, margins and stratified E of every cell seen so far.

    drug_rows (id, drug); event_rows (id, event) and ``bg`` of the same level and universe."""
    quarters, ids = bg.quarters, bg.ids
    drug_rows = drug_rows.select("id", "drug").unique()
    cells = (drug_rows.join(event_rows.select("id", "event"), on="id").join(ids, on="id")
             .group_by("drug", "event", "_q").agg(n=pl.len()))
    if cells.height == 0:
        return pl.DataFrame()
    drugs = cells["drug"].unique().sort()
    events = cells["event"].unique().sort()
    drug_code = pl.DataFrame({"drug": drugs, "_i": np.arange(len(drugs))})
    event_code = pl.DataFrame({"event": events, "_j": np.arange(len(events))})
    pairs = cells.select("drug", "event").unique().sort("drug", "event").with_row_index("_c")
    cells = cells.join(pairs, on=["drug", "event"])
    drug_inc = drug_rows.join(drug_code, on="drug").join(ids, on="id").group_by("_i", STRATUM, "_q").agg(n=pl.len())
    event_inc = bg.event_inc.join(event_code, on="event").select("_j", STRATUM, "_q", "n")
    total_inc = bg.total_inc
    pair_i = pairs.join(drug_code, on="drug", maintain_order="left")["_i"].to_numpy()
    pair_j = pairs.join(event_code, on="event", maintain_order="left")["_j"].to_numpy()

    D = np.zeros((len(drugs), n_strata))
    V = np.zeros((len(events), n_strata))
    T = np.zeros(n_strata)
    A = np.zeros(len(pairs))
    # A stratum is "closed" after its last quarter with reports (report year is a stratum,
    # so most strata close): its share of E no longer changes and is kept in ``closed``,
    # so each quarter only sums the open strata.
    active_q = total_inc.group_by(STRATUM).agg(first=pl.col("_q").min(), last=pl.col("_q").max())
    first_q = np.full(n_strata, np.iinfo(np.int64).max)
    last_q = np.full(n_strata, -1)
    first_q[active_q[STRATUM].to_numpy()] = active_q["first"].to_numpy()
    last_q[active_q[STRATUM].to_numpy()] = active_q["last"].to_numpy()
    closed = np.zeros(len(pairs))
    was_seen = np.zeros(len(pairs), dtype=bool)
    parts = []
    frames = [_sorted_by_quarter(f, len(quarters)) for f in (cells, drug_inc, event_inc, total_inc)]
    for q in range(len(quarters)):
        (c, cb), (d, db), (e, eb), (t, tb) = frames
        cq = c[cb[q]:cb[q + 1]]
        dq = d[db[q]:db[q + 1]]
        eq = e[eb[q]:eb[q + 1]]
        tq = t[tb[q]:tb[q + 1]]
        np.add.at(A, cq["_c"].to_numpy(), cq["n"].to_numpy())
        np.add.at(D, (dq["_i"].to_numpy(), dq[STRATUM].to_numpy()), dq["n"].to_numpy())
        np.add.at(V, (eq["_j"].to_numpy(), eq[STRATUM].to_numpy()), eq["n"].to_numpy())
        np.add.at(T, tq[STRATUM].to_numpy(), tq["n"].to_numpy())
        just_closed = np.nonzero((last_q >= 0) & (last_q == q - 1))[0]
        now_closed = np.nonzero((last_q >= 0) & (last_q < q))[0]
        open_ = np.nonzero((first_q <= q) & (last_q >= q))[0]
        old = np.nonzero(was_seen)[0]
        if len(just_closed) and len(old):
            closed[old] += _share(D, V, T, pair_i[old], pair_j[old], just_closed)
        new = np.nonzero((A > 0) & ~was_seen)[0]
        if len(new) and len(now_closed):
            closed[new] = _share(D, V, T, pair_i[new], pair_j[new], now_closed)
        was_seen[new] = True
        seen = np.nonzero(was_seen)[0]
        i, j = pair_i[seen], pair_j[seen]
        parts.append(pl.DataFrame({
            "_c": seen, "quarter": np.full(len(seen), quarters[q]), "a": A[seen].astype(np.int64),
            "n_drug": D.sum(axis=1)[i].astype(np.int64), "n_event": V.sum(axis=1)[j].astype(np.int64),
            "n_total": np.full(len(seen), int(T.sum()), dtype=np.int64),
            "expected": closed[seen] + _share(D, V, T, i, j, open_),
        }))
    out = pl.concat(parts).join(pairs, on="_c").drop("_c")
    return out.with_columns(b=pl.col("n_drug") - pl.col("a"), c=pl.col("n_event") - pl.col("a")).with_columns(
        d=pl.col("n_total") - pl.col("a") - pl.col("b") - pl.col("c"))


def trend_table(counts: pl.DataFrame, prior, level: str, subset: str, ror_min_a: int = 3,
                full: bool = True) -> pl.DataFrame:
    """Measures and flags of every (cell, quarter) row (EB95 left out: no threshold uses it).

    ``full=False`` keeps only the flags (for the first quarter each was met), with the EB05
    flag from one posterior-CDF evaluation at the bound instead of a quantile solve."""
    from pv.signals.gps import posterior_cdf
    from pv.signals.table import measure_columns

    if counts.height == 0:
        return pl.DataFrame()
    base = counts.select("drug", "event", "quarter", "a", "b", "c", "d", "expected").with_columns(
        level=pl.lit(level), subset=pl.lit(subset))
    if full:
        measures = measure_columns(counts, prior, quantiles=(0.05,))
        frame = base.with_columns(**{k: pl.Series(v).fill_nan(None) for k, v in measures.items()
                                     if k in TREND_MEASURES})
        return flag_columns(frame, ror_min_a).select(KEYS + ["quarter", "a", "b", "c", "d", "expected",
                                                             *TREND_MEASURES, *FLAG_COLUMNS])
    measures = measure_columns(counts, None, quantiles=())
    frame = base.with_columns(**{k: pl.Series(v).fill_nan(None) for k, v in measures.items()
                                 if k in ("prr", "chi2", "ror_lo", "ic025")}, eb05=pl.lit(None, dtype=pl.Float64))
    frame = flag_columns(frame, ror_min_a)
    if prior is not None:
        below = posterior_cdf(counts["a"].to_numpy(), counts["expected"].to_numpy(), prior, EB05_BOUND) <= 0.05
        frame = frame.with_columns(flag_eb05=pl.Series(below))
    return frame.select(KEYS + ["quarter", *FLAG_COLUMNS])


def first_quarters(trend: pl.DataFrame) -> pl.DataFrame:
    """Per cell, the first quarter each threshold was met (null: never), and the earliest of them."""
    cols = {f"first_quarter_{name}": pl.col("quarter").filter(pl.col(f"flag_{name}")).min() for name in PRESETS}
    out = trend.group_by(KEYS).agg(**cols)
    return out.with_columns(first_quarter=pl.min_horizontal(list(cols)))


def mark_new(current: pl.DataFrame, previous: pl.DataFrame | None) -> pl.DataFrame:
    """is_new = flagged now by any threshold and not flagged by any in the previous run."""
    flagged = pl.any_horizontal([pl.col(c).fill_null(False) for c in FLAG_COLUMNS])
    if previous is None or previous.height == 0:
        return current.with_columns(is_new=flagged)
    before = previous.select(*KEYS, pl.any_horizontal([pl.col(c).fill_null(False) for c in FLAG_COLUMNS])
                             .alias("_was")).unique(subset=KEYS)
    return (current.join(before, on=KEYS, how="left", nulls_equal=True)
            .with_columns(is_new=flagged & ~pl.col("_was").fill_null(False)).drop("_was"))
