"""`pvmon status` answers "is there a new signal?" from the latest run's files."""

from __future__ import annotations

import os
import subprocess
import sys

import polars as pl

from pv.config import Home
from pv.lake.status import collect
from pv.signals.run import SignalOptions, run_signals
from pv.signals.summary import NEW_SHOWN, latest_run
from test_signals_run import DOMAINS, GROUPS, write_cases


def sections(home: Home) -> dict[str, list[dict]]:
    return {s.title: s.rows for s in collect(home) if s.title.startswith("Signals")}


def test_status_shows_the_latest_run_and_its_new_signals(tmp_path):
    home = Home.at(tmp_path)
    write_cases(home)
    assert list(sections(home)) == ["Signals: no run yet (run `pvmon signals`)"] and latest_run(home) is None

    options = SignalOptions(drugs=["baclofen", "aspirin"])
    first = run_signals(home, options, group_table=GROUPS, domain_table=DOMAINS, run_id="run1")
    table = pl.read_parquet(first / "signals.parquet")
    flagged = table.filter(pl.any_horizontal(pl.col("^flag_.*$").fill_null(False)))
    assert latest_run(home) == first and flagged.height > NEW_SHOWN
    got = sections(home)
    (about,) = got[f"Signals: latest run ({first / 'signals.parquet'})"]
    assert about["run"] == "run1" and about["drugs"] == "baclofen, aspirin"
    per_level = {r["level"]: r for r in got["Signals: rows and flags per level"]}
    expected = table.group_by("level").agg(pl.len().alias("rows"), pl.col("flag_ror025").sum().alias("ror025"),
                                           pl.col("flag_eb05").sum().alias("eb05"))
    for r in expected.iter_rows(named=True):
        assert {k: per_level[r["level"]][k] for k in ("rows", "ror025", "eb05")} == {
            k: r[k] for k in ("rows", "ror025", "eb05")}
    assert set(per_level) == set(expected["level"])
    assert sum(r["new"] for r in per_level.values()) == flagged.height  # first run: every flag is new
    new_title = next(t for t in got if t.startswith("Signals: new"))
    assert f": {flagged.height}, first {NEW_SHOWN} shown" in new_title
    shown = got[new_title]
    assert len(shown) == NEW_SHOWN
    # all-report rows first, groups before domains before PTs, larger a first
    keys = [(r["subset"] != "all", {"group": 0, "domain": 1, "pt": 2}[r["level"]], -r["a"]) for r in shown]
    assert keys == sorted(keys)

    out = subprocess.run([sys.executable, "-m", "pv.cli", "status", "--home", str(tmp_path)],
                         capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    assert f"Signals: new in run run1 (flagged now, not in the previous run): {flagged.height}" in out.stdout

    second = run_signals(home, options, group_table=GROUPS, domain_table=DOMAINS, run_id="run2")
    assert latest_run(home) == second
    got = sections(home)
    assert got["Signals: new in run run2 (flagged now, not in the previous run): 0"] == []
