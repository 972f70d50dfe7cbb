"""The signals run in pieces (pv.signals.tasks: prior fit, one piece per level and chunk of drugs,
merge), as the DAGs spread it over workers, writes the very run that ``pvmon signals`` writes in
one process: the same signal and trend files, byte for byte. No Airflow here: the pieces are
called one by one on a simulated store."""

from __future__ import annotations

import json
import os
import shutil

import polars as pl
import pytest
from typer.testing import CliRunner

from pv.cli import cli
from pv.config import Home
from pv.errors import PvError
from pv.lake.digest import RUN_CLOCK_KEYS
from pv.signals import tasks


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Simulated extracts of four quarters, ingested and deduplicated (cases/ built)."""
    from pv import pipeline
    from pv.faers.simulate import simulate

    root = tmp_path_factory.mktemp("sig")
    simulate(root / "sim", "2023Q1..2023Q4", reports_per_quarter=1500, seed=4, jobs=1)
    home = Home(root / "home")
    pipeline.ingest_stage(home, [root / "sim"])
    pipeline.cases_stage(home)
    return home.root


def copy(store, to) -> Home:
    shutil.copytree(store, to, symlinks=True)
    return Home(to)


def in_pieces(home: Home) -> tuple[str, list]:
    run = tasks.fit_prior(home)
    pieces = tasks.pieces(home, run)
    for level, chunk in reversed(pieces):  # any order, as the workers happen to take them
        tasks.signal_chunk(home, run, level, chunk)
    assert tasks.merge_signals(home, run) == home.signals / run
    assert not tasks.work_dir(home, run).exists()  # the plan and the pieces are gone once merged
    return run, pieces


@pytest.mark.parametrize("chunk, n_pieces", [("", 3), ("5", 9)])
def test_the_pieces_write_the_run_pvmon_signals_writes(store, tmp_path, monkeypatch, chunk, n_pieces):
    monkeypatch.setenv("PV_SIGNAL_CHUNK", chunk)  # "": every drug in one chunk, one piece per level
    one, split = copy(store, tmp_path / "one"), copy(store, tmp_path / "split")
    out = CliRunner().invoke(cli, ["signals", "--home", str(one.root)])
    assert out.exit_code == 0, out.output
    (whole,) = [p for p in one.signals.iterdir() if not p.name.startswith(".")]
    run, pieces = in_pieces(split)
    assert len(pieces) == n_pieces and {level for level, _ in pieces} == {"pt", "group", "domain"}
    table = pl.read_parquet(whole / "signals.parquet")
    assert table.height > 5000 and set(table["level"]) == {"pt", "group", "domain"}
    assert table["drug"].n_unique() == 12  # the watchlist drugs the simulator writes
    for name in ("signals.parquet", "trend.parquet"):
        assert (split.signals / run / name).read_bytes() == (whole / name).read_bytes(), name
    a, b = (json.loads((p / "run.json").read_text()) for p in (whole, split.signals / run))
    differ = {k for k in a if a[k] != b[k]}
    assert differ <= {*RUN_CLOCK_KEYS, "run_id", "inputs"}
    assert [{k: v for k, v in f.items() if k != "path"} for f in a["inputs"]] == \
        [{k: v for k, v in f.items() if k != "path"} for f in b["inputs"]]  # same files, other store
    assert set(b["seconds"]) >= {"read", "prior", "slices", "pt", "group", "domain", "assemble", "total"}


def test_a_piece_refuses_changed_cases_and_the_merge_a_missing_piece(store, tmp_path):
    home = copy(store, tmp_path / "h")
    run = tasks.fit_prior(home)
    drugs = home.cases / "drugs.parquet"
    shutil.copytree(drugs, tmp_path / "drugs.parquet")  # a folder of quarter files (pv.cases.tables)
    shutil.rmtree(drugs)
    os.replace(tmp_path / "drugs.parquet", drugs)  # the same rows, but cases/ was rewritten since the plan
    with pytest.raises(PvError, match=f"signals {run}: cases/ changed since the prior was fitted"):
        tasks.signal_chunk(home, run, "pt", 0)
    with pytest.raises(PvError, match=f"signals {run}: no piece pt/7 in the plan"):
        tasks.signal_chunk(home, run, "pt", 7)
    run = tasks.fit_prior(home)
    tasks.signal_chunk(home, run, "pt", 0)
    with pytest.raises(PvError, match=f"signals {run}: piece group/0 has not run"):
        tasks.merge_signals(home, run)
    assert not (home.signals / run).exists()
