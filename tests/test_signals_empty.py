"""A store in which no watched drug occurs (FDA's first lines of 2026Q2) runs end to end and says so."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl

from pv.signals.table import SIGNAL_COLUMNS
from pv.signals.trend import KEYS


def pvmon(*args):
    return subprocess.run([sys.executable, "-m", "pv.cli", *args], capture_output=True, text=True)


def test_pvmon_run_on_a_store_without_watched_drugs(shared_data, tmp_path):
    home = tmp_path / "store"
    sample = shared_data / "faers-real" / "2026q2-sample" / "faers_real_sample_2026q2.zip"
    done = pvmon("run", "--home", str(home), str(sample))
    assert done.returncode == 0, done.stderr
    assert "mechanism, report: skipped (none of baclofen" in done.stderr + done.stdout
    (run,) = [p for p in (home / "signals").iterdir() if not p.name.startswith(".")]  # .versions: pv.atomic
    meta = json.loads((run / "run.json").read_text())
    assert meta["empty"].startswith("none of baclofen, ") and "occurs as a drug in roles ps+ss" in meta["empty"]
    assert meta["drugs"]["reported"] == [] and meta["ebgm_published"] is False and meta["gps_fit"] is None
    # the store itself was read: 25 cases, 4 of them with a suspect drug and a reaction, none a watched drug
    assert meta["background"]["reports"] == 4
    signals = pl.read_parquet(run / "signals.parquet")
    assert signals.height == 0 and signals.columns == SIGNAL_COLUMNS
    assert signals.schema["a"] == pl.Int64 and signals.schema["eb05"] == pl.Float64
    trend = pl.read_parquet(run / "trend.parquet")
    assert trend.height == 0 and trend.columns[:5] == [*KEYS, "quarter"]
    # the published page says why there is nothing to show; nothing else pretends otherwise
    page = (home / "site" / "index.html").read_text()
    assert "none of baclofen" in page and "no signal to compute" in page
    assert json.loads((home / "site" / "site.json").read_text())["empty"] == meta["empty"]
    assert not (home / "reports").exists() or not any((home / "reports").iterdir())
    # status shows the run; a report asked for anyway is one line naming the reason
    status = pvmon("status", "--home", str(home))
    assert status.returncode == 0 and run.name in status.stdout
    report = pvmon("report", "--home", str(home), "--drug", "baclofen", "--out", str(tmp_path / "r"))
    assert report.returncode != 0 and report.stderr.count("\n") == 1
    assert report.stderr.startswith("pvmon: error: ") and "no signal to compute" in report.stderr
    # publishing again is byte-identical (same store, same page)
    before = page
    assert pvmon("publish", "--home", str(home)).returncode == 0
    assert (home / "site" / "index.html").read_text() == before
    again = pvmon("signals", "--home", str(home))
    assert again.returncode == 0 and again.stdout.startswith("signals: none of baclofen, ")
