"""Human-readable views of ``signals/``: the latest run, its fit, its flags and what is new.

``pvmon status`` answers the analyst's first question — is there a new signal? — from the
files of the latest run alone (signals.parquet, run.json), never from a computation.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from pv.config import Home
from pv.signals.thresholds import PRESETS

FLAGS = tuple(PRESETS)  # evans, ror025, ic025, eb05
NEW_SHOWN = 25  # new signals listed by `pvmon status`; the signal table holds all of them
LEVEL_ORDER = {"group": 0, "domain": 1, "pt": 2}


def latest_run(home: Home, need: tuple[str, ...] = ("run.json",)) -> Path | None:
    """The newest signals/<run_id>/ (by signals.parquet's modification time, then id) that also holds
    the files in ``need`` (default: complete, with its run.json), or None."""
    runs = [p for p in home.signals.glob("*/signals.parquet") if all((p.parent / n).is_file() for n in need)]
    if not runs:
        return None
    return max(runs, key=lambda p: (p.stat().st_mtime, p.parent.name)).parent


def empty_reason(run: Path) -> str | None:
    """Why a signals run holds no row (no watched drug occurs in the store), or None."""
    path = run / "run.json"
    return json.loads(path.read_text()).get("empty") if path.is_file() else None


def signal_sections(home: Home, detail: bool = False) -> list:
    """The latest run: fit and counts per level, then its new watchlist signals (``pvmon status``)."""
    from pv.lake.status import Section

    run = latest_run(home)
    if run is None:
        return [Section("Signals: no run yet (run `pvmon signals`)", [])]
    meta = json.loads((run / "run.json").read_text())
    table = pl.scan_parquet(run / "signals.parquet")
    fit = meta.get("gps_fit") or {"message": meta.get("empty") or "not fitted"}
    about = [{"run": run.name, "created": meta.get("created"), "reports": meta.get("background", {}).get("reports"),
              "drugs": ", ".join(meta.get("drugs", {}).get("reported", [])),
              "GPS prior": fit.get("message", "not fitted"), "EBGM published": meta.get("ebgm_published")}]
    per_level = (table.group_by("level")
                 .agg(pl.len().alias("rows"), *[pl.col(f"flag_{f}").sum().alias(f) for f in FLAGS],
                      pl.col("is_new").sum().alias("new"))
                 .sort("level").collect())
    new = (table.filter(pl.col("is_new"))
           .select("drug", "level", "event", "subset", "a", pl.col("ror_lo").round(2).alias("ROR025"),
                   pl.col("ic025").round(2).alias("IC025"), pl.col("eb05").round(2).alias("EB05"),
                   pl.concat_str([pl.when(pl.col(f"flag_{f}")).then(pl.lit(f)) for f in FLAGS],
                                 separator=",", ignore_nulls=True).alias("flags"))
           .sort([pl.col("subset") != "all", pl.col("level").replace_strict(LEVEL_ORDER, default=9), "a"],
                 descending=[False, False, True])
           .collect())
    shown = new.head(NEW_SHOWN)
    title = (f"Signals: new in run {run.name} (flagged now, not in the previous run): {new.height}"
             + (f", first {NEW_SHOWN} shown (all reports before subsets; groups, domains, then PTs; by a)"
                if new.height > NEW_SHOWN else ""))
    return [Section(f"Signals: latest run ({run / 'signals.parquet'})", about),
            Section("Signals: rows and flags per level", per_level.to_dicts()),
            Section(title, shown.to_dicts())]
