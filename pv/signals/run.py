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
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from pv.atomic import atomic_dir
from pv.config import Home
from pv.errors import PvError
from pv.signals import faers
from pv.signals.counts import STRATUM, report_counts, stratum_codes
from pv.signals.frequentist import ZERO_CELL_RULE
from pv.signals.prior import PriorSettings, fit_prior, usable_prior
from pv.signals.provenance import code_version, file_fingerprint, utc_now, write_run_json
from pv.signals.table import SIGNAL_COLUMNS, signal_table
from pv.signals.thresholds import FLAG_COLUMNS, PRESETS
from pv.signals.trend import KEYS, background, cumulative_counts, first_quarters, mark_new, trend_table

LEVELS = ("pt", "group", "domain")


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

    def to_dict(self) -> dict:
        out = asdict(self)
        out["prior"] = self.prior.to_dict()
        return out


def _subset_slices(inputs: faers.FaersInputs, watched: pl.DataFrame, subsets):
    """(label, universe label, watched drug rows, universe) for all reports and each subset value."""
    out = [("all", "all", watched, inputs.universe)]
    for name in subsets:
        if name not in faers.SUBSETS:
            raise PvError(f"signals: unknown subset {name!r} ({', '.join(faers.SUBSETS)})")
        column, kind = faers.SUBSETS[name]
        source = watched if kind == "drug" else inputs.universe
        for value in source[column].drop_nulls().unique().sort().to_list():
            label = f"{name}={value}"
            if kind == "drug":
                out.append((label, "all", watched.filter(pl.col(column) == value), inputs.universe))
            else:
                out.append((label, label, watched, inputs.universe.filter(pl.col(column) == value)))
    return out


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


def run_signals(home: Home, options: SignalOptions | None = None, group_table: pl.DataFrame | None = None,
                domain_table: pl.DataFrame | None = None, run_id: str | None = None) -> Path:
    """Compute and write one signals run; return its folder."""
    options = options or SignalOptions()
    started = time.perf_counter()
    timings = {}
    strata = list(options.strata)
    inputs = faers.read_inputs(home, options.roles, options.dedup, strata, group_table, domain_table)
    inputs.universe = stratum_codes(inputs.universe.lazy(), strata).collect()
    n_strata = int(inputs.universe[STRATUM].max()) + 1
    timings["read"] = time.perf_counter() - started

    wanted = [d.lower() for d in (options.drugs or faers.watchlist_drugs())]
    present = set(inputs.drugs["drug"].unique().to_list())
    watched_names = [d for d in wanted if d in present]
    if not watched_names:
        raise PvError(f"{home.cases}: none of {', '.join(wanted)} occurs as a drug in roles {options.roles}")
    watched = inputs.drugs.filter(pl.col("drug").is_in(watched_names))

    # 2. PT level, all drugs: the prior
    t = time.perf_counter()
    all_pt = report_counts(inputs.drugs.lazy(), inputs.events["pt"].lazy(), inputs.universe.lazy(), strata)
    fit = fit_prior(all_pt, options.prior)
    prior = usable_prior(fit, options.prior)
    timings["prior"] = time.perf_counter() - t

    # 3-4. every level x subset for the watched drugs, with its trend. With the trend on,
    # the table is the trend's last quarter (the same counts, tested); background margins
    # are counted once per level and universe and shared by the drug-level subsets.
    t = time.perf_counter()
    tables, trends = [], []
    for level in options.levels:
        events = inputs.events[level]
        backgrounds = {}
        for label, universe_label, drug_rows, universe in _subset_slices(inputs, watched, options.subsets):
            if drug_rows.height == 0 or universe.height == 0:
                continue
            if not options.trend:
                counted = report_counts(drug_rows.lazy(), events.lazy(), universe.lazy(), strata)
                if counted.cells.height:
                    tables.append(signal_table(counted.two_by_two(), prior, level, label, options.ror_min_a))
                continue
            if universe_label not in backgrounds:
                backgrounds[universe_label] = background(events.join(universe.select("id"), on="id"), universe)
            cum = cumulative_counts(drug_rows, events, backgrounds[universe_label], n_strata)
            if cum.height == 0:
                continue
            # full measures per quarter for all reports; subsets keep only their flags
            trends.append(trend_table(cum, prior, level, label, options.ror_min_a, full=label == "all"))
            last = cum.filter(pl.col("quarter") == backgrounds[universe_label].quarters[-1])
            tables.append(signal_table(last, prior, level, label, options.ror_min_a))
    timings["signals_and_trend"] = time.perf_counter() - t

    signals = pl.concat(tables, how="vertical_relaxed")
    trend = None
    if trends:
        firsts = first_quarters(pl.concat([t.select(KEYS + ["quarter", *FLAG_COLUMNS]) for t in trends]))
        trend = pl.concat([t for t in trends if "prr" in t.columns], how="vertical_relaxed")
        signals = signals.drop(["first_quarter", *(f"first_quarter_{n}" for n in PRESETS)]).join(
            firsts, on=KEYS, how="left")
    run_id = run_id or new_run_id(home)
    previous_id, previous = _previous_run(home, run_id)
    signals = mark_new(signals.drop("is_new"), previous).select(SIGNAL_COLUMNS).sort(KEYS)

    record = {
        "kind": "pvmon signals",
        "run_id": run_id,
        "created": utc_now(),
        "inputs": [file_fingerprint(p) for p in inputs.sources],
        "options": options.to_dict(),
        "drugs": {"requested": wanted, "reported": watched_names,
                  "absent": [d for d in wanted if d not in present]},
        "background": {"reports": inputs.universe.height, "drugs": len(present), "strata": n_strata,
                       "pt_cells": all_pt.cells.height},
        "gps_fit": fit.to_dict(),
        "gps_prior_used": None if prior is None else asdict(prior),
        "gps_prior_scope": "fitted on the PT level, all drugs; applied to every level, subset and quarter",
        "ebgm_published": prior is not None,
        "zero_cell_rule": ZERO_CELL_RULE,
        "thresholds": PRESETS,
        "previous_run": previous_id,
        "rows": {"signals": signals.height, "trend": 0 if trend is None else trend.height},
        "seeds": _seed_versions(group_table, domain_table),
        "code": code_version(),
        "seconds": {k: round(v, 3) for k, v in timings.items()} | {"total": round(time.perf_counter() - started, 3)},
    }
    target = home.signals / run_id
    with atomic_dir(target) as tmp:
        signals.write_parquet(tmp / "signals.parquet")
        if trend is not None:
            trend.sort([*KEYS, "quarter"]).write_parquet(tmp / "trend.parquet")
        write_run_json(tmp / "run.json", record)
    return target


def _seed_versions(group_table, domain_table) -> dict:
    out = {}
    if group_table is None:
        from pv.vocab.pts import load_event_groups

        seed = load_event_groups()
        out["event_groups"] = {"version": seed.version, "sources": list(seed.sources)}
    else:
        out["event_groups"] = "given as a table"
    out["receptor_map"] = "given as a table" if domain_table is not None else "seeds/receptor_map.csv"
    return out
