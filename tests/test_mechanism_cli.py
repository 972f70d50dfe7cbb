"""`pvmon mechanism` and `pvmon explain` on a store built by the tests."""

from __future__ import annotations

import subprocess
import sys

import polars as pl

from mechanism_fixtures import signal_table


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pv.cli", *args], capture_output=True, text=True)


def test_mechanism_writes_table_and_statement(tmp_path):
    run = tmp_path / "signals" / "run-1"
    run.mkdir(parents=True)
    signal_table().write_parquet(run / "signals.parquet")
    out = run_cli("mechanism", "--home", str(tmp_path), "--drug", "baclofen", "--drug", "naltrexone")
    assert out.returncode == 0, out.stderr
    assert "hypothesis-generating" in out.stdout
    folder = tmp_path / "mechanism" / "run-1"
    table = pl.read_parquet(folder / "hypothesis.parquet")
    assert sorted(table["drug"].unique()) == ["baclofen", "naltrexone"]
    verdicts = dict(table.filter(pl.col("measure") == "log_ebgm").select("drug", "verdict").iter_rows())
    assert verdicts == {"baclofen": "rises with density", "naltrexone": "no clear ordering"}
    annotated = pl.read_parquet(folder / "annotated_signals.parquet")
    assert annotated.height == signal_table().height
    assert (folder / "statement.md").read_text().startswith("# Receptor density vs signal strength")
    # Re-running replaces the folder with identical content.
    again = run_cli("mechanism", "--home", str(tmp_path), "--drug", "baclofen", "--drug", "naltrexone")
    assert again.returncode == 0 and pl.read_parquet(folder / "hypothesis.parquet").equals(table)


def test_mechanism_without_signals_is_one_line_error(tmp_path):
    out = run_cli("mechanism", "--home", str(tmp_path))
    assert out.returncode == 1
    assert out.stderr.strip().startswith("pvmon: error:") and "no signals run found" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
