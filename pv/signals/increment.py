"""The nightly signals increment (issue 16): a run after a cases increment that only added quarters
advances the counts of the last run by the new quarters' records instead of recounting the history
(rule ``signals-increment``; tested in tests/test_increment.py against a full rebuild, bit for bit).

Why it is exact: rule time-as-received counts *records*, each adding +1 at its first quarter and
−1 at its end, and rule prefix-stable (pv.signals.cumulative) makes every quarter's counts and E
depend only on the records received by then. So the counts at a new quarter are the counts at the
last one (whole numbers, exact) plus the increments of the records that start or end in it, and
the running matrix C is advanced by the same operations as in a full run (each product element
computed alone, cumulative.product), to the same bits. Every run with the trend on keeps that
state in ``signals/<run_id>/state/`` (written with the run): per level the matrices D, V, T, A, C,
the held and hot strata of the last quarter, the first quarter each prior-free threshold was met
per cell, and every subset row that the EB05 threshold could flag (its drug has enough reports in the
subset: rule subset-min-reports).

What the prior changes is recomputed: the GPS prior is refitted on the new store, so EBGM, EB05 and
their flag of every older trend row are recomputed (from the last run's trend.parquet, elementwise)
and so is each subset cell's first EB05 quarter (from the kept rows).

A run falls back to the full computation, saying why in one line ("signals: full: <why>"), when
the state is missing or was computed by another code version, options, seeds or drugs; when cases/
is not an increment of the build the state was counted from (a full cases build may change any older
quarter), or a duplicate flag of an older case changed; when a slice, event or stratum of the state
is not one of the new run's.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pv.cases import increment as cases_increment
from pv.config import Home
from pv.signals import gps
from pv.signals.counts import STRATUM
from pv.signals.cumulative import Quarterly, Running, Slices
from pv.signals.thresholds import EB05_BOUND, PRESETS

log = logging.getLogger("pv.signals.increment")

STATE = "state"
#: bump when what the state holds changes (an older state is then not used)
VERSION = 1
#: the thresholds whose measures do not depend on the prior: first quarters carried as they are
PRIOR_FREE = ("evans", "ror025", "ic025")


def tell(what: str) -> None:
    log.info("signals: %s", what)


# --- the state ------------------------------------------------------------------------------------


@dataclass
class LevelState:
    """One level's counts at the state's last quarter (rows: ``State.slices``; columns: ``events``
    and ``State.strata``)."""

    events: pl.Series
    V: np.ndarray  # events × strata
    T: np.ndarray  # strata
    hot: np.ndarray  # strata hot at the last quarter
    D: np.ndarray  # slices × strata
    A: np.ndarray  # slices × events
    C: np.ndarray  # slices × events
    held: dict[str, np.ndarray]  # universe label -> strata held in C
    first: pl.DataFrame  # r, j, preset, q: first quarter a prior-free threshold was met per cell (codes)
    eb05: pl.DataFrame  # r, j, q, a, expected: the subset rows the EB05 flag may be set on (codes)


@dataclass
class State:
    meta: dict
    strata: pl.DataFrame  # _stratum (the matrices' strata order) + the strata columns
    slices: pl.DataFrame  # subset, drug, universe (the matrices' row order)
    levels: dict[str, LevelState]


def _coo(matrix: np.ndarray, names: tuple[str, str]) -> pl.DataFrame:
    rows, cols = np.nonzero(matrix)
    return pl.DataFrame({names[0]: rows.astype(np.int32), names[1]: cols.astype(np.int32),
                         "n": matrix[rows, cols].astype(np.int64)})


def _dense(frame: pl.DataFrame, names: tuple[str, str], shape: tuple[int, int], dtype) -> np.ndarray:
    out = np.zeros(shape, dtype=dtype)
    out[frame[names[0]].to_numpy(), frame[names[1]].to_numpy()] = frame["n"].to_numpy()
    return out


def write(folder: Path, state: State) -> None:
    """The state as files under ``folder`` (inside the run's temporary folder: written atomically with it)."""
    folder.mkdir()
    (folder / "meta.json").write_text(json.dumps(state.meta, indent=1, sort_keys=True, default=str) + "\n")
    state.strata.write_parquet(folder / "strata.parquet")
    state.slices.write_parquet(folder / "slices.parquet")
    universes = sorted(state.slices["universe"].unique().to_list())
    for level, s in state.levels.items():
        where = folder / level
        where.mkdir()
        s.events.to_frame("event").write_parquet(where / "events.parquet")
        _coo(s.V, ("j", "s")).write_parquet(where / "V.parquet")
        _coo(s.A, ("r", "j")).write_parquet(where / "A.parquet")
        np.save(where / "T.npy", s.T)
        np.save(where / "hot.npy", s.hot)
        np.save(where / "D.npy", s.D)
        np.save(where / "C.npy", s.C)
        np.save(where / "held.npy", np.stack([s.held[u] for u in universes]) if universes else np.zeros((0, len(s.T))))
        s.first.write_parquet(where / "first.parquet")
        s.eb05.write_parquet(where / "eb05.parquet")


def read(folder: Path) -> State:
    meta = json.loads((folder / "meta.json").read_text())
    strata, slices = pl.read_parquet(folder / "strata.parquet"), pl.read_parquet(folder / "slices.parquet")
    universes = sorted(slices["universe"].unique().to_list())
    levels = {}
    for level in meta["levels"]:
        where = folder / level
        events = pl.read_parquet(where / "events.parquet")["event"]
        T = np.load(where / "T.npy")
        held = np.load(where / "held.npy")
        levels[level] = LevelState(
            events, _dense(pl.read_parquet(where / "V.parquet"), ("j", "s"), (len(events), len(T)), np.float64), T,
            np.load(where / "hot.npy"), np.load(where / "D.npy"),
            _dense(pl.read_parquet(where / "A.parquet"), ("r", "j"), (slices.height, len(events)), np.int64),
            np.load(where / "C.npy"), dict(zip(universes, held)), pl.read_parquet(where / "first.parquet"),
            pl.read_parquet(where / "eb05.parquet"))
    return State(meta, strata, slices, levels)


def identity(options_dict: dict, watched: list[str], seeds: dict, code: dict) -> dict:
    """What a state must have been computed with to be advanced (compared as a whole, as JSON holds it)."""
    who = {"version": VERSION, "options": options_dict, "watched": watched, "seeds": seeds, "code": code}
    return json.loads(json.dumps(who, sort_keys=True, default=str))


def flagged_cases(home: Home) -> pl.DataFrame:
    """caseid, quarter of every case flagged as a duplicate (rule dup-flag): left out of the background."""
    from pv.cases import tables

    return (tables.scan(home.cases, "cases").filter(pl.col("dup_flag").fill_null(False))
            .select("caseid", pl.col("quarter").cast(pl.String)).collect().sort("caseid", "quarter"))


def latest_state(home: Home) -> tuple[Path | None, str | None]:
    """The newest run's state folder, or why there is none."""
    from pv.signals.summary import latest_run

    run = latest_run(home)
    if run is None:
        return None, "no signal run yet"
    if not (run / STATE / "meta.json").is_file():
        return None, f"run {run.name} kept no state"
    return run / STATE, None


def usable(home: Home, who: dict, group_table, domain_table) -> tuple[State | None, str]:
    """The last run's state when this run may advance it, else None and why not (one line)."""
    if group_table is not None or domain_table is not None:
        return None, "event groups or domains given as tables"
    folder, why = latest_state(home)
    if folder is None:
        return None, why
    meta = json.loads((folder / "meta.json").read_text())
    if meta.get("identity") != who:
        changed = sorted(k for k in who if meta.get("identity", {}).get(k) != who[k])
        return None, f"the last run used another {', '.join(changed) or 'state'}"
    parent = cases_increment.parent(home.cases)
    if parent is None:
        return None, "cases/ was fully rebuilt since the last run"
    if parent["build"] != meta["cases_build"]:
        return None, "cases/ is not the increment of the build the last run counted"
    if not flagged_cases(home).filter(pl.col("quarter").is_in(meta["quarters"])).equals(
            pl.read_parquet(folder / "flagged.parquet")):
        return None, "a duplicate flag of an older case changed"
    state = read(folder)
    state.meta["run"] = folder.parent
    return state, ""


# --- the state advanced by this run ------------------------------------------------------------------


class Carry:
    """The last run's state, mapped onto this run's slices, events and strata (codes by name)."""

    def __init__(self, state: State, quarters: pl.Series, slices: Slices, strata: pl.DataFrame):
        self.state = state
        self.since = len(state.meta["quarters"])
        self.quarters = quarters
        self.slices = slices
        key = ["subset", "drug"]
        new = slices.names.with_columns(universe=pl.Series([slices.universes[u] for u in slices.names["_u"]]))
        old = state.slices.with_row_index("_old")
        found = new.join(old.select(*key, "_old", pl.col("universe").alias("_was")), on=key, how="left",
                         maintain_order="left")
        self.slice_of = found["_old"].fill_null(-1).cast(pl.Int64).to_numpy()  # new row -> state row (-1: new)
        self.why = None
        if (found["_was"].is_not_null() & (found["_was"] != found["universe"])).any() or \
                old.join(new, on=key, how="anti").height:
            self.why = "a slice of the last run is not one of this run's"
        names = [c for c in strata.columns if c != STRATUM]
        text = [pl.col(c).cast(pl.String) for c in names]
        joined = strata.select(STRATUM, *text).join(
            state.strata.select(pl.col(STRATUM).alias("_old"), *text), on=names, how="left", nulls_equal=True)
        self.stratum_of = joined.sort(STRATUM)["_old"].fill_null(-1).cast(pl.Int64).to_numpy()
        if (self.stratum_of >= 0).sum() != state.strata.height:
            self.why = self.why or "a stratum of the last run is not one of this run's"
        if list(quarters[:self.since]) != state.meta["quarters"] or len(quarters) <= self.since:
            self.why = self.why or "the quarters are not the last run's plus new ones"
        self.event_of: dict[str, np.ndarray] = {}
        self.older: pl.DataFrame | None = None  # the last run's trend, the prior's columns recomputed

    def events(self, level: str, names: pl.Series) -> np.ndarray:
        """This run's event code -> the state's (-1: new); every state event must be there."""
        if level not in self.event_of:
            old = self.state.levels[level].events
            position = pl.DataFrame({"event": old, "_old": np.arange(len(old))})
            found = names.to_frame("event").join(position, on="event", how="left", maintain_order="left")["_old"]
            if found.drop_nulls().len() != len(old):
                raise ValueError(f"{level}: an event of the last run is not one of this run's")
            self.event_of[level] = found.fill_null(-1).cast(pl.Int64).to_numpy()
        return self.event_of[level]

    def starter(self, level: str):
        """cumulative's ``start``: a block's counts at the last quarter, in this run's codes."""
        s = self.state.levels[level]

        def start(u: int, rows: np.ndarray, names: pl.Series) -> Running:
            events = self.events(level, names)
            mask = self.slices.strata_maps[u] >= 0  # the universe's strata (count strata = strata here)
            running = Running.empty(len(rows), len(names), len(self.stratum_of))
            old_s = self.stratum_of
            have_s = np.nonzero(old_s >= 0)[0]
            have_e = np.nonzero(events >= 0)[0]
            where = self.slice_of[rows]
            have_r = np.nonzero(where >= 0)[0]
            cols = have_s[mask[have_s]]
            running.V[np.ix_(have_e, cols)] = s.V[np.ix_(events[have_e], old_s[cols])]
            running.T[cols] = s.T[old_s[cols]]
            running.D[np.ix_(have_r, have_s)] = s.D[np.ix_(where[have_r], old_s[have_s])]
            running.A[np.ix_(have_r, have_e)] = s.A[np.ix_(where[have_r], events[have_e])]
            running.C[np.ix_(have_r, have_e)] = s.C[np.ix_(where[have_r], events[have_e])]
            held = s.held.get(self.slices.universes[u])
            if held is not None:
                running.held[have_s] = held[old_s[have_s]]
            new_of = np.full(len(s.T), -1, dtype=np.int64)
            new_of[old_s[have_s]] = have_s
            hot = new_of[s.hot]
            running.hot = np.sort(hot[(hot >= 0) & mask[np.maximum(hot, 0)]])
            return running

        return start

    def codes(self, level: str, names: pl.Series, frame: pl.DataFrame) -> np.ndarray:
        """This run's cell codes (slice × events + event) of the state's rows (r, j: the state's codes)."""
        slices = np.full(self.state.slices.height, -1, dtype=np.int64)
        slices[self.slice_of[self.slice_of >= 0]] = np.nonzero(self.slice_of >= 0)[0]
        of = self.events(level, names)
        events = np.full(len(self.state.levels[level].events), -1, dtype=np.int64)
        events[of[of >= 0]] = np.nonzero(of >= 0)[0]
        return slices[frame["r"].to_numpy()] * len(names) + events[frame["j"].to_numpy()]

    def cells(self, names: pl.Series, frame: pl.DataFrame) -> np.ndarray:
        """This run's cell codes of rows naming subset, drug, event."""
        codes = self.slices.names.select("subset", "drug", "_r")
        events = pl.DataFrame({"event": names, "_j": np.arange(len(names))})
        coded = frame.join(codes, on=["subset", "drug"], how="left", maintain_order="left").join(
            events, on="event", how="left", maintain_order="left")
        return coded["_r"].cast(pl.Int64).to_numpy() * len(names) + coded["_j"].cast(pl.Int64).to_numpy()

    def quarter_index(self, quarters: pl.Series) -> np.ndarray:
        return quarters.cast(pl.Enum(self.quarters)).to_physical().cast(pl.Int64).to_numpy()


def older_trend(state: State, prior: gps.Prior | None) -> pl.DataFrame:
    """The last run's trend rows (every quarter before this run's new ones) with EBGM, EB05 and their flag
    recomputed under this run's prior (the other columns depend on the counts alone: rule prefix-stable)."""
    from pv.signals.table import gps_measures

    trend = pl.read_parquet(Path(state.meta["run"]) / "trend.parquet")
    measures = gps_measures(trend["a"].to_numpy().astype(np.float64), trend["expected"].to_numpy(), prior,
                            quantiles=(0.05,))
    return trend.with_columns(**{k: pl.Series(measures[k]).fill_nan(None) for k in ("ebgm", "eb05")}).with_columns(
        flag_eb05=pl.col("eb05") >= EB05_BOUND)


def eb05_flags(a: np.ndarray, expected: np.ndarray, prior: gps.Prior | None, lows: dict[str, int]) -> np.ndarray:
    """The EB05 flag of subset rows as pv.signals.trend.subset_flags sets it: its necessary condition
    (thresholds.candidates), then the posterior CDF at the bound."""
    from pv.signals.gps import component_posterior_mean, posterior_cdf

    out = np.zeros(len(a), dtype=bool)
    if prior is None or not len(a):
        return out
    a = a.astype(np.int64)
    mean = np.maximum(*(component_posterior_mean(a, expected, k) for k in prior.components()))
    rows = np.nonzero((mean >= EB05_BOUND * (1 - 1e-9)) & (a >= lows["eb05"]))[0]
    if len(rows):
        out[rows] = posterior_cdf(a[rows], expected[rows], prior, EB05_BOUND) <= 0.05
    return out


def first_of(cells: list[np.ndarray], quarters: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct cell, the smallest quarter among the (cell, quarter) pairs given."""
    cell = np.concatenate(cells) if cells else np.zeros(0, np.int64)
    quarter = np.concatenate(quarters) if quarters else np.zeros(0, np.int64)
    order = np.lexsort((quarter, cell))
    cell, quarter = cell[order], quarter[order]
    keep = np.r_[True, cell[1:] != cell[:-1]] if len(cell) else np.zeros(0, dtype=bool)
    return cell[keep], quarter[keep]


def level_state(level: str, slices: Slices, names: pl.Series, quarters: pl.Series, passes: list[Quarterly],
                flagged: dict[str, list], eb05_rows: pl.DataFrame) -> LevelState:
    """This run's state of one level, from its passes (the counts at the last quarter) and flags."""
    n_slices, n_events = slices.names.height, len(names)
    first_pass = next(p.running for p in passes if p.running.V is not None)
    D = np.zeros((n_slices, len(first_pass.T)))
    A = np.zeros((n_slices, n_events), dtype=np.int64)
    C = np.zeros((n_slices, n_events))
    held = {}
    for counted in passes:
        running = counted.running
        D[counted.rows], A[counted.rows], C[counted.rows] = running.D, running.A, running.C
        held[slices.universes[int(slices.names["_u"][int(counted.rows[0])])]] = running.held
    firsts = []
    for preset in PRIOR_FREE:
        cell, quarter = first_of(*zip(*flagged[preset])) if flagged[preset] else (np.zeros(0, np.int64),) * 2
        firsts.append(pl.DataFrame({"r": cell // n_events, "j": cell % n_events, "preset": preset, "q": quarter},
                                   schema={"r": pl.Int32, "j": pl.Int32, "preset": pl.String, "q": pl.Int16}))
    return LevelState(names, first_pass.V, first_pass.T, first_pass.hot, D, A, C, held,
                      pl.concat(firsts), eb05_rows)


