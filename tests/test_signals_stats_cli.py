"""``pvmon stats`` end to end: a long table of reports in, the signal table + run.json out."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
from typer.testing import CliRunner

from pv.cli import cli
from pv.errors import PvError
from pv.signals.table import SIGNAL_COLUMNS


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The real console entry point, in a subprocess (for the one-line error contract)."""
    return subprocess.run([sys.executable, "-m", "pv.cli", *args], capture_output=True, text=True)


def invoke(*args: str):
    """The same command parsed and run in-process (fast)."""
    return CliRunner().invoke(cli, list(args))


def long_table():
    """60 reports: drug K with event 'rash' in 12 of its 20 reports, background elsewhere."""
    rows = []
    for rid in range(60):
        drug = "K" if rid < 20 else ("L" if rid % 2 else "M")
        event = "rash" if (rid < 12 or rid % 10 == 0) else ("cough" if rid % 3 else "fever")
        rows.append((f"r{rid}", drug, event, "F" if rid % 2 else "M"))
        rows.append((f"r{rid}", drug, event, "F" if rid % 2 else "M"))  # a duplicate row: counted once
    return pl.DataFrame(rows, schema=["report", "product", "pt", "sex"], orient="row")


def test_stats_writes_signal_table_and_provenance(tmp_path):
    src = tmp_path / "reports.csv"
    long_table().write_csv(src)
    out = tmp_path / "signals.parquet"
    res = invoke("stats", str(src), "--id", "report", "--drug", "product", "--event", "pt",
                 "--strata", "sex", "--out", str(out), "--fit", "truncated")
    assert res.exit_code == 0, res.output
    frame = pl.read_parquet(out)
    assert frame.columns == SIGNAL_COLUMNS
    rash = frame.filter(drug="K", event="rash").row(0, named=True)
    # K: reports 0-19; rash: reports 0-11 plus 20, 30, 40, 50 -> a=12, b=8, c=4, d=36
    assert (rash["a"], rash["b"], rash["c"], rash["d"]) == (12, 8, 4, 36)
    assert rash["flag_evans"] is True and rash["flag_ror025"] is True
    run = json.loads((tmp_path / "signals.parquet.run.json").read_text())
    assert run["options"]["strata"] == ["sex"] and run["counts"]["total"] == 60
    assert run["inputs"][0]["sha256"] and run["gps_fit"]["mode"] == "truncated"
    # a tiny table cannot support a prior fit: whatever happened is reported, and EBGM
    # is published only from a usable fit
    assert run["ebgm_published"] == run["gps_fit"]["usable"]
    csv_out = tmp_path / "signals.csv"
    res = invoke("stats", str(out.with_name("signals.parquet")), "--count", "a", "--drug", "drug",
                 "--event", "event", "--out", str(csv_out),
                 "--prior", "0.43225,0.18248,1.67308,2.14468,0.13804")
    assert res.exit_code == 0, res.output
    counted = pl.read_csv(csv_out)
    assert counted.columns == SIGNAL_COLUMNS and counted["ebgm"].null_count() == 0


def test_stats_bad_input_is_one_line_error(tmp_path):
    src = tmp_path / "reports.csv"
    long_table().write_csv(src)
    res = run_cli("stats", str(src), "--id", "report", "--drug", "nope", "--event", "pt")
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0 and "no column nope" in res.stderr
    res = invoke("stats", str(src), "--drug", "product", "--event", "pt")
    assert isinstance(res.exception, PvError) and "exactly one of --id" in str(res.exception)
    res = run_cli("stats", str(src), "--id", "report", "--drug", "product", "--event", "pt",
                  "--out", str(tmp_path / "out.json"))
    assert res.returncode == 1 and res.stderr.strip() == (
        f"pvmon: error: {tmp_path / 'out.json'}: --out must end in .csv or .parquet (the format follows the extension)")
    assert not (tmp_path / "out.json").exists()
