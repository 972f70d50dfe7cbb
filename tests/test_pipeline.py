"""`pvmon demo`, the README's main job: simulated extracts through every stage."""

from __future__ import annotations

import json
import subprocess
import sys

from sim_truth import funnel_totals


def test_demo_runs_every_stage_and_says_the_data_is_simulated(tmp_path):
    home = tmp_path / "pvdata"
    out = subprocess.run([sys.executable, "-m", "pv.cli", "demo", "--home", str(home)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "SIMULATED" in out.stderr
    expected = " -> ".join(f"{k} {v:,}" for k, v in funnel_totals(home / "simulated").items())
    assert f"cases: {expected}" in out.stdout
    runs = sorted(home.glob("signals/*/signals.parquet"))
    assert len(runs) == 1 and f"signal table: {runs[0]}" in out.stdout
    # the planted baclofen overdose and withdrawal groups come out as signals (ROR025 and IC025)
    for group in ("overdose_broad", "withdrawal_broad"):
        line = next(x for x in out.stdout.splitlines() if x.strip().startswith(group))
        assert "ror025" in line and "ic025" in line
    assert (runs[0].parent / "run.json").exists()
    assert (home / "mechanism" / runs[0].parent.name / "statement.md").exists()
    # the watchlist's first drug gets its regulator report, flagged as simulated in its provenance
    reports = home / "reports" / runs[0].parent.name
    assert f"regulator reports (PDF, XLSX, CSV): {reports}" in out.stdout
    assert (reports / "baclofen.pdf").exists() and (reports / "baclofen.xlsx").exists()
    record = json.loads((reports / "baclofen_csv" / "provenance.json").read_text())
    assert record["report"]["data_source"] == "SIMULATED"
    assert (home / "site" / "index.html").is_file() and f"dashboards: {home / 'site' / 'index.html'}" in out.stdout
    # the signal run records the seed versions it used, the receptor map's included
    run = json.loads((runs[0].parent / "run.json").read_text())
    shipped = repo_seeds_versions("receptor_map.csv")
    assert run["seeds"]["receptor_map"] == {"version": ", ".join(shipped), "sources": ["seeds/receptor_map.csv"]}


def repo_seeds_versions(name: str) -> list[str]:
    """The distinct `version` values of a shipped seed, read with the csv module (not pvmon's loader)."""
    import csv
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "seeds" / name
    lines = [x for x in path.read_text().splitlines() if x and not x.startswith("#")]
    return sorted({row["version"] for row in csv.DictReader(lines)})
