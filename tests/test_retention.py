"""Rule retention: old signal runs go (with their mechanism and reports), the newest N and every run
a report was exported from stay (pv.retention, `pvmon prune`)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pv import pipeline
from pv.config import Home
from pv.faers.simulate import simulate
from pv.retention import keep_run, plan, prune, runs_newest_first

DRUGS = ["baclofen", "naltrexone"]


def pvmon(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pv.cli", *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("retention")
    simulate(root / "sim", "2024Q1", 1200, seed=5)
    home = Home.at(root / "pvdata")
    pipeline.ingest_stage(home, [root / "sim"])
    pipeline.cases_stage(home)
    runs = []
    for i in range(4):
        run = pipeline.signals_stage(home, DRUGS)
        os.utime(run / "signals.parquet", (1_700_000_000 + i, 1_700_000_000 + i))  # a fixed age order
        (home.root / "mechanism" / run.name).mkdir(parents=True)
        (home.root / "mechanism" / run.name / "statement.md").write_text("x")
        runs.append(run.name)
    return home, runs


def test_prune_keeps_the_newest_and_the_exported(store):
    home, runs = store
    assert runs_newest_first(home) == runs[::-1]
    out = pvmon("report", "--drug", "baclofen", "--format", "csv", "--run", runs[0], "--home", str(home.root))
    assert out.returncode == 0, out.stderr
    assert (home.reports / runs[0] / "baclofen_csv").is_dir()
    planned = plan(home, keep=2)
    assert planned.removed == [runs[1]]
    assert planned.kept == {runs[3]: "newest", runs[2]: "among the newest 2",
                            runs[0]: "report exported for baclofen"}
    dry = pvmon("prune", "--keep", "2", "--dry-run", "--home", str(home.root))
    assert dry.returncode == 0 and f"would remove {runs[1]}" in dry.stdout
    assert (home.signals / runs[1]).exists()
    work = home.root / ".work"  # pieces a scheduler left: of the run that goes, and of a kept one
    for kind, run_id in (("signals", runs[1]), ("site", runs[1]), ("signals", runs[3])):
        (work / kind / run_id / "baclofen").mkdir(parents=True)
        (work / kind / run_id / "baclofen" / "piece.json").write_text("{}")
    done = pvmon("prune", "--keep", "2", "--home", str(home.root))
    assert done.returncode == 0 and f"removed {runs[1]}" in done.stdout, done.stderr
    assert sorted(str(p.relative_to(work)) for p in work.glob("*/*")) == [f"signals/{runs[3]}"]
    assert not (home.signals / runs[1]).exists() and not (home.root / "mechanism" / runs[1]).exists()
    assert runs_newest_first(home) == [runs[3], runs[2], runs[0]]
    assert (home.reports / runs[0]).is_dir()
    # the exported run survives every later prune, however small N is
    keep_run(home, runs[0], "again")  # recorded once
    assert prune(home, keep=1).removed == [runs[2]]
    assert runs_newest_first(home) == [runs[3], runs[0]]


def test_bad_keep_values_are_one_line(store, monkeypatch):
    home, _ = store
    out = pvmon("prune", "--keep", "0", "--home", str(home.root))
    assert out.returncode != 0 and out.stderr.startswith("pvmon: error:") and len(out.stderr.splitlines()) == 1
    env = {**os.environ, "PV_KEEP_RUNS": "many"}
    out = subprocess.run([sys.executable, "-m", "pv.cli", "prune", "--home", str(home.root)], capture_output=True,
                         text=True, env=env)
    assert out.returncode == 1 and out.stderr.strip() == "pvmon: error: PV_KEEP_RUNS: 'many' is not a whole number of at least 1"
