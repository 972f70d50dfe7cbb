"""One signals run as pieces a scheduler spreads over workers: the prior fit, then one piece per
level and chunk of watched drugs, then one merge. Together they write exactly the run that
``run_signals`` writes in one process (same rows, same values; tests/test_signals_tasks.py).

Why it splits: a drug's rows depend only on that drug, the background and the GPS prior (the
prior is fitted once, on the PT level of all drugs), so each (level, chunk of drugs) is counted
and measured alone.

1. ``fit_prior(home, drugs)`` (under the store lock): reads cases/, fits the prior and writes
   the plan, ``<home>/.work/signals/<run_id>/plan.json`` (options, prior, the chunks, what the
   inputs were and their file identity), and returns the run id.
2. ``signal_chunk(home, run, level, chunk)`` (no store lock: the pieces run side by side): reads
   cases/, refuses to go on if cases/ changed since the plan, and writes its tables into the
   work folder (each file atomically).
3. ``merge_signals(home, run)`` (under the store lock): concatenates the pieces and writes
   ``signals/<run_id>/`` as ``run_signals`` does (is_new, triage carried over, run.json with
   the seconds of every piece); then removes the work folder.

``PV_SIGNAL_CHUNK`` sets the drugs per chunk (pv.signals.run.drug_chunks; default: all in one, so
one piece per level).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import polars as pl

from pv.atomic import atomic_path, write_text_atomic
from pv.config import Home
from pv.errors import PvError
from pv.lake.lock import store_lock
from pv.signals import faers
from pv.signals.gps import Prior
from pv.signals.prior import PriorSettings
from pv.signals.run import (SignalOptions, Stopwatch, _measure, drug_chunks, empty_signal_table, empty_trend_table,
                            new_run_id, prepare, read_signal_inputs, write_run)


def work_dir(home: Home, run: str) -> Path:
    return home.root / ".work" / "signals" / run


def _options_from(d: dict) -> SignalOptions:
    prior = d["prior"]
    fixed = Prior(**prior["prior"]) if prior.get("prior") else None
    return SignalOptions(**{**d, "strata": tuple(d["strata"]), "subsets": tuple(d["subsets"]),
                            "levels": tuple(d["levels"]), "prior": PriorSettings(**{**prior, "prior": fixed})})


def _prior_from(d: dict | None) -> Prior | None:
    if d is None:
        return None
    infinite = {"alpha1", "beta1", "alpha2", "beta2"}
    return Prior(**{k: float("inf") if v is None and k in infinite else v for k, v in d.items()})


def _identity(paths: list[str]) -> list[list]:
    """What tells a replaced input file apart cheaply (every write in the store is a rename)."""
    out = []
    for p in paths:
        st = os.stat(p)
        out.append([p, st.st_ino, st.st_size, st.st_mtime_ns])
    return out


def _write_json(path: Path, record: dict) -> None:
    write_text_atomic(path, json.dumps(record, indent=1, sort_keys=True) + "\n")


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp)


def plan_of(home: Home, run: str) -> dict:
    path = work_dir(home, run) / "plan.json"
    if not path.is_file():
        raise PvError(f"{path}: no such signals plan (run fit_prior first)")
    return json.loads(path.read_text(encoding="utf-8"))


def fit_prior(home: Home, drugs: list[str] | None = None, options: SignalOptions | None = None) -> str:
    """Step 1: read cases/, fit the GPS prior, write the plan; return the run id."""
    options = options or SignalOptions(drugs=list(drugs) if drugs else None)
    clock = Stopwatch()
    with store_lock(home):
        options, inputs, _strata, watched, prior, facts = prepare(home, options, None, None, clock)
        run = new_run_id(home)
        while work_dir(home, run).exists():  # another plan took this second's id
            run = new_run_id(home) + "-p"
        folder = work_dir(home, run)
        folder.mkdir(parents=True)
        wall, cpu = clock.totals()
        _write_json(folder / "plan.json", {
            "run_id": run, "options": options.to_dict(), "facts": facts,
            "prior": facts["gps_prior_used"], "levels": list(options.levels),
            "chunks": drug_chunks(watched) if watched else [],
            "inputs": _identity(inputs.sources), "seconds": {"fit": wall}, "cpu_seconds": {"fit": cpu}})
    return run


def pieces(home: Home, run: str) -> list[tuple[str, int]]:
    """(level, chunk index) of every piece of ``run``'s plan, one mapped task each."""
    plan = plan_of(home, run)
    return [(level, k) for level in plan["levels"] for k in range(len(plan["chunks"]))]


def signal_chunk(home: Home, run: str, level: str, chunk: int) -> dict:
    """Step 2: the signal and trend tables of one level for one chunk of drugs; return rows written."""
    plan = plan_of(home, run)
    if level not in plan["levels"] or not 0 <= chunk < len(plan["chunks"]):
        raise PvError(f"signals {run}: no piece {level}/{chunk} in the plan")
    options = replace(_options_from(plan["options"]), levels=(level,))
    clock = Stopwatch()
    strata = list(options.strata)
    with clock.part("read"):
        inputs = read_signal_inputs(home, options)
    faers.keep_drugs(inputs, plan["chunks"][chunk])
    if _identity(inputs.sources) != plan["inputs"]:
        raise PvError(f"signals {run}: cases/ changed since the prior was fitted; run the signals again")
    tables, trends = _measure(inputs, plan["chunks"][chunk], options, strata, _prior_from(plan["prior"]), clock)
    folder = work_dir(home, run)
    name = f"{level}-{chunk}"
    for kind, frames in (("signals", tables), ("trend", trends)):
        if frames:
            _write_parquet(pl.concat(frames, how="vertical_relaxed"), folder / f"{name}.{kind}.parquet")
    wall, cpu = clock.totals()
    _write_json(folder / f"{name}.json", {"seconds": wall, "cpu_seconds": cpu})
    return {"level": level, "chunk": chunk, "signals": sum(t.height for t in tables),
            "trend": sum(t.height for t in trends)}


def _add(into: dict, part: dict) -> dict:
    for k, v in part.items():
        into[k] = _add(into.get(k, {}), v) if isinstance(v, dict) else into.get(k, 0.0) + v
    return into


def merge_signals(home: Home, run: str) -> Path:
    """Step 3: every piece of the plan into ``signals/<run>/`` (as ``run_signals`` writes it); return it."""
    plan = plan_of(home, run)
    folder = work_dir(home, run)
    clock = Stopwatch()
    clock.wall, clock.cpu = {"read": 0.0}, {"read": 0.0}
    _add(clock.wall, plan["seconds"]["fit"])
    _add(clock.cpu, plan["cpu_seconds"]["fit"])
    tables, trends = [], []
    for level, k in pieces(home, run):
        done = folder / f"{level}-{k}.json"
        if not done.is_file():
            raise PvError(f"signals {run}: piece {level}/{k} has not run (its task failed or was skipped)")
        timing = json.loads(done.read_text(encoding="utf-8"))
        _add(clock.wall, timing["seconds"])
        _add(clock.cpu, timing["cpu_seconds"])
        for kind, into in (("signals", tables), ("trend", trends)):
            if (path := folder / f"{level}-{k}.{kind}.parquet").is_file():
                into.append(pl.read_parquet(path))
    if not plan["chunks"]:  # no watched drug occurs: the run says so (rule no-watched-drug)
        tables, trends = [empty_signal_table()], [empty_trend_table()]
    with store_lock(home):
        target = write_run(home, _options_from(plan["options"]), plan["facts"], tables, trends, clock, run)
        shutil.rmtree(folder, ignore_errors=True)
    return target
