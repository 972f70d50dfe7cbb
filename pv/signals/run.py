"""``pvmon signals``: the signal table of design.md for the watchlist, from cases/.

One run, in order:
1. read the case tables (pv.signals.faers: roles, dedup filter, background, event levels);
2. count the PT level for ALL drugs and fit the GPS prior on it (the complete background);
   group and domain levels have too few columns to fit a prior of their own and use the
   PT-level prior (recorded in run.json);
3. for each level (pt, group, domain) and subset (all reports, then each value of route,
   indication, dose band, sex, age band), count the watched drugs against the full
   background and compute every measure and flag;
4. cumulative quarter-by-quarter trend of the same cells (all measures for all reports;
   for subsets only the flags, which give the first quarter each threshold was met), and
   ``is_new`` against the previous run;
5. write ``signals/<run_id>/signals.parquet``, ``trend.parquet`` and ``run.json`` (inputs
   with sha256, options, prior fit, seed versions, code version) in one atomic folder swap.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

from pv.atomic import atomic_dir
from pv.lake.lock import holds_store_lock
from pv.config import Home, env_number
from pv.errors import PvError
from pv.lake.integrity import require_intact
from pv.cases import increment as cases_increment
from pv.signals import faers, increment
from pv.signals.counts import STRATUM, report_counts, stratum_codes
from pv.signals.cumulative import COUNT_STRATUM, Slices, build_slices, cumulative
from pv.signals.frequentist import ZERO_CELL_RULE
from pv.signals.prior import PriorSettings, fit_prior, usable_prior
from pv.signals.provenance import code_version, file_fingerprint, utc_now, write_run_json
from pv.signals.table import SIGNAL_COLUMNS, signal_table
from pv.signals.thresholds import (FLAG_COLUMNS, PRESETS, SIGNAL_RULE_DEFAULT, signal_rule_meaning, signal_rule_name,
                                  smallest_count)
from pv.signals.trend import KEYS, first_flagged, mark_new, subset_flags, trend_table
from pv.triage import carry_over, record_reopened

LEVELS = ("pt", "group", "domain")
#: subset rows (slice x event x quarter) whose flags are computed at once
SUBSET_ROWS = 2_000_000


@dataclass
class SignalOptions:
    drugs: list[str] | None = None  # None: the watchlist seed
    roles: str = "ps+ss"
    dedup: bool = True
    strata: tuple[str, ...] = faers.DEFAULT_STRATA
    subsets: tuple[str, ...] = tuple(faers.SUBSETS)
    levels: tuple[str, ...] = LEVELS
    trend: bool = True
    prior: PriorSettings = field(default_factory=PriorSettings)
    ror_min_a: int = 3
    #: rule ``subset-min-reports``: a subset row (route, dose band, indication, sex, age band)
    #: whose drug has fewer reports in the subset (a + b) than this is shown but never flagged:
    #: a handful of reports split by a subset says nothing a reviewer can act on, and every
    #: extra subset is one more test (the all-reports row is never held back)
    subset_min_reports: int = 10
    signal_rule: str = SIGNAL_RULE_DEFAULT  # what "flagged" means (thresholds.parse_signal_rule)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["prior"] = self.prior.to_dict()
        return out


def _check_subset(name: str) -> None:
    if name not in faers.SUBSETS:
        raise PvError(f"signals: unknown subset {name!r} ({', '.join(faers.SUBSETS)})")


def _rounded(timings: dict) -> dict:
    return {k: _rounded(v) if isinstance(v, dict) else round(v, 3) for k, v in timings.items()}


def _subset_slices(inputs: faers.FaersInputs, watched: pl.DataFrame, subsets):
    """(label, universe label, watched drug rows, universe) for all reports and each subset value."""
    out = [("all", "all", watched, inputs.universe)]
    for name in subsets:
        _check_subset(name)
        column, kind = faers.SUBSETS[name]
        for label, value in faers.subset_values(name, column, kind, watched, inputs.universe):
            if kind == "drug":
                out.append((label, "all", watched.filter(pl.col(column) == value), inputs.universe))
            else:
                out.append((label, label, watched, inputs.universe.filter(pl.col(column) == value)))
    return out


def _trend_inputs(inputs: faers.FaersInputs, watched: pl.DataFrame, subsets, strata: list[str]):
    """Every record the trend counts (the current cases and, rule time-as-received, the past
    versions of cases/history/, each from its quarter until it was superseded or deleted) with
    quarter indices (``_q`` from, ``_end`` until, exclusive) and stratum codes; the quarters; the
    slices; the event rows per level; the number of strata; each stratum's values (its code, the strata columns)."""
    report_cols = [faers.SUBSETS[n][0] for n in subsets if faers.SUBSETS[n][1] == "report"]
    columns = ["id", "quarter", *dict.fromkeys([*strata, *(c for c, k in faers.SUBSETS.values() if k == "report")])]
    universe = inputs.universe.select(*columns, pl.lit(None, dtype=pl.Utf8).alias("valid_to"))
    events = dict(inputs.events)
    past = inputs.past
    if past is not None and past.universe.height:
        universe = pl.concat([universe, past.universe.select(*columns, "valid_to")], how="vertical_relaxed")
        names = watched["drug"].unique().implode()
        watched = pl.concat([watched, past.drugs.filter(pl.col("drug").is_in(names)).select(watched.columns)],
                            how="vertical_relaxed")
        # lazily: each level's rows are read (as integer codes) by its own pass, never copied here
        events = {level: pl.concat([rows.lazy(), past.events[level].lazy()]) for level, rows in events.items()}
    count_cols = list(dict.fromkeys([*strata, *report_cols]))
    universe = stratum_codes(universe.lazy(), strata).collect()
    if set(report_cols) <= set(strata):  # the default: subsets of the report are strata already
        codes = universe[STRATUM]
    else:
        codes = stratum_codes(universe.select(count_cols).lazy(), count_cols).collect()[STRATUM]
    quarters = pl.concat([universe["quarter"], universe["valid_to"].drop_nulls()]).unique().sort()
    index = lambda c: pl.col(c).cast(pl.Enum(quarters)).to_physical().cast(pl.Int64)  # noqa: E731
    universe = universe.with_columns(
        codes.alias(COUNT_STRATUM), index("quarter").alias("_q"),
        index("valid_to").fill_null(len(quarters)).alias("_end")).with_row_index("_row")
    slices = build_slices(universe, watched, {n: faers.SUBSETS[n] for n in subsets}, list(subsets))
    n_strata = int(universe[STRATUM].max()) + 1
    ids = universe.select("id", "_row", pl.col("_q", "_end").cast(pl.Int32), pl.col(COUNT_STRATUM).cast(pl.Int32))
    kinds = universe.select(STRATUM, *strata).unique(STRATUM).sort(STRATUM)
    return ids, quarters, slices, events, n_strata, kinds


class Comparator:
    """Rule subset-comparator: a drug subset (route, dose band, indication) is compared with the
    reports that do not name the drug, like the all-reports row, so the drug's other subsets
    are not in its c and d: c, d of the subset row = c, d of the drug's all-reports row for the
    same event and quarter (N = the subset's reports + the reports without the drug). The
    expected count keeps the event's rate over all reports (as the all-reports row's E)."""

    def __init__(self, slices: Slices, n_events: int, n_quarters: int, passes):
        names = slices.names
        self.drug = np.unique(names["drug"].to_numpy(), return_inverse=True)[1].astype(np.int64)
        self.swap = ((names["_u"] == 0) & (names["subset"] != "all")).to_numpy()  # drug subsets
        self.size = (n_events, n_quarters)
        keys, cs, ds = [], [], []
        full = (names["subset"] == "all").to_numpy()
        for counted in passes:
            rows = full[counted.r]
            if rows.any():
                _, _, c, d, _ = counted.table(rows)
                keys.append(self._key(counted, rows))
                cs.append(c)
                ds.append(d)
        keys = np.concatenate(keys) if keys else np.zeros(0, np.int64)
        order = np.argsort(keys)
        self.keys = keys[order]
        self.c = np.concatenate(cs)[order] if cs else keys
        self.d = np.concatenate(ds)[order] if ds else keys

    def _key(self, counted, rows) -> np.ndarray:
        n_events, n_quarters = self.size
        return (self.drug[counted.r[rows]] * n_events + counted.j[rows]) * n_quarters + counted.q[rows]

    def table(self, counted, rows) -> tuple[np.ndarray, ...]:
        """a, b, c, d, E of ``rows`` (a mask) with the drug subsets' c, d from the drug's all-reports row."""
        a, b, c, d, e = counted.table(rows)
        swap = self.swap[counted.r[rows]]
        if swap.any():
            key = self._key(counted, rows)[swap]
            at = np.searchsorted(self.keys, key)
            if not (at < len(self.keys)).all() or not (self.keys[np.minimum(at, len(self.keys) - 1)] == key).all():
                raise PvError("signals: a drug-subset cell without its drug's all-reports cell")
            c, d = c.copy(), d.copy()
            c[swap], d[swap] = self.c[at], self.d[at]
        return a, b, c, d, e


def _cell_frame(slices: Slices, events: pl.Series, quarters: pl.Series, level: str, counted, rows,
                comparator: Comparator) -> pl.DataFrame:
    """Named rows (KEYS, quarter, a, b, c, d, expected) of the cumulative counts ``rows``."""
    r, j, q = counted.r[rows], counted.j[rows], counted.q[rows]
    a, b, c, d, expected = comparator.table(counted, rows)
    return pl.DataFrame({
        "drug": slices.names["drug"].gather(r), "event": events.gather(j), "level": pl.repeat(level, len(r), eager=True),
        "subset": slices.names["subset"].gather(r), "quarter": quarters.gather(q), "a": a, "b": b, "c": c,
        "d": d, "expected": expected, "_k": r.astype(np.int64) * len(events) + j})


class Stopwatch:
    """Wall and CPU seconds per named part (CPU of all this process's threads: on a shared
    machine other jobs inflate the wall time, much less the CPU time)."""

    def __init__(self):
        self.wall: dict = {}
        self.cpu: dict = {}
        self.started = time.perf_counter(), time.process_time()

    def totals(self) -> tuple[dict, dict]:
        """Wall and CPU per part, with ``total`` (since the start unless set: a run measured in pieces)."""
        wall, cpu = self.started
        return (_rounded(self.wall | {"total": self.wall.get("total", time.perf_counter() - wall)}),
                _rounded(self.cpu | {"total": self.cpu.get("total", time.process_time() - cpu)}))

    @contextmanager
    def part(self, *key: str):
        t, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            for store, value in ((self.wall, time.perf_counter() - t), (self.cpu, time.process_time() - c)):
                for k in key[:-1]:
                    store = store.setdefault(k, {})
                store[key[-1]] = store.get(key[-1], 0.0) + value


def _held_back(flags: dict[str, np.ndarray], a, b, min_reports: int) -> dict[str, np.ndarray]:
    """Subset flags off where the drug has fewer than ``min_reports`` reports in the subset."""
    enough = (np.asarray(a) + np.asarray(b)) >= min_reports
    return {k: v & enough for k, v in flags.items()}


def _trend_level(level, slices: Slices, ids, events, quarters, n_strata, prior, ror_min_a, lows, clock: Stopwatch,
                 min_reports: int = 0, carry: increment.Carry | None = None, keep: bool = False):
    """Signal table, published trend (all reports) and state (pv.signals.increment) of one level's slices;
    seconds on ``clock`` under the level: count (the one pass, all slices), trend (measures of the
    all-reports rows), subsets (flags of the subset rows), table (the last quarter's signal table).
    With ``carry`` (the last run's state), only the new quarters are counted and measured; the older
    quarters' first flags come from the state and the older trend rows from the last run."""
    since = carry.since if carry else 0
    with clock.part(level, "count"):
        names, passes = cumulative(slices, ids, events, len(quarters), n_strata, since,
                                   carry.starter(level) if carry else None)
        is_all = (slices.names["subset"] == "all").to_numpy()
        last = len(quarters) - 1
        lasts, trends, flagged = [], [], {name: [] for name in PRESETS}
        kept = []  # the subset rows the EB05 flag may be set on (the state's, when ``keep``)
        passes = [counted for _, counted in passes]  # every block first: the comparator needs the all-reports rows
        comparator = Comparator(slices, len(names), len(quarters), passes)
    for counted in passes:
        cell = counted.r.astype(np.int64) * len(names) + counted.j
        full = is_all[counted.r]
        with clock.part(level, "trend"):
            if full.any():  # all reports: every measure, published
                trend = trend_table(_cell_frame(slices, names, quarters, level, counted, full, comparator), prior,
                                    ror_min_a)
                trends.append(trend)
                for name in PRESETS:
                    flag = trend[f"flag_{name}"].fill_null(False).to_numpy()
                    flagged[name].append(first_flagged(cell[full], counted.q[full], flag))
        with clock.part(level, "subsets"):
            for rows in _slice_groups(counted.r, ~full):  # subsets: flags only, for the first quarters
                table = comparator.table(counted, rows)
                flags = _held_back(subset_flags(*table, prior, ror_min_a, lows), *table[:2], min_reports)
                if keep:  # rule subset-min-reports: a row held back is never flagged, whatever the prior
                    enough = (np.asarray(table[0]) + np.asarray(table[1])) >= min_reports
                    kept.append((cell[rows][enough], counted.q[rows][enough], table[0][enough], table[4][enough]))
                del table
                for name in PRESETS:
                    flagged[name].append(first_flagged(cell[rows], counted.q[rows], flags[f"flag_{name}"]))
        with clock.part(level, "table"):
            lasts.append(_cell_frame(slices, names, quarters, level, counted, counted.q == last, comparator))
    if not lasts:
        return None, None, None
    with clock.part(level, "state"):
        eb05_rows = _eb05_rows(len(names), kept)
        if carry:
            older, eb05_rows, flagged = _carried(level, carry, names, prior, lows, flagged, eb05_rows)
            trends = [older, *trends]
        state = increment.level_state(level, slices, names, quarters, passes, flagged, eb05_rows)
    with clock.part(level, "table"):
        table = _level_table(level, lasts, flagged, quarters, prior, ror_min_a)
        return subset_minimum(table, min_reports), pl.concat(trends) if trends else None, state


def _eb05_rows(n_events: int, kept) -> pl.DataFrame:
    """The state's subset rows the EB05 flag may be set on: r, j, q (codes), a, expected."""
    cell, q, a, e = (np.concatenate(part) for part in zip(*kept)) if kept else (
        np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    return pl.DataFrame({"r": cell // n_events, "j": cell % n_events, "q": q, "a": a, "expected": e},
                        schema={"r": pl.Int32, "j": pl.Int32, "q": pl.Int16, "a": pl.Int32, "expected": pl.Float64})


def _carried(level, carry: increment.Carry, names, prior, lows, flagged, eb05_rows):
    """The older quarters from the state: (older trend rows with the prior's columns recomputed, every kept
    EB05 row, the first flags of every quarter)."""
    state = carry.state.levels[level]
    older = carry.older.filter(pl.col("level") == level)
    flagged = {name: list(parts) for name, parts in flagged.items()}
    for name in increment.PRIOR_FREE:  # unchanged by a refitted prior
        first = state.first.filter(pl.col("preset") == name)
        flagged[name].append((carry.codes(level, names, first), first["q"].to_numpy().astype(np.int64)))
    hit = older["flag_eb05"].fill_null(False).to_numpy()
    flagged["eb05"].append((carry.cells(names, older)[hit], carry.quarter_index(older["quarter"])[hit]))
    rows, cell = state.eb05, carry.codes(level, names, state.eb05)
    hit = increment.eb05_flags(rows["a"].to_numpy(), rows["expected"].to_numpy(), prior, lows)
    flagged["eb05"].append((cell[hit], rows["q"].to_numpy().astype(np.int64)[hit]))
    rows = rows.with_columns(r=pl.Series(cell // len(names), dtype=pl.Int32),  # in this run's codes
                             j=pl.Series(cell % len(names), dtype=pl.Int32))
    for name in PRESETS:
        flagged[name] = [increment.first_of(*zip(*flagged[name]))]
    return older, pl.concat([rows, eb05_rows]), flagged


def _slice_groups(r: np.ndarray, mask: np.ndarray) -> Iterator[np.ndarray]:
    """The rows in ``mask`` as masks of whole slices (``r``: each row's slice), about SUBSET_ROWS rows each:
    the subset flags are computed one group at a time (memory bounded), and a cell (slice, event) is never
    split, so each group gives every quarter of its cells (first_flagged)."""
    if not mask.any():
        return
    codes, counts = np.unique(r[mask], return_counts=True)
    group_of = np.full(int(r.max()) + 1, -1, dtype=np.int64)
    group_of[codes] = (np.cumsum(counts) - counts) // SUBSET_ROWS
    group = np.where(mask, group_of[r], -1)
    for g in range(int(group_of.max()) + 1):
        yield group == g


def subset_minimum(table: pl.DataFrame, min_reports: int) -> pl.DataFrame:
    """Rule subset-min-reports on a signal table: subset rows with a + b < min_reports unflagged."""
    small = (pl.col("subset") != "all") & ((pl.col("a") + pl.col("b")) < min_reports)
    return table.with_columns(pl.when(small).then(pl.lit(False)).otherwise(pl.col(f)).alias(f) for f in FLAG_COLUMNS)


def _level_table(level, lasts, flagged, quarters, prior, ror_min_a) -> pl.DataFrame:
    """The last quarter's cells with every measure and the first quarter each threshold was met."""
    cells = pl.concat(lasts)
    k = cells["_k"].to_numpy()
    firsts = {}
    for name in PRESETS:
        hit = np.concatenate([c for c, _ in flagged[name]]) if flagged[name] else np.zeros(0, np.int64)
        first = np.concatenate([q for _, q in flagged[name]]) if flagged[name] else np.zeros(0, np.int64)
        order = np.argsort(hit)
        hit, first = hit[order], first[order]
        pos = np.minimum(np.searchsorted(hit, k), max(len(hit) - 1, 0))
        found = hit[pos] == k if len(hit) else np.zeros(len(k), dtype=bool)
        index = np.where(found, first[pos] if len(first) else 0, 0).astype(np.int64)
        firsts[f"first_quarter_{name}"] = pl.select(pl.when(pl.Series(found)).then(quarters.gather(index))).to_series()
    return signal_table(cells, prior, level, ror_min_a=ror_min_a).with_columns(**firsts).with_columns(
        first_quarter=pl.min_horizontal(list(firsts))).select(SIGNAL_COLUMNS)


def _previous_run(home: Home, exclude: str) -> tuple[str | None, pl.DataFrame | None]:
    runs = sorted((p for p in home.signals.glob("*/signals.parquet") if p.parent.name != exclude),
                  key=lambda p: (p.stat().st_mtime, p.parent.name))
    if not runs:
        return None, None
    return runs[-1].parent.name, pl.read_parquet(runs[-1])


def new_run_id(home: Home) -> str:
    base = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_id, k = base, 1
    while (home.signals / run_id).exists():
        k += 1
        run_id = f"{base}-{k}"
    return run_id


def _fit(inputs: faers.FaersInputs, options: SignalOptions, strata: list[str], clock: Stopwatch):
    """(fit, prior, PT cells of the background): step 2, the PT level of all drugs."""
    with clock.part("prior"):
        all_pt = report_counts(inputs.drugs.lazy(), inputs.events["pt"].lazy(), inputs.universe.lazy(), strata)
        fit = fit_prior(all_pt, options.prior)
        return fit, usable_prior(fit, options.prior), all_pt.cells.height


def _measure(inputs: faers.FaersInputs, watched_names: list[str], options: SignalOptions, strata: list[str],
             prior, clock: Stopwatch, kept: increment.State | None = None, states: dict | None = None):
    """(signal tables, trend tables) of the watched drugs at ``options.levels``. Each drug's rows depend
    only on that drug and the background, so drugs and levels may be measured apart (pv.signals.tasks)."""
    watched = inputs.drugs.filter(pl.col("drug").is_in(watched_names))

    # 3-4. every level x subset for the watched drugs. With the trend on, one pass over the
    # quarters per level counts every slice (pv.signals.cumulative) and the table is the
    # trend's last quarter (the same counts, tested).
    tables, trends = [], []
    if options.trend:
        for name in options.subsets:
            _check_subset(name)
        with clock.part("slices"):
            ids, quarters, slices, events, n_trend_strata, kinds = _trend_inputs(inputs, watched, options.subsets,
                                                                                 strata)
            lows = smallest_count(prior, options.ror_min_a)
        carry = _carry(kept, quarters, slices, kinds, states)
        if carry is not None:
            with clock.part("state"):
                carry.older = increment.older_trend(kept, prior)
        for level in options.levels:
            table, trend, state = _trend_level(level, slices, ids, events[level], quarters, n_trend_strata, prior,
                                               options.ror_min_a, lows, clock, options.subset_min_reports, carry,
                                               states is not None)
            tables += [table] if table is not None else []
            trends += [trend] if trend is not None else []
            if states is not None and state is not None:
                states["levels"][level] = state
        if states is not None:
            states.update(quarters=quarters.to_list(), strata=kinds, slices=slices.names.select(
                "subset", "drug", universe=pl.Series([slices.universes[u] for u in slices.names["_u"]])))
    else:
        for level in options.levels:
            with clock.part(level):
                overall = None
                for label, universe_label, drug_rows, universe in _subset_slices(inputs, watched, options.subsets):
                    if drug_rows.height == 0 or universe.height == 0:
                        continue
                    counted = report_counts(drug_rows.lazy(), inputs.events[level].lazy(), universe.lazy(), strata)
                    if not counted.cells.height:
                        continue
                    cells = counted.two_by_two()
                    if label == "all":
                        overall = cells.select("drug", "event", "c", "d")
                    elif universe_label == "all":  # rule subset-comparator (see Comparator)
                        cells = cells.drop("c", "d").join(overall, on=["drug", "event"], how="left",
                                                          maintain_order="left")
                    tables.append(subset_minimum(signal_table(cells, prior, level, label, options.ror_min_a),
                                                 options.subset_min_reports))

    return tables, trends


def _carry(kept: increment.State | None, quarters, slices, kinds, states: dict | None):
    """The last run's state mapped onto this run, or None (a full count). Says which, in one line
    (pv.signals.increment.tell)."""
    if states is None:
        return None
    why = states.get("why")
    if kept is not None:
        carry = increment.Carry(kept, quarters, slices, kinds)
        why = carry.why
        if not why:
            increment.tell(f"increment: {', '.join(quarters[carry.since:].to_list())} added")
            return carry
    increment.tell(f"full: {why or 'asked for'}")
    return None


_NO_CELLS = {"drug": pl.Utf8, "event": pl.Utf8, "level": pl.Utf8, "subset": pl.Utf8, **{k: pl.Int64 for k in "abcd"},
             "expected": pl.Float64}


def empty_signal_table() -> pl.DataFrame:
    """A signal table with no row, every column typed (a run in which no watched drug occurs)."""
    return signal_table(pl.DataFrame(schema=_NO_CELLS), None)


def empty_trend_table() -> pl.DataFrame:
    """A trend table with no row, every column typed."""
    return trend_table(pl.DataFrame(schema={**_NO_CELLS, "quarter": pl.Utf8}), None)


def drug_chunks(names: list[str]) -> list[list[str]]:
    """The watched drugs in the chunks measured apart: ``$PV_SIGNAL_CHUNK`` drugs each (a whole number;
    default 0: all in one). A scheduler runs one task per level and chunk (pv.signals.tasks); a run in one
    process measures the same chunks, so both give the same values to the last bit (a matrix product's
    rounding depends on how many drugs it holds). One chunk is fastest in one process: each chunk
    counts the background again."""
    size = env_number("PV_SIGNAL_CHUNK", 0, "a whole number >= 0 (0: all drugs in one chunk)")
    if size != int(size):
        raise PvError(f"PV_SIGNAL_CHUNK={size:g}: must be a whole number >= 0 (0: all drugs in one chunk)")
    size = int(size) or max(1, len(names))
    return [names[i:i + size] for i in range(0, len(names), size)]


@holds_store_lock
def run_signals(home: Home, options: SignalOptions | None = None, group_table: pl.DataFrame | None = None,
                domain_table: pl.DataFrame | None = None, run_id: str | None = None) -> Path:
    """Compute and write one signals run; return its folder."""
    clock = Stopwatch()
    options, inputs, strata, watched_names, prior, facts = prepare(home, options, group_table, domain_table, clock)
    states = None
    if watched_names:
        tables, trends = [], []
        chunks = drug_chunks(watched_names)
        kept = None
        if options.trend and len(chunks) == 1:  # rule signals-increment: the last run's state, if it may be advanced
            with clock.part("state"):
                who = increment.identity(options.to_dict(), watched_names, _seed_versions(group_table, domain_table),
                                         code_version())
                kept, why = increment.usable(home, who, group_table, domain_table)
                states = {"levels": {}, "why": why, "identity": who}
        for chunk in chunks:  # as the scheduler's pieces (pv.signals.tasks): same values
            more, more_trends = _measure(inputs, chunk, options, strata, prior, clock, kept, states)
            tables, trends = tables + more, trends + more_trends
        del inputs, more, more_trends, kept  # the case tables are not written: freed before the tables are
    else:
        tables, trends = [empty_signal_table()], [empty_trend_table()]
    return write_run(home, options, facts, tables, trends, clock, run_id, group_table, domain_table, states)


def read_signal_inputs(home: Home, options: SignalOptions, group_table: pl.DataFrame | None = None,
                       domain_table: pl.DataFrame | None = None) -> faers.FaersInputs:
    """The case tables a run counts (pv.signals.faers), with stratum codes and the events coded."""
    strata = list(options.strata)
    inputs = faers.read_inputs(home, options.roles, options.dedup, strata, group_table, domain_table, coded=True)
    inputs.universe = stratum_codes(inputs.universe.lazy(), strata).collect()
    return inputs


def prepare(home: Home, options: SignalOptions | None, group_table: pl.DataFrame | None,
            domain_table: pl.DataFrame | None, clock: Stopwatch):
    """Steps 1-2: (options, inputs, strata, watched drugs present, prior, facts for run.json)."""
    require_intact(home)  # rule store_integrity: never compute on a damaged store
    options = options or SignalOptions()
    options.signal_rule = signal_rule_name(options.signal_rule)  # refuses an unknown threshold before any work
    strata = list(options.strata)
    with clock.part("read"):
        inputs = read_signal_inputs(home, options, group_table, domain_table)
    n_strata = int(inputs.universe[STRATUM].max()) + 1

    wanted = [d.lower() for d in (options.drugs or faers.watchlist_drugs())]
    present = set(inputs.drugs["drug"].unique().to_list())
    watched_names = [d for d in wanted if d in present]
    empty = None
    if watched_names:
        fit, prior, pt_cells = _fit(inputs, options, strata, clock)
        faers.keep_drugs(inputs, watched_names)
    else:  # rule no-watched-drug: a run that says so, not a failure (FDA's first lines of a quarter)
        empty = f"none of {', '.join(wanted)} occurs as a drug in roles {options.roles}: no signal to compute"
        fit, prior, pt_cells = None, None, None
    facts = {
        "inputs": [file_fingerprint(p) for p in inputs.sources],
        "drugs": {"requested": wanted, "reported": watched_names,
                  "absent": [d for d in wanted if d not in present]},
        "background": {"reports": inputs.universe.height, "drugs": len(present), "strata": n_strata,
                       "pt_cells": pt_cells},
        "empty": empty,
        "gps_fit": None if fit is None else fit.to_dict(),
        "gps_prior_used": None if prior is None else prior.to_dict(),
    }
    return options, inputs, strata, watched_names, prior, facts


def write_run(home: Home, options: SignalOptions, facts: dict, tables: list[pl.DataFrame],
              trends: list[pl.DataFrame], clock: Stopwatch, run_id: str | None = None,
              group_table: pl.DataFrame | None = None, domain_table: pl.DataFrame | None = None,
              states: dict | None = None) -> Path:
    """Step 5: the measured tables as ``signals/<run_id>/`` (with is_new, triage carried over, run.json, and
    the state a next run may advance: pv.signals.increment)."""
    with clock.part("assemble"):
        signals = pl.concat(tables, how="vertical_relaxed")
        trend = pl.concat(trends, how="vertical_relaxed") if trends else None
        run_id = run_id or new_run_id(home)
        previous_id, previous = _previous_run(home, run_id)
        signals = mark_new(signals.drop("is_new"), previous, options.signal_rule).select(SIGNAL_COLUMNS).sort(KEYS)
        signals, reopened = carry_over(home, signals, run_id)  # rules triage-carry, triage-reopen

    record = {
        "kind": "pvmon signals",
        "run_id": run_id,
        "created": utc_now(),
        **facts,
        "options": options.to_dict(),
        "gps_prior_scope": "fitted on the PT level, all drugs; applied to every level, subset and quarter",
        "ebgm_published": facts["gps_prior_used"] is not None,
        "zero_cell_rule": ZERO_CELL_RULE,
        "subset_min_reports": {"value": options.subset_min_reports,
                               "rule": "a subset row whose drug has fewer reports in the subset (a + b) is shown "
                                       "but never flagged"},
        "thresholds": PRESETS,
        "signal_rule": {"rule": options.signal_rule, "means": signal_rule_meaning(options.signal_rule)},
        "previous_run": previous_id,
        "triage_reopened": [{"drug": c.drug, "event": c.event, "level": c.level, "why": c.note} for c in reopened],
        "rows": {"signals": signals.height, "trend": 0 if trend is None else trend.height},
        "seeds": _seed_versions(group_table, domain_table),
        "code": code_version(),
    }
    record["seconds"], record["cpu_seconds"] = clock.totals()
    target = home.signals / run_id
    with atomic_dir(target) as tmp:
        signals.write_parquet(tmp / "signals.parquet")
        if trend is not None:
            trend.sort([*KEYS, "quarter"]).write_parquet(tmp / "trend.parquet")
        write_run_json(tmp / "run.json", record)
        if states is not None and states["levels"]:
            with clock.part("state"):
                _write_state(home, tmp, states)
    record_reopened(home, reopened)
    return target


def _write_state(home: Home, tmp: Path, states: dict) -> None:
    """``state/`` of the run (pv.signals.increment): what this run counted from and up to."""
    meta = {"identity": states["identity"], "quarters": states["quarters"], "levels": list(states["levels"]),
            "cases_build": cases_increment.build_id(home.cases)}
    state = increment.State(meta, states["strata"], states["slices"], states["levels"])
    increment.write(tmp / increment.STATE, state)
    increment.flagged_cases(home).filter(pl.col("quarter").is_in(states["quarters"])).write_parquet(
        tmp / increment.STATE / "flagged.parquet")


def _seed_versions(group_table, domain_table) -> dict:
    out = {}
    if group_table is None:
        from pv.vocab.pts import load_event_groups

        seed = load_event_groups()
        out["event_groups"] = {"version": seed.version, "sources": list(seed.sources)}
    else:
        out["event_groups"] = "given as a table"
    if domain_table is None:
        from pv.vocab.receptors import load_receptor_map
        from pv.vocab.seeds import override_path

        versions = load_receptor_map()["version"].unique().sort().to_list()
        user = override_path("receptor_map")  # a user's map replaces the shipped one whole
        out["receptor_map"] = {"version": ", ".join(versions),
                               "sources": [str(user) if user else "seeds/receptor_map.csv"]}
    else:
        out["receptor_map"] = "given as a table"
    return out
