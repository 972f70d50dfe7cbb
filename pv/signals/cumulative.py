"""Cumulative 2×2 counts of every watched slice, quarter by quarter, in one pass per level.

A *slice* is one watched drug in one subset ("all", a drug-row subset such as
``route=intrathecal``, or a report subset such as ``sex=F``). Every slice is counted
against a *universe*: all reports, or the reports of one report-subset value. At the end
of each quarter q the counts up to q are (methods.md, counting reports):

- a = reports of the slice's drug rows with the event, n_i. = reports of the slice,
  n_.j = reports of the universe with the event, n.. = reports of the universe;
- E = Σ_s n_i.(s)·n_.j(s)/n..(s) over the strata s (pv.signals.strata).

Time as it happened (rule time-as-received, pv.cases.history): the counted unit is a
*record*, one version of a case current from the quarter it was received until a better
version arrived or the case was deleted. A record adds +1 to every count it is in at its
first quarter and −1 at its end, so the counts at q are those of a store holding only the
quarters up to q.

Why one pass: every record starts (and ends) in one quarter and has one *count stratum*
(the strata columns plus the report-subset columns), so the data are grouped ONCE into
per-quarter signed increments keyed by integer codes (slice, event, count stratum, quarter), and
one loop over the quarters (not over rows or slices) adds them into dense matrices:
slices × strata (D), events × strata (V), strata (T) and slices × events (A). A universe
is a set of count strata, so its margins are the same increments with the other strata
masked out: the background is counted once per level, not once per subset.

E of all slices × events is a matrix product D·diag(1/T)·Vᵀ. Most strata do not change in
a given quarter (report year is a stratum): a stratum is *hot* at q when a record of it
starts or ends at q, else its share is the one it had when it last changed, held in a running
matrix C, so each quarter only multiplies the hot strata:
E(q) = C + D[:, hot]·diag(1/T[hot])·V[:, hot]ᵀ. A stratum joins C the quarter after its last
change and leaves it (its share subtracted, as it stood) when it changes again.

Rule ``prefix-stable``: which strata are hot at q, and so every operation on C up to q, depends
only on the records received by q, never on later quarters. So E at q (to the last bit) is the
same in a run on a store holding the quarters up to q and in a run on any later store: adding a
quarter leaves every older quarter's counts and E unchanged (the nightly increment relies on it;
tested in tests/test_signals_increment.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse

from pv.signals.counts import STRATUM, coded_rows
from pv.signals.faers import subset_values

#: count stratum: the strata columns plus the report-subset columns (finer than STRATUM)
COUNT_STRATUM = "_cstratum"
#: dense slices × events block held at once (rows are processed in blocks beyond it)
BLOCK_CELLS = 4_000_000
#: per-record rows (event rows of every report, ...) turned into quarterly increments at once
CHUNK_ROWS = 4_000_000
#: the fixed (rows, events) shape of every product of E (see ``product``): rows a multiple of the
#: BLAS kernel's 4, events of its 8
TILE = (16, 128)


@dataclass
class Slices:
    """The watched slices and the universes they are counted against."""

    rows: pl.DataFrame  # id, _r: one row per report in slice _r
    report: np.ndarray  # the background report index (``_row`` of the universe) of each row
    names: pl.DataFrame  # _r, subset, drug, _u (sorted by _r)
    universes: list[str]  # universe labels, index = _u
    strata_maps: list[np.ndarray]  # per universe: count stratum -> stratum, -1 = outside


@dataclass
class Quarterly:
    """The cumulative counts of every (slice, event) cell seen so far, at every quarter; the
    margins are kept once per quarter (not per cell) and read by ``table``."""

    r: np.ndarray  # slice code (Slices.names._r)
    j: np.ndarray  # event code (index into the level's event names)
    q: np.ndarray  # quarter index
    a: np.ndarray
    expected: np.ndarray
    rows: np.ndarray  # the slice codes of this pass, in the order of drug_margin's columns
    drug_margin: np.ndarray  # quarters × slices of this pass: n_i.
    event_margin: np.ndarray  # quarters × events: n_.j
    total: np.ndarray  # quarters: n..
    running: "Running | None" = None  # the counts at the last quarter (the state a next run advances)

    def table(self, mask: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """a, b, c, d and E of the rows in ``mask`` (all rows without one)."""
        keep = slice(None) if mask is None else mask
        q, a = self.q[keep], self.a[keep].astype(np.int64)
        local = np.searchsorted(self.rows, self.r[keep])
        b = self.drug_margin[q, local] - a
        c = self.event_margin[q, self.j[keep]] - a
        return a, b, c, self.total[q] - a - b - c, self.expected[keep]


def build_slices(universe: pl.DataFrame, watched: pl.DataFrame, subsets: dict[str, tuple[str, str]],
                 wanted: list[str]) -> Slices:
    """Slices of the watched drug rows for "all" and each value of the wanted subsets.

    universe (id, _row, _cstratum, report-subset columns); watched (id, drug, drug-subset columns);
    subsets: name -> (column, "drug" | "report")."""
    strata_of = (universe.group_by(COUNT_STRATUM).agg(pl.col(STRATUM).first(),
                                                      *(pl.col(c).first() for c, k in subsets.values() if k == "report"))
                 .sort(COUNT_STRATUM))
    n_count = int(strata_of[COUNT_STRATUM].max()) + 1
    base = np.full(n_count, -1, dtype=np.int64)
    base[strata_of[COUNT_STRATUM].to_numpy()] = strata_of[STRATUM].to_numpy()
    universes, maps = ["all"], [base]
    pairs = watched.select("id", "drug").unique()
    parts = [pairs.with_columns(subset=pl.lit("all"), _u=pl.lit(0))]
    for name in wanted:
        column, kind = subsets[name]
        for label, value in subset_values(name, column, kind, watched, universe):
            if kind == "drug":
                rows = watched.filter(pl.col(column) == value).select("id", "drug").unique()
                parts.append(rows.with_columns(subset=pl.lit(label), _u=pl.lit(0)))
                continue
            inside = (strata_of[column] == value).fill_null(False).to_numpy()
            maps.append(np.where(np.isin(np.arange(n_count), strata_of[COUNT_STRATUM].to_numpy()[inside]), base, -1))
            ids = universe.filter(pl.col(column) == value).select("id")
            parts.append(pairs.join(ids, on="id", how="semi").with_columns(subset=pl.lit(label),
                                                                          _u=pl.lit(len(universes))))
            universes.append(label)
    every = pl.concat(parts, how="vertical_relaxed")
    names = every.select("subset", "drug", pl.col("_u").cast(pl.Int64)).unique().sort("_u", "subset", "drug")
    names = names.with_row_index("_r").with_columns(pl.col("_r").cast(pl.Int64))
    rows = every.join(names.select("subset", "drug", "_r"), on=["subset", "drug"]).join(
        universe.select("id", "_row"), on="id").select("id", "_r", "_row")
    return Slices(rows.select("id", "_r"), rows["_row"].to_numpy().astype(np.int64), names, universes, maps)


def _increments(report: np.ndarray, part: np.ndarray | None, sizes: tuple[tuple[str, int], ...], quarter: np.ndarray,
                end: np.ndarray, stratum: np.ndarray, n_quarters: int) -> dict[str, np.ndarray]:
    """The signed increments of some rows: each row (the record ``report[k]``, in ``part[k]``, e.g. a slice or an
    event; None: one part) adds +1 at its record's first quarter and −1 at the quarter it stopped being current
    (superseded or deleted; none for a record current at the end), summed per distinct mixed-radix key (quarter,
    part, count stratum; quarter first, so the result is in quarter order) and split back into its parts (``_q``,
    then the named ``sizes``: the part's, then the count stratum's). Rows are keyed ``CHUNK_ROWS`` at a time and
    the chunks' sums merged, so memory follows the distinct keys, not the rows (all sums are whole numbers, exact
    in any order)."""
    n_count = sizes[-1][1]
    radix = int(np.prod([size for _, size in sizes]))
    keys, sums = [], []
    for start in range(0, len(report), CHUNK_ROWS):
        rows = report[start:start + CHUNK_ROWS]
        base = stratum[rows]
        if part is not None:
            base = part[start:start + CHUNK_ROWS].astype(np.int64) * n_count + base
        stop = end[rows]
        ends = stop < n_quarters
        chunk = np.concatenate([quarter[rows] * radix + base, stop[ends] * radix + base[ends]])
        weight = np.concatenate([np.ones(len(rows)), -np.ones(int(ends.sum()))])
        del rows, base, stop, ends
        uniq, inverse = np.unique(chunk, return_inverse=True)
        keys.append(uniq)
        sums.append(np.bincount(inverse, weights=weight))
        del chunk, weight, inverse
        if len(keys) > 1 and sum(map(len, keys)) > CHUNK_ROWS:
            keys, sums = _merged(keys, sums)
    keys, sums = _merged(keys, sums) if keys else ([np.zeros(0, np.int64)], [np.zeros(0)])
    out, rest = {}, keys[0]
    for name, size in reversed(sizes):
        out[name] = rest % size
        rest = rest // size
    out["_q"] = rest
    out["n"] = sums[0].round().astype(np.int64)
    return out


def _merged(keys: list[np.ndarray], sums: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Partial sums per key (sorted, distinct keys per part) as one part."""
    if len(keys) == 1:
        return keys, sums
    uniq, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    return [uniq], [np.bincount(inverse, weights=np.concatenate(sums))]


def _mapped(cols: dict[str, np.ndarray], smap: np.ndarray, n_quarters: int):
    """Increments keyed by count stratum -> keyed by stratum inside one universe (others dropped)."""
    s = smap[cols[COUNT_STRATUM]]
    keep = s >= 0
    out = {k: v[keep] for k, v in cols.items() if k != COUNT_STRATUM}
    out["s"] = s[keep]
    return out, np.searchsorted(out["_q"], np.arange(n_quarters + 1))


def cumulative(slices: Slices, ids: pl.DataFrame, events: pl.DataFrame | pl.LazyFrame, n_quarters: int,
               n_strata: int, since: int = 0, start: Callable[[int, np.ndarray, pl.Series], Running] | None = None
               ) -> tuple[pl.Series, Iterator[tuple[int, Quarterly]]]:
    """The event names of this level and, per universe, the cumulative counts of its slices.

    ids (id, _row, _q, _end, _cstratum): every record of the background, _row = 0..N-1, current
    from quarter _q until _end (exclusive; n_quarters = still current; pv.cases.history);
    events (id, event) of one level (lazy: e.g. the current and the past records' rows, never
    concatenated as strings).

    The per-quarter cell counts are one sparse product: with X the reports × (quarter,
    slice) and Y the reports × events 0/1 matrices, XᵀY holds, for each quarter and slice,
    the reports of that quarter with each event (no join of every slice row with every
    event row of its report). Y needs only the reports of some slice (a zero row of X adds
    nothing), so it holds the watched drugs' reports, not the background. Margins are counts
    per (quarter, slice or event, stratum), from integer codes (event names are coded before
    anything is joined, so no copy of the names is made per row).

    ``since`` > 0 (the nightly increment, pv.signals.increment): only the quarters from ``since`` on
    are looped over, each block of slices starting from ``start(universe, slice rows, event names)``,
    its counts at the end of quarter since − 1; only the records that start or end from ``since``
    on are counted (the others add nothing to those quarters).
    """
    names, event_report, j = coded_rows(events.lazy(), "event", ids.lazy().select("id", "_row"), distinct=True)
    if not ids["_row"].is_sorted():
        ids = ids.sort("_row")
    quarter = _int64(ids["_q"])
    end = _int64(ids["_end"])
    stratum = _int64(ids[COUNT_STRATUM])
    n_reports, n_slices, n_events = len(quarter), slices.names.height, len(names)
    n_count = int(stratum.max()) + 1 if n_reports else 1
    r = slices.rows["_r"].to_numpy().astype(np.int64)
    rep = slices.report
    live = None
    if since:  # the records that start or end in the quarters looped over
        live = (quarter >= since) | ((end >= since) & (end < n_quarters))
        r, rep = r[live[rep]], rep[live[rep]]
    begin, stop = quarter[rep], end[rep]
    ends = np.nonzero(stop < n_quarters)[0]
    k = np.concatenate([np.arange(len(rep)), ends])
    kq = np.concatenate([begin, stop[ends]])
    ks = np.concatenate([np.ones(len(rep), dtype=np.int64), -np.ones(len(ends), dtype=np.int64)])
    x = sparse.csr_matrix((ks, (rep[k], kq * n_slices + r[k])), shape=(n_reports, n_quarters * n_slices))
    sliced = np.zeros(n_reports, dtype=bool)
    sliced[rep] = True
    if live is not None:
        keep = live[event_report]
        event_report, j = event_report[keep], j[keep]
        del keep
    kept = sliced[event_report]
    y = sparse.csr_matrix((np.ones(int(kept.sum()), dtype=np.int64), (event_report[kept], j[kept])),
                          shape=(n_reports, n_events))
    del kept, sliced
    pairs = (x.T.tocsr() @ y).tocoo()  # rows (quarter, slice) in order
    del x, y
    order = np.lexsort((pairs.col, pairs.row))
    cells = {"_q": pairs.row[order] // n_slices, "_r": pairs.row[order] % n_slices,
             "_j": pairs.col[order].astype(np.int64), "n": pairs.data[order].astype(np.int64)}
    del pairs, order
    drug_inc = _increments(rep, r, (("_r", n_slices), (COUNT_STRATUM, n_count)), quarter, end, stratum, n_quarters)
    event_inc = _increments(event_report, j, (("_j", n_events), (COUNT_STRATUM, n_count)), quarter, end, stratum,
                            n_quarters)
    del j, event_report
    total_inc = _increments(np.arange(n_reports) if live is None else np.nonzero(live)[0], None,
                            ((COUNT_STRATUM, n_count),), quarter, end, stratum, n_quarters)
    frames = [cells, drug_inc, event_inc, total_inc]
    if since:  # a record that started before ``since`` is in the state already: only its end is new
        frames = [{k: v[part["_q"] >= since] for k, v in part.items()} for part in frames]
    universe_of = slices.names["_u"].to_numpy()

    def run() -> Iterator[tuple[int, Quarterly]]:
        for u, smap in enumerate(slices.strata_maps):
            rows = np.nonzero(universe_of == u)[0]
            if len(rows) == 0:
                continue
            step = max(1, BLOCK_CELLS // max(1, n_events))
            for first in range(0, len(rows), step):
                block = rows[first:first + step]
                state = start(u, block, names) if since else None
                counted = _universe_pass(block, smap, frames, n_slices, n_events, n_quarters, n_strata, since, state)
                if u or first:  # the background margins are kept once (every universe's are a part of them)
                    counted.running.V = counted.running.T = None
                yield u, counted

    return names, run()


def _int64(column: pl.Series) -> np.ndarray:
    """The column as int64 numbers (no copy when it is one already)."""
    return np.asarray(column.to_numpy(), dtype=np.int64)


def _share(v: np.ndarray, t: np.ndarray) -> np.ndarray:
    """n_.j(s)/n..(s), 0 in a stratum every record has left (n..(s) = 0)."""
    return np.divide(v, t, out=np.zeros_like(v), where=t > 0)


def product(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left · rightᵀ (rows × k by events × k), computed in zero-padded tiles of one fixed shape
    (TILE): a BLAS product's rounding depends on the matrices' shape and on an element's place in
    them, a fixed tile's does not (tested), so each element's bits depend only on its own row of
    ``left`` and of ``right``. Rule prefix-stable needs that: a slice or event that appears later
    (a new row or column, anywhere in the order), or the watched drugs counted in other blocks,
    change no bit of any other cell's E, and a state advanced alone (pv.signals.increment) gives
    the full run's bits."""
    rows, events = TILE
    m, k, n = left.shape[0], left.shape[1], right.shape[0]
    out = np.empty((m, n))
    pad_left, pad_right = np.zeros((rows, k)), np.zeros((events, k))
    for i in range(0, m, rows):
        block = _padded(left[i:i + rows], pad_left)
        for j in range(0, n, events):
            tile = block @ _padded(right[j:j + events], pad_right).T
            out[i:i + rows, j:j + events] = tile[:min(rows, m - i), :min(events, n - j)]
    return out


def _padded(part: np.ndarray, pad: np.ndarray) -> np.ndarray:
    """``part`` as a tile of ``pad``'s shape (its rows, then zeros)."""
    if len(part) == len(pad):
        return part
    pad[:len(part)] = part
    pad[len(part):] = 0
    return pad


@dataclass
class Running:
    """The counts of one block of slices (all in one universe) at the end of the last quarter
    looped over: what the next quarter adds to (pv.signals.increment keeps it between runs).
    D: slices × strata, V: events × strata, T: strata (whole numbers held as floats, exact),
    A: slices × events, C: the held strata's share of E, ``held``: those strata, ``hot``: the
    strata hot at the last quarter (a record of them started or ended)."""

    D: np.ndarray
    V: np.ndarray
    T: np.ndarray
    A: np.ndarray
    C: np.ndarray
    held: np.ndarray
    hot: np.ndarray

    @classmethod
    def empty(cls, n_rows: int, n_events: int, n_strata: int) -> "Running":
        return cls(np.zeros((n_rows, n_strata)), np.zeros((n_events, n_strata)), np.zeros(n_strata),
                   np.zeros((n_rows, n_events), dtype=np.int64), np.zeros((n_rows, n_events)),
                   np.zeros(n_strata, dtype=bool), np.zeros(0, dtype=np.int64))


def _universe_pass(rows: np.ndarray, smap: np.ndarray, frames, n_slices: int, n_events: int, n_quarters: int,
                   n_strata: int, since: int = 0, state: Running | None = None) -> Quarterly:
    """One loop over the quarters for these slice rows (all in one universe): from quarter 0 with
    nothing counted, or from ``since`` with ``state`` the counts at the end of quarter since − 1."""
    cells, drug_inc, event_inc, total_inc = frames
    local = np.full(n_slices, -1, dtype=np.int64)
    local[rows] = np.arange(len(rows))
    keep = local[cells["_r"]] >= 0
    c = {k: v[keep] for k, v in cells.items()}
    cb = np.searchsorted(c["_q"], np.arange(n_quarters + 1))
    keep = local[drug_inc["_r"]] >= 0
    d, db = _mapped({k: v[keep] for k, v in drug_inc.items()}, smap, n_quarters)
    e, eb = _mapped(event_inc, smap, n_quarters)
    t, tb = _mapped(total_inc, smap, n_quarters)
    # rule prefix-stable: hot at q = a record of the stratum starts or ends at q (every report of a
    # slice or with an event is in the universe, so the totals' increments name every such stratum)
    hot_at = {q: np.unique(t["s"][tb[q]:tb[q + 1]]) for q in range(since, n_quarters)}

    s = state or Running.empty(len(rows), n_events, n_strata)
    D, V, T, A, C, held = s.D, s.V, s.T, s.A, s.C, s.held
    hot_at[since - 1] = s.hot
    n_drug = np.zeros((n_quarters, len(rows)), dtype=np.int64)
    n_event = np.zeros((n_quarters, n_events), dtype=np.int64)
    n_total = np.zeros(n_quarters, dtype=np.int64)
    if since:  # the margins at the end of the state's quarter (whole numbers: exact sums)
        n_drug[since - 1] = D.sum(axis=1).round().astype(np.int64)
        n_event[since - 1] = V.sum(axis=1).round().astype(np.int64)
        n_total[since - 1] = int(round(T.sum()))
    out = {k: [] for k in ("r", "j", "q", "a", "expected")}
    for q in range(since, n_quarters):
        hot = hot_at[q]
        reopening = hot[held[hot]]
        if len(reopening):  # their share as it stood, before this quarter's records change it
            C -= product(D[:, reopening], _share(V[:, reopening], T[reopening]))
            held[reopening] = False
        sl = slice(cb[q], cb[q + 1])
        A[local[c["_r"][sl]], c["_j"][sl]] += c["n"][sl]  # (slice, event) is unique per quarter
        sl = slice(db[q], db[q + 1])
        np.add.at(D, (local[d["_r"][sl]], d["s"][sl]), d["n"][sl])
        if q:
            n_drug[q], n_event[q], n_total[q] = n_drug[q - 1], n_event[q - 1], n_total[q - 1]
        np.add.at(n_drug[q], local[d["_r"][sl]], d["n"][sl])
        sl = slice(eb[q], eb[q + 1])
        np.add.at(V, (e["_j"][sl], e["s"][sl]), e["n"][sl])
        np.add.at(n_event[q], e["_j"][sl], e["n"][sl])
        sl = slice(tb[q], tb[q + 1])
        np.add.at(T, t["s"][sl], t["n"][sl])
        n_total[q] += int(t["n"][sl].sum())
        if q:  # hot last quarter, not now: the share is final until the stratum changes again
            cooling = np.setdiff1d(hot_at[q - 1], hot, assume_unique=True)
            if len(cooling):
                C += product(D[:, cooling], _share(V[:, cooling], T[cooling]))
                held[cooling] = True
        rr, jj = np.nonzero(A)
        if len(rr) == 0:
            continue
        E = C + product(D[:, hot], _share(V[:, hot], T[hot])) if len(hot) else C
        out["r"].append(rows[rr].astype(np.int32))
        out["j"].append(jj.astype(np.int32))
        out["q"].append(np.full(len(rr), q, dtype=np.int16))
        out["a"].append(A[rr, jj].astype(np.int32))
        out["expected"].append(E[rr, jj])
    s.hot = hot_at[n_quarters - 1]
    dtypes = {"r": np.int32, "j": np.int32, "q": np.int16, "a": np.int32, "expected": np.float64}
    return Quarterly(**{k: np.concatenate(v) if v else np.zeros(0, dtype=dtypes[k]) for k, v in out.items()},
                     rows=rows, drug_margin=n_drug, event_margin=n_event, total=n_total, running=s)
