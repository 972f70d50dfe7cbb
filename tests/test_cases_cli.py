"""`pvmon cases`, `pvmon vocab unmapped` and the funnel in `pvmon status`, as a user runs them."""

from __future__ import annotations

import subprocess
import sys

from staged_fixtures import write_staged


def pvmon(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pv.cli", *args], capture_output=True, text=True)


def test_cases_command_prints_funnel_and_unmapped(tmp_path):
    write_staged(tmp_path, "demo", "2021Q1", [
        {"primaryid": "11", "caseid": "1", "caseversion": "1", "fda_dt": "20210110"},
        {"primaryid": "12", "caseid": "1", "caseversion": "2", "fda_dt": "20210111"},
        {"primaryid": "21", "caseid": "2", "caseversion": "1", "fda_dt": "20210112"},
    ])
    write_staged(tmp_path, "drug", "2021Q1", [
        {"primaryid": "12", "drug_seq": "1", "role_cod": "PS", "drugname": "GABLOFEN"},
        {"primaryid": "12", "drug_seq": "2", "role_cod": "C", "drugname": "ZZTOPAMAB 5 MG"},
        {"primaryid": "21", "drug_seq": "1", "role_cod": "PS", "drugname": "Zztopamab"},
    ])
    out = pvmon("cases", "--home", str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "cases: full build: no previous build to update"  # the first build (pv.cases.increment)
    assert lines[2].split() == ["quarter", "reports_read", "latest_version", "after_deleted", "after_dup_flag"]
    assert lines[3].split() == ["2021Q1", "3", "2", "2", "2"] and lines[4].split() == ["total", "3", "2", "2", "2"]
    out = pvmon("vocab", "unmapped", "--home", str(tmp_path))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    # the surviving report 12 has GABLOFEN (mapped) and ZZTOPAMAB; report 21 has Zztopamab
    assert lines[0] == "faers        2021Q1..2021Q1: 2 of 3 drug rows unmapped (66.7%)"
    assert lines[2].split()[:3] == ["2", "2", "zztopamab"]
    status = pvmon("status", "--home", str(tmp_path))
    assert "dedup funnel" in status.stdout and "total\t3\t2\t2\t2" in status.stdout
    status = pvmon("status", "--all", "--home", str(tmp_path))  # every quarter's funnel row
    assert "2021Q1\t3\t2\t2\t2" in status.stdout


def test_cases_without_staged_data_is_one_line_error(tmp_path):
    out = pvmon("cases", "--home", str(tmp_path))
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip() == f"pvmon: error: {tmp_path}/staged/demo: no staged DEMO files (run `pvmon ingest` first)"


def test_bad_user_seed_stops_the_build(tmp_path, monkeypatch):
    write_staged(tmp_path / "h", "demo", "2021Q1", [{"primaryid": "11", "caseid": "1", "caseversion": "1"}])
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "pt_renames.csv").write_text("# version: mine\nold_pt,current_pt\nFits,Seizure\nFITS,Fit\n")
    monkeypatch.setenv("PV_SEEDS", str(tmp_path / "seeds"))
    out = pvmon("cases", "--home", str(tmp_path / "h"))
    assert out.returncode == 1
    assert "pt_renames.csv: line 4: conflicting entry for fits (first at line 3)" in out.stderr
