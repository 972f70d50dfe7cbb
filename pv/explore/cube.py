"""The case tables of one roles setting as integers, and reactions pre-summed by report profile.

Why: a recomputation under new filters needs the event margins n_.j per stratum over the
filtered background. Re-joining every reaction row (~80M at full FAERS scale) for each filter
set took minutes. Instead each report is coded once (at server start) by its *profile*: the
combination of the attributes a report filter or a stratum reads. The reactions are summed once
per (event, profile) into a sparse cube, its entries sorted by (event, stratum). A report filter
is then a 0/1 mask over the profiles, and the event margins per stratum are one ``np.bincount``
over the cube's kept entries.

Two grains, because the finer the profile the less a cube compresses:
- ``coarse``: quarter, sex, age band and the strata columns. Serves no filter, the time window,
  sex and age band - the common questions - from a cube that stops growing with the reports
  (its size is bounded by events × quarters × strata).
- ``fine``: also country, reporter type, seriousness and the set of indication classes of the
  report's drug rows in the roles (a bit set; the indication background is a mask over it).
  Its cube is stored in blocks, one per combination of these four, so a filter on them reads
  only the blocks it keeps.
The drug side is counted over the drug's own reports only (a CSR report -> events index). The
active-comparator background is a set of reports (the drug's and the comparator's): its cube is
built from those reports' reactions on the fine grain (one entry per reaction).

The counts are report counts by construction (event rows are unique per report × event, each
report has one profile), so they equal ``pv.signals.counts.report_counts``; the strata are
``pv.signals.counts.stratum_codes`` over the reports, as the nightly run codes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pv.signals.counts import STRATUM, stratum_codes
from pv.signals.faers import FaersInputs

#: report attributes a filter can restrict (the universe's columns)
REPORT_FILTERS = ("sex", "age_band", "country", "reporter", "serious")
INDICATIONS = "_indications"  # bit set of a report's indication classes (rule explorer-background)
COARSE = ("quarter", "sex", "age_band")
FINE = (*COARSE, "country", "reporter", "serious", INDICATIONS)


def gather(ptr: np.ndarray, values: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR gather: values[ptr[r]:ptr[r+1]] for every r in rows, concatenated, and the position in
    ``rows`` each came from."""
    starts, lengths = ptr[rows], ptr[rows + 1] - ptr[rows]
    owner = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
    offsets = np.cumsum(lengths) - lengths
    return values[starts[owner] + np.arange(len(owner), dtype=np.int64) - offsets[owner]], owner


def _csr(pairs: pl.DataFrame, row: str, value: str, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(ptr, values) of a CSR index from a frame of (row, value) pairs."""
    pairs = pairs.sort(row, value)
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(pairs[row].to_numpy(), minlength=n_rows), out=ptr[1:])
    return ptr, pairs[value].to_numpy()


@dataclass
class Grain:
    """Reports coded by the combination of ``keys``: one row of ``profiles`` per combination."""

    name: str
    keys: tuple[str, ...]
    profiles: pl.DataFrame  # keys, one row per profile (code = row number)
    code: np.ndarray  # report row -> profile
    stratum: np.ndarray  # profile -> stratum
    quarter: np.ndarray  # profile -> index into the sorted quarters (-1: none)
    block: np.ndarray  # profile -> its combination of the keys beyond COARSE (0 on the coarse grain)
    n_blocks: int

    @property
    def size(self) -> int:
        return self.profiles.height


@dataclass
class Cube:
    """Reports of one background summed by (event, profile of a grain). Entries are in blocks (one
    per value of the grain's ``block``, or one block), sorted by key within each block, so a filter
    on the fine attributes reads only the blocks it keeps."""

    key: np.ndarray  # event * n_strata + stratum, ascending within a block
    profile: np.ndarray  # the entry's profile
    weight: np.ndarray | None  # reports per entry (None: one each)
    sizes: np.ndarray  # reports per profile in this background
    blocks: np.ndarray  # block b's entries are [blocks[b], blocks[b + 1])

    def _kept_blocks(self, mask: np.ndarray, grain: Grain) -> list[tuple[int, int]]:
        if len(self.blocks) == 2:
            return [(int(self.blocks[0]), int(self.blocks[1]))]
        needed = np.flatnonzero(np.bincount(grain.block, weights=mask, minlength=grain.n_blocks) > 0)
        return [(int(self.blocks[b]), int(self.blocks[b + 1])) for b in needed]

    def _entries(self, spans: list[tuple[int, int]]):
        """(key, profile, weight) of the entries in these spans."""
        if len(spans) == 1:
            lo, hi = spans[0]
            return self.key[lo:hi], self.profile[lo:hi], None if self.weight is None else self.weight[lo:hi]
        take = lambda a: np.concatenate([a[lo:hi] for lo, hi in spans]) if spans else a[:0]  # noqa: E731
        return take(self.key), take(self.profile), None if self.weight is None else take(self.weight)

    def margins(self, mask: np.ndarray, grain: Grain, n_events: int, n_strata: int):
        """(events × strata) event margins and (strata) totals of the reports whose profile is in ``mask``."""
        key, profile, weight = self._entries(self._kept_blocks(mask, grain))
        keep = mask[profile]
        flat = np.bincount(key[keep], weights=None if weight is None else weight[keep],
                           minlength=n_events * n_strata).astype(np.float64)
        return flat.reshape(n_events, n_strata), np.bincount(grain.stratum, weights=self.sizes * mask,
                                                             minlength=n_strata)

    def per_profile(self, event: int, n_strata: int, size: int) -> np.ndarray:
        """Reports with the event per profile (in each block the event's entries are one run of keys)."""
        spans = []
        for lo, hi in zip(self.blocks[:-1], self.blocks[1:]):
            a, b = np.searchsorted(self.key[lo:hi], [event * n_strata, (event + 1) * n_strata])
            spans.append((lo + a, lo + b))
        _, profile, weight = self._entries(spans)
        return np.bincount(profile, weights=weight, minlength=size).astype(np.float64)


def cube_of(events: np.ndarray, rows: np.ndarray, reports: np.ndarray, grain: Grain, stratum: np.ndarray,
            n_strata: int, aggregate: bool) -> Cube:
    """The cube of (event code, report row) pairs on a grain, over the background ``reports``
    (distinct report rows); ``aggregate`` sums equal entries."""
    sizes = np.bincount(grain.code[reports], minlength=grain.size).astype(np.float64)
    key = events * n_strata + stratum[rows]
    if not aggregate:  # one block
        order = np.argsort(key, kind="stable")
        return Cube(key[order], grain.code[rows][order], None, sizes, np.array([0, len(key)]))
    cells, weight = np.unique(key * grain.size + grain.code[rows], return_counts=True)  # sorted by key
    key, profile = cells // grain.size, cells % grain.size
    order = np.argsort(grain.block[profile], kind="stable")  # blocks, keys sorted within each
    blocks = np.zeros(grain.n_blocks + 1, dtype=np.int64)
    np.cumsum(np.bincount(grain.block[profile], minlength=grain.n_blocks), out=blocks[1:])
    return Cube(key[order], profile[order], weight[order].astype(np.float64), sizes, blocks)


@dataclass
class Level:
    """One event level: names, report -> events index, and the all-reports cube per grain."""

    names: pl.Series  # sorted event names; an event's code is its position
    ptr: np.ndarray
    codes: np.ndarray
    cubes: dict[str, Cube]


class Coded:
    """One roles setting's inputs (``pv.signals.faers.read_inputs``) as integers, built once."""

    def __init__(self, inputs: FaersInputs, extra: pl.DataFrame, strata: list[str]):
        self.strata = list(strata)
        universe = inputs.universe.join(extra, on="id", how="left").sort("id")
        self.classes = inputs.drugs["indication_class"].drop_nulls().unique().sort().to_list()
        bits = (inputs.drugs.drop_nulls("indication_class").select(
            "id", pl.col("indication_class").replace_strict(self.classes, [1 << k for k in range(len(self.classes))],
                                                            return_dtype=pl.Int64).alias("_bit")).unique()
                .group_by("id").agg(pl.col("_bit").sum().alias(INDICATIONS)))
        universe = universe.join(bits, on="id", how="left").with_columns(pl.col(INDICATIONS).fill_null(0))
        universe = stratum_codes(universe.lazy(), self.strata).collect()
        self.quarters = universe["quarter"].drop_nulls().unique().sort().to_list()
        self.stratum = universe[STRATUM].to_numpy()  # report row -> stratum
        self.n_strata = int(self.stratum.max()) + 1 if len(self.stratum) else 1
        self.grains = {name: self._grain(name, universe, (*keys, *(s for s in self.strata if s not in keys)))
                       for name, keys in (("coarse", COARSE), ("fine", FINE))}
        self.universe = universe.drop(INDICATIONS, STRATUM).with_row_index("_row")
        rows = self.universe.select("id", pl.col("_row").cast(pl.Int64))
        drugs = inputs.drugs.select("id", "drug").unique().join(rows, on="id")
        self.drug_names = drugs["drug"].unique().sort()
        self.drug_code = {name: k for k, name in enumerate(self.drug_names.to_list())}
        drugs = drugs.select(pl.col("drug").cast(pl.Enum(self.drug_names)).to_physical().cast(pl.Int64), "_row")
        self.drug_ptr, self.drug_rows = _csr(drugs, "drug", "_row", len(self.drug_names))
        self.levels = {level: self._level(events, rows) for level, events in inputs.events.items()}

    def _grain(self, name: str, universe: pl.DataFrame, keys: tuple[str, ...]) -> Grain:
        coded = universe.select(*keys, STRATUM, (pl.struct(keys).rank("dense") - 1).cast(pl.Int64).alias("_p"))
        profiles = coded.group_by("_p").agg(pl.all().first()).sort("_p")
        quarter = profiles.select(pl.col("quarter").replace_strict(self.quarters, range(len(self.quarters)),
                                                                   default=-1, return_dtype=pl.Int64)).to_series()
        beyond = [k for k in keys if k not in (*COARSE, *self.strata)]
        block = (profiles.select((pl.struct(beyond).rank("dense") - 1).cast(pl.Int64)).to_series().to_numpy()
                 if beyond else np.zeros(profiles.height, dtype=np.int64))
        return Grain(name, keys, profiles.drop("_p", STRATUM), coded["_p"].to_numpy(), profiles[STRATUM].to_numpy(),
                     quarter.to_numpy(), block, int(block.max()) + 1 if len(block) else 1)

    def _level(self, events: pl.DataFrame, rows: pl.DataFrame) -> Level:
        events = events.join(rows, on="id")
        names = events["event"].unique().sort()
        pairs = events.select(pl.col("event").cast(pl.Enum(names)).to_physical().cast(pl.Int64), "_row")
        ptr, codes = _csr(pairs, "_row", "event", self.universe.height)
        report_rows = np.repeat(np.arange(self.universe.height, dtype=np.int64), np.diff(ptr))
        every = np.arange(self.universe.height, dtype=np.int64)
        cubes = {name: cube_of(codes, report_rows, every, grain, self.stratum, self.n_strata, True)
                 for name, grain in self.grains.items()}
        return Level(names, ptr, codes, cubes)

    def rows_of(self, drug: str) -> np.ndarray:
        """The report rows naming the drug (sorted; empty when no report does)."""
        k = self.drug_code.get(drug)
        return self.drug_rows[self.drug_ptr[k]:self.drug_ptr[k + 1]] if k is not None else np.empty(0, np.int64)

    def set_cube(self, level: str, rows: np.ndarray) -> Cube:
        """The cube (fine grain) of a background that is a set of reports (one entry per reaction)."""
        lv = self.levels[level]
        events, owner = gather(lv.ptr, lv.codes, rows)
        return cube_of(events, rows[owner], rows, self.grains["fine"], self.stratum, self.n_strata, False)
