"""Ad-hoc disproportionality for any drug × event under filters: the explorer's one computation.

Why here and this way: the explorer must give the numbers the nightly table gives, so it reads
the cases with ``pv.signals.faers.read_inputs`` (same roles, dedup filter, background, event
levels) with the settings of the newest signals run (run.json: roles, dedup, strata, ROR min a,
the GPS prior that run used), counts with ``pv.signals.counts.report_counts`` and measures with
``pv.signals.table.signal_table``. Without filters its row equals that run's "all" row.

Filters restrict the background (the reports counted) before counting:
- time window: the quarter received, from..to inclusive; sex, age band, country, reporter type
  (FAERS occp_cod), seriousness — attributes of the report;
- background design (rule ``explorer-background``): ``all`` reports; reports with a given
  ``indication`` (a drug row in the chosen roles with that indication class: the
  indication-restricted design); or an active ``comparator`` (only reports with the drug or the
  comparator: the head-to-head design; a report with both counts as a report with the drug).
Counts for one drug over every event of a level are cached per (drug, level, filters). The
cumulative trend is the same row at the end of each quarter of the window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import polars as pl

from pv.config import Home
from pv.errors import PvError
from pv.signals import faers
from pv.signals.counts import report_counts
from pv.signals.gps import Prior
from pv.signals.summary import latest_run
from pv.signals.table import signal_table

REPORT_FILTERS = ("sex", "age_band", "country", "reporter", "serious")
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

    def label(self) -> str:
        parts = [f"{k}={v}" for k, v in (("from", self.first), ("to", self.last)) if v]
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
    """The case tables of one store, read once; analyses under filters."""

    def __init__(self, home: Home):
        self.home = home
        self.settings = RunSettings.of(home)
        s = self.settings
        self.inputs = faers.read_inputs(home, s.roles, s.dedup, s.strata)
        extra = pl.read_parquet(home.cases / "cases.parquet",
                                columns=["caseid", "primaryid", "country", "reporter", "serious"])
        self.universe = self.inputs.universe.join(extra.rename({"caseid": "id"}).unique("id"), on="id", how="left")
        self.drugs = (pl.scan_parquet(home.cases / "drugs.parquet").select(pl.col("ingredient").str.to_lowercase())
                      .drop_nulls().unique().sort("ingredient").collect()["ingredient"].to_list())
        self._count = lru_cache(maxsize=64)(self._count_uncached)

    def choices(self, column: str) -> list:
        """The values a report filter can take (sorted, no null)."""
        if column == "quarter":
            return self.universe["quarter"].drop_nulls().unique().sort().to_list()
        if column == "indication":
            return self.inputs.drugs["indication_class"].drop_nulls().unique().sort().to_list()
        return self.universe[column].drop_nulls().unique().sort().to_list()

    def background(self, drug: str, f: Filters) -> pl.DataFrame:
        """The reports counted under the filters (the universe restricted)."""
        u = self.universe
        if f.first:
            u = u.filter(pl.col("quarter") >= f.first)
        if f.last:
            u = u.filter(pl.col("quarter") <= f.last)
        for column in REPORT_FILTERS:
            if getattr(f, column):
                u = u.filter(pl.col(column).is_in(list(getattr(f, column))))
        if f.background == "indication":
            if not f.indication:
                raise PvError("explorer: choose an indication for the indication background")
            with_ind = self.inputs.drugs.filter(pl.col("indication_class") == f.indication).select("id")
            u = u.join(with_ind, on="id", how="semi")
        elif f.background == "comparator":
            if not f.comparator or f.comparator == drug:
                raise PvError("explorer: choose an active comparator other than the drug")
            either = self.inputs.drugs.filter(pl.col("drug").is_in([drug, f.comparator])).select("id")
            u = u.join(either, on="id", how="semi")
        elif f.background != "all":
            raise PvError(f"explorer: unknown background {f.background!r} ({', '.join(BACKGROUNDS)})")
        return u

    def _count_uncached(self, drug: str, level: str, f: Filters) -> pl.DataFrame:
        universe = self.background(drug, f)
        rows = self.inputs.drugs.filter(pl.col("drug") == drug)
        if universe.height == 0 or rows.join(universe.select("id"), on="id", how="semi").height == 0:
            return pl.DataFrame()
        counted = report_counts(rows.lazy(), self.inputs.events[level].lazy(), universe.lazy(), list(self.settings.strata))
        cells = counted.two_by_two()
        if cells.height == 0:
            return pl.DataFrame()
        return signal_table(cells, self.settings.prior, level, f.label(), self.settings.ror_min_a)

    def table(self, drug: str, level: str, f: Filters = Filters()) -> pl.DataFrame:
        """Every event of ``level`` reported with the drug under the filters, all measures and flags."""
        if level not in self.inputs.events:
            raise PvError(f"explorer: unknown level {level!r} (pt | group | domain)")
        return self._count(drug.lower(), level, f)

    def row(self, drug: str, event: str, level: str, f: Filters = Filters()) -> dict | None:
        """The signal-table row of drug × event under the filters; None when no report has both."""
        table = self.table(drug, level, f)
        hit = table.filter(pl.col("event") == event) if table.height else table
        return hit.row(0, named=True) if hit.height else None

    def trend(self, drug: str, event: str, level: str, f: Filters = Filters()) -> pl.DataFrame:
        """The cumulative trend: the row at the end of each quarter of the window (all reports up
        to that quarter, the other filters kept), as the nightly trend table counts."""
        from dataclasses import replace

        quarters = [q for q in self.choices("quarter") if (not f.first or q >= f.first) and (not f.last or q <= f.last)]
        out = []
        for q in quarters:
            row = self.row(drug, event, level, replace(f, last=q))
            if row is not None:
                out.append({"quarter": q, **{k: row[k] for k in ("a", "ror_lo", "ic025", "eb05")}})
        return pl.DataFrame(out, schema={"quarter": pl.Utf8, "a": pl.Int64, "ror_lo": pl.Float64,
                                         "ic025": pl.Float64, "eb05": pl.Float64})

    def listing(self, drug: str, event: str, level: str, f: Filters = Filters()) -> pl.DataFrame:
        """The reports counted in ``a`` (the case line listing), by quarter then caseid."""
        universe = self.background(drug.lower(), f)
        with_drug = self.inputs.drugs.filter(pl.col("drug") == drug.lower()).select("id")
        with_event = self.inputs.events[level].filter(pl.col("event") == event).select("id")
        return (universe.join(with_drug, on="id", how="semi").join(with_event, on="id", how="semi")
                .rename({"id": "caseid"}).select(LISTING).sort("quarter", "caseid"))
