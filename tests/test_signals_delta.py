"""When the nightly signals run may count by deltas (rule signals-increment, pv.signals.increment) and when
it falls back to counting every quarter, saying why in one line. That a delta run equals a full rebuild
bit for bit is tested night after night in tests/test_increment.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from pv.cases.build import build_cases
from pv.config import Home
from pv import pipeline
from pv.signals.run import SignalOptions, run_signals
from test_increment import DRUGS, FIRST, signals_run, sim, zips  # noqa: F401  (sim: the simulated quarters, a fixture)


def test_a_signals_run_counts_by_deltas_only_from_its_own_state_after_a_cases_increment(sim, tmp_path, caplog):
    home = Home.at(tmp_path / "pvdata")
    pipeline.ingest_stage(home, zips(sim, FIRST))
    build_cases(home)
    signals_run(home, caplog, "full: no signal run yet")
    signals_run(home, caplog, "full: cases/ was fully rebuilt since the last run")

    pipeline.ingest_stage(home, zips(sim, ["2019Q2"]))
    build_cases(home)  # an increment
    caplog.clear()
    with caplog.at_level("INFO", logger="pv.signals.increment"):
        run_signals(home, SignalOptions(drugs=DRUGS[:1]))  # other drugs: another state
    assert [r.getMessage() for r in caplog.records if r.name == "pv.signals.increment"] == [
        "signals: full: the last run used another options, watched"]
    signals_run(home, caplog, "full: the last run used another options, watched")
    # the same cases build a second time: the last run's state counts it already
    signals_run(home, caplog, "full: cases/ is not the increment of the build the last run counted")

    pipeline.ingest_stage(home, zips(sim, ["2019Q3"]))
    build_cases(home)
    last = max(home.signals.glob("*/state")).parent
    shutil.rmtree(last / "state")  # a run by an older pvmon, or by the scheduler's pieces
    signals_run(home, caplog, f"full: run {last.name} kept no state")

    pipeline.ingest_stage(home, zips(sim, ["2019Q4"]))
    build_cases(home)
    delta = signals_run(home, caplog, "increment: 2019Q4 added")
    # and the same store counted in full: the same tables
    shutil.rmtree(delta / "state")
    full = signals_run(home, caplog, f"full: run {delta.name} kept no state")
    for name in ("signals.parquet", "trend.parquet"):
        mine, theirs = (pl.read_parquet(Path(run) / name) for run in (delta, full))
        if name == "signals.parquet":  # is_new: against each run's previous run
            mine, theirs = mine.drop("is_new"), theirs.drop("is_new")
        assert_frame_equal(mine, theirs, check_exact=True)
    assert pl.read_parquet(full / "trend.parquet")["quarter"].max() == "2019Q4"
