"""Ad-hoc disproportionality for any drug × event under filters: the explorer's one computation.

Why here and this way: the explorer must give the numbers the nightly table gives, so it reads
the cases with ``pv.signals.faers.read_inputs`` (same roles, dedup filter, background, event
levels) with the settings of the newest signals run (run.json: roles, dedup, strata, ROR min a,
the GPS prior that run used), and builds the cells with the engine's own
``pv.signals.counts.assemble`` (margins, stratified expected counts) and
``pv.signals.table.signal_table`` (every measure and flag). Without filters its row equals that
run's "all" row. The report counts come from ``pv.explore.cube`` (reports coded once per server
start, reactions pre-summed by report profile) so that one recomputation costs a pass over the
cube, not a join of every reaction row; the event margins are cached per filter set. Its counts
equal ``pv.signals.counts.report_counts`` on the join-restricted background for every filter
(tests/test_serve.py).

Filters restrict the background (the reports counted) before counting:
- time window: the quarter received, from..to inclusive; sex, age band, country, reporter type
  (FAERS occp_cod), seriousness — attributes of the report;
- suspect roles (rule suspect-roles of pv.signals.faers: ``ps``, ``ps+ss`` or ``any``): which drug
  rows make a report "a report with the drug" - and so also which reports form the background
  (reports with a drug row in those roles); default the run's;
- background design (rule ``explorer-background``): ``all`` reports; reports with a given
  ``indication`` (a drug row in the chosen roles with that indication class: the
  indication-restricted design); or an active ``comparator`` (only reports with the drug or the
  comparator: the head-to-head design; a report with both counts as a report with the drug).
Counts for one drug over every event of a level are cached per (drug, level, filters), event
margins per (level, filters). The cumulative trend is the same row at the end of each quarter of
the window (margins summed over the profiles received up to that quarter).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import polars as pl

from pv.config import Home
from pv.errors import PvError
from pv.signals import faers
from pv.explore.cube import COARSE, INDICATIONS, REPORT_FILTERS, Coded, Cube, Grain, gather
from pv.signals.counts import CountTable, assemble
from pv.signals.strata import expected_counts
from pv.signals.gps import Prior
from pv.signals.summary import latest_run
from pv.signals.table import signal_table
from pv.cases import tables

BACKGROUNDS = ("all", "indication", "comparator")
LISTING = ["caseid", "primaryid", "quarter", "sex", "age_band", "country", "reporter", "serious"]


@dataclass(frozen=True)
class Filters:
    """A hashable set of filters (empty tuple = no restriction)."""

    first: str | None = None  # quarter received, inclusive
    last: str | None = None
    sex: tuple[str, ...] = ()
    age_band: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    reporter: tuple[str, ...] = ()
    serious: tuple[bool, ...] = ()
    background: str = "all"
    indication: str | None = None
    comparator: str | None = None
    roles: str | None = None  # None = the run's

    def label(self) -> str:
        parts = [f"{k}={v}" for k, v in (("from", self.first), ("to", self.last), ("roles", self.roles)) if v]
        parts += [f"{k}={'|'.join(map(str, getattr(self, k)))}" for k in REPORT_FILTERS if getattr(self, k)]
        if self.background == "indication":
            parts.append(f"indication={self.indication}")
        elif self.background == "comparator":
            parts.append(f"vs={self.comparator}")
        return ", ".join(parts) or "all"


@dataclass
class RunSettings:
    """What the newest signals run used (defaults when there is none)."""

    run_id: str | None = None
    roles: str = "ps+ss"
    dedup: bool = True
    strata: tuple[str, ...] = faers.DEFAULT_STRATA
    ror_min_a: int = 3
    prior: Prior | None = None
    watchlist: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, home: Home) -> "RunSettings":
        run = latest_run(home)
        if run is None:
            return cls()
        record = json.loads((run / "run.json").read_text(encoding="utf-8"))
        options = record.get("options", {})
        used = record.get("gps_prior_used")
        prior = None
        if used:
            prior = Prior(**{k: (np.inf if v is None and k not in ("point1", "point2") else v) for k, v in used.items()})
        return cls(run.name, options.get("roles", "ps+ss"), options.get("dedup", True),
                   tuple(options.get("strata", faers.DEFAULT_STRATA)), options.get("ror_min_a", 3), prior,
                   record.get("drugs", {}).get("reported", []))


class Explorer:
    """The case tables of one store, coded once per roles setting; analyses under filters."""

    MARGINS_CACHED = 32  # event-margin sets kept (events × strata floats each)

    def __init__(self, home: Home):
        self.home = home
        self.settings = RunSettings.of(home)
        self._extra = tables.scan(home.cases, "cases").select(
            "caseid", "primaryid", "country", "reporter", "serious").collect().rename({"caseid": "id"}).unique("id")
        self._coded: dict[str, Coded] = {}
        self.drugs = (tables.scan(home.cases, "drugs").select(pl.col("ingredient").str.to_lowercase())
                      .drop_nulls().unique().sort("ingredient").collect()["ingredient"].to_list())
        self._margins: OrderedDict = OrderedDict()
        self._count = lru_cache(maxsize=64)(self._count_uncached)
        self._set_cube = lru_cache(maxsize=8)(self._set_cube_uncached)
        self.coded()

    def forget(self) -> None:
        """Drop the cached counts and margins (the coded tables stay): the next call recomputes."""
        self._count.cache_clear()
        self._set_cube.cache_clear()
        self._margins.clear()

    def coded(self, roles: str | None = None) -> Coded:
        """The coded tables for a roles setting (the run's by default), built on first use."""
        roles = roles or self.settings.roles
        if roles not in self._coded:
            s = self.settings
            self._coded[roles] = Coded(faers.read_inputs(self.home, roles, s.dedup, s.strata), self._extra, s.strata)
        return self._coded[roles]

    @property
    def universe(self) -> pl.DataFrame:
        """The reports counted without filters (the run's roles), with the listing columns."""
        return self.coded().universe

    def choices(self, column: str) -> list:
        """The values a report filter can take (sorted, no null)."""
        c = self.coded()
        if column == "quarter":
            return c.quarters
        if column == "indication":
            return c.classes
        return c.universe[column].drop_nulls().unique().sort().to_list()

    def _mask(self, grain: Grain, classes: list[str], f: Filters) -> np.ndarray:
        """The report profiles kept by the report filters and the indication background."""
        conditions = [pl.col("quarter") >= f.first] if f.first else []
        conditions += [pl.col("quarter") <= f.last] if f.last else []
        conditions += [pl.col(k).is_in(list(getattr(f, k))) for k in REPORT_FILTERS if getattr(f, k)]
        if f.background == "indication":
            bit = 1 << classes.index(f.indication) if f.indication in classes else 0
            conditions.append((pl.col(INDICATIONS) & bit) != 0)
        if not conditions:
            return np.ones(grain.size, dtype=bool)
        return grain.profiles.select(pl.all_horizontal(conditions).fill_null(False)).to_series().to_numpy()

    def _background(self, drug: str, level: str, f: Filters):
        """(coded tables, grain, cube of the filtered background, the drug's report rows in it, profile mask).
        The coarse grain serves the filters it holds the columns of; the rest use the fine grain."""
        c = self.coded(f.roles)
        if level not in c.levels:
            raise PvError(f"explorer: unknown level {level!r} (pt | group | domain)")
        fine = f.background != "all" or any(getattr(f, k) for k in REPORT_FILTERS if k not in COARSE)
        grain = c.grains["fine" if fine else "coarse"]
        if f.background == "comparator":
            if not f.comparator or f.comparator == drug:
                raise PvError("explorer: choose an active comparator other than the drug")
            cube = self._set_cube(f.roles, level, drug, f.comparator)
        elif f.background == "indication":
            if not f.indication:
                raise PvError("explorer: choose an indication for the indication background")
            cube = c.levels[level].cubes["fine"]
        elif f.background == "all":
            cube = c.levels[level].cubes[grain.name]
        else:
            raise PvError(f"explorer: unknown background {f.background!r} ({', '.join(BACKGROUNDS)})")
        rows = c.rows_of(drug)
        mask = self._mask(grain, c.classes, f)
        return c, grain, cube, rows[mask[grain.code[rows]]], mask

    def _set_cube_uncached(self, roles, level, drug, comparator):
        c = self.coded(roles)
        return c.set_cube(level, np.union1d(c.rows_of(drug), c.rows_of(comparator)))

    def _event_margins(self, drug: str, level: str, f: Filters, c: Coded, grain: Grain, cube: Cube, mask):
        """(events × strata) event margins and strata totals of the filtered background, cached per filter set."""
        key = (level, f, drug if f.background == "comparator" else None)
        if key in self._margins:
            self._margins.move_to_end(key)
        else:
            self._margins[key] = cube.margins(mask, grain, len(c.levels[level].names), c.n_strata)
            if len(self._margins) > self.MARGINS_CACHED:
                self._margins.popitem(last=False)
        return self._margins[key]

    def _count_uncached(self, drug: str, level: str, f: Filters) -> pl.DataFrame:
        c, grain, cube, rows, mask = self._background(drug, level, f)
        if len(rows) == 0:
            return pl.DataFrame()
        lv = c.levels[level]
        events, _ = gather(lv.ptr, lv.codes, rows)
        a = np.bincount(events, minlength=len(lv.names))
        j = np.flatnonzero(a)
        if len(j) == 0:
            return pl.DataFrame()
        event_m, totals = self._event_margins(drug, level, f, c, grain, cube, mask)
        drug_m = np.bincount(c.stratum[rows], minlength=c.n_strata).astype(np.float64)[None, :]
        counted = assemble(np.zeros(len(j), np.int64), j, a[j], pl.Series("drug", [drug]), lv.names,
                           drug_m, event_m, totals, "reports", c.strata)
        return signal_table(counted.two_by_two(), self.settings.prior, level, f.label(), self.settings.ror_min_a)

    def table(self, drug: str, level: str, f: Filters = Filters()) -> pl.DataFrame:
        """Every event of ``level`` reported with the drug under the filters, all measures and flags."""
        return self._count(drug.lower(), level, f)

    def row(self, drug: str, event: str, level: str, f: Filters = Filters()) -> dict | None:
        """The signal-table row of drug × event under the filters; None when no report has both."""
        table = self.table(drug, level, f)
        hit = table.filter(pl.col("event") == event) if table.height else table
        return hit.row(0, named=True) if hit.height else None

    def _with_event(self, c: Coded, level: str, rows: np.ndarray, event: str) -> np.ndarray:
        """The rows (of ``rows``) whose reports name the event."""
        names = c.levels[level].names
        if event not in names:
            return rows[:0]
        events, owner = gather(c.levels[level].ptr, c.levels[level].codes, rows)
        return rows[owner[events == names.index_of(event)]]

    def trend(self, drug: str, event: str, level: str, f: Filters = Filters()) -> pl.DataFrame:
        """The cumulative trend: the row at the end of each quarter of the window (all reports up
        to that quarter, the other filters kept), as the nightly trend table counts. Each count is
        summed per (quarter, stratum) once, then accumulated over the quarters."""
        schema = {"quarter": pl.Utf8, "a": pl.Int64, "ror_lo": pl.Float64, "ic025": pl.Float64, "eb05": pl.Float64}
        drug = drug.lower()
        c, grain, cube, rows, mask = self._background(drug, level, replace(f, last=None))
        names = c.levels[level].names
        if event not in names or len(rows) == 0:
            return pl.DataFrame(schema=schema)
        n_q, n_s = len(c.quarters), c.n_strata
        kept = mask & (grain.quarter >= 0)
        rows = rows[kept[grain.code[rows]]]
        cell = np.where(kept, grain.quarter * n_s + grain.stratum, 0)

        def cumulative(per_profile: np.ndarray) -> np.ndarray:  # (quarters × strata), summed up to each quarter
            by = np.bincount(cell, weights=per_profile * kept, minlength=n_q * n_s).reshape(n_q, n_s)
            return np.cumsum(by, axis=0)

        with_event = self._with_event(c, level, rows, event)
        drug_q = np.cumsum(np.bincount(c.stratum[rows] + n_s * grain.quarter[grain.code[rows]],
                                       minlength=n_q * n_s).reshape(n_q, n_s), axis=0).astype(np.float64)
        both = np.cumsum(np.bincount(grain.quarter[grain.code[with_event]], minlength=n_q))
        event_q = cumulative(cube.per_profile(names.index_of(event), n_s, grain.size))
        all_q = cumulative(cube.sizes)
        ks = np.array([k for k, q in enumerate(c.quarters) if both[k] > 0 and not (f.first and q < f.first)
                       and not (f.last and q > f.last)], dtype=np.int64)
        if len(ks) == 0:
            return pl.DataFrame(schema=schema)
        # one cell per quarter: cell k is the drug × event over the reports received up to quarter k
        # (its own margins and totals), with the engine's stratified expected count and 2×2
        expected = [expected_counts([0], [0], drug_q[k:k + 1], event_q[k:k + 1], all_q[k])[0] for k in ks]
        cells = pl.DataFrame({
            "drug": [drug] * len(ks), "event": [event] * len(ks), "a": both[ks].astype(np.int64),
            "n_drug": drug_q[ks].sum(axis=1).round().astype(np.int64),
            "n_event": event_q[ks].sum(axis=1).round().astype(np.int64),
            "n_total": all_q[ks].sum(axis=1).round().astype(np.int64), "expected": np.array(expected)})
        counted = CountTable(cells, pl.Series([drug]), pl.Series([event]), drug_q[ks], event_q[ks], all_q[ks],
                             "reports", c.strata)
        table = signal_table(counted.two_by_two(), self.settings.prior, level, f.label(), self.settings.ror_min_a)
        shown = [c.quarters[k] for k in ks]
        return table.select(pl.Series("quarter", shown), "a", "ror_lo", "ic025", "eb05")

    def listing(self, drug: str, event: str, level: str, f: Filters = Filters()) -> pl.DataFrame:
        """The reports counted in ``a`` (the case line listing), by quarter then caseid."""
        c, _, _, rows, _ = self._background(drug.lower(), level, f)
        rows = self._with_event(c, level, rows, event)
        return (c.universe.select(pl.all().gather(rows)).rename({"id": "caseid"}).select(LISTING)
                .sort("quarter", "caseid"))
