"""`pvmon mechanism` and `pvmon explain` on a store built by the tests."""

from __future__ import annotations

import subprocess
import sys

import polars as pl

from mechanism_fixtures import signal_table, write_cases, write_dose_cases


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
    verdicts = dict(table.filter(pl.col("family").is_in(["primary", "drug"]), pl.col("rule") == "lowest")
                    .select("drug", "verdict").iter_rows())
    assert verdicts == {"baclofen": "rises with density (p < 0.05)", "naltrexone": "no ordering shown"}
    primary = table.filter(pl.col("family") == "primary").row(0, named=True)
    assert primary["conclusion"] == "consistent with the explanation"
    assert primary["mds80"] is not None and 0 <= primary["power_at_observed"] <= 1
    assert "80% power" in (folder / "statement.md").read_text()
    assert pl.read_parquet(folder / "power.parquet")["power"].is_between(0, 1).all()
    annotated = pl.read_parquet(folder / "annotated_signals.parquet")
    assert annotated.height == signal_table().height
    assert (folder / "statement.md").read_text().startswith("# Receptor density vs signal strength")
    # Re-running replaces the folder with identical content.
    again = run_cli("mechanism", "--home", str(tmp_path), "--drug", "baclofen", "--drug", "naltrexone")
    assert again.returncode == 0 and pl.read_parquet(folder / "hypothesis.parquet").equals(table)


def test_mechanism_without_signals_is_one_line_error(tmp_path):
    out = run_cli("mechanism", "--home", str(tmp_path))
    assert out.returncode == 1
    assert out.stderr.strip().startswith("pvmon: error:") and "no signals run and no cases/" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_explain_case_with_gabab_agonist(tmp_path):
    write_cases(tmp_path / "cases")
    out = run_cli("explain", "--case", "101", "--home", str(tmp_path))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Case 101 (primaryid 1011, version 1, quarter 2023Q4; F, 54 y, FR; serious: True)" in text
    assert "1. baclofen [PS] (LIORESAL; route oral, 180 mg/day (band >150); indication aud): selective GABA-B receptor agonist" in text
    assert "2. sertraline [C]" in text and "mechanism not in seeds/mechanism_roles.csv" in text
    assert "  - Nausea: no receptor-map entry for this PT; no mechanistic explanation offered." in text
    assert "sensory domain: thalamus incl. medial/lateral geniculate relays, GABA-B density high (rank 4)" in text
    assert "evidence grade: density D (documented), link to the effect I (plausible inference)\n" in text
    assert "180-210 mg/day" in text and "Loche 2014" in text
    assert "[paradoxical: annotated, not a direct agonist effect]" in text
    assert "does not apply" not in text and "not a causality assessment" in text


def test_explain_case_without_gabab_agonist_says_it_does_not_apply(tmp_path):
    write_cases(tmp_path / "cases")
    out = run_cli("explain", "--case", "202", "--home", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "sex unknown, age unknown, US" in out.stdout
    assert "opioid receptor antagonist" in out.stdout
    assert "memory_cognition domain: hippocampus" in out.stdout
    assert "does not apply: no GABA-B agonist in this case" in out.stdout


def test_explain_unknown_case_is_one_line_error(tmp_path):
    write_cases(tmp_path / "cases")
    out = run_cli("explain", "--case", "999", "--home", str(tmp_path))
    assert out.returncode == 1 and "caseid 999 is not a surviving case" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_mechanism_adds_dose_response_when_cases_exist(tmp_path):
    run = tmp_path / "signals" / "run-2"
    run.mkdir(parents=True)
    signal_table().write_parquet(run / "signals.parquet")
    write_dose_cases(tmp_path / "cases")
    out = run_cli("mechanism", "--home", str(tmp_path))
    assert out.returncode == 0, out.stderr
    assert "## Dose-response (oral mg/day and intrathecal ug/day, never pooled)" in out.stdout
    assert "Tinnitus claim of the source review, as stated (baclofen, oral)" in out.stdout
    trend = pl.read_parquet(tmp_path / "mechanism" / "run-2" / "dose_trends.parquet")
    assert trend["drug"].unique().to_list() == ["baclofen"]  # hypothesis drug only
    tinnitus = trend.filter((pl.col("event") == "Tinnitus") & (pl.col("scale") == "oral mg/day")).row(0, named=True)
    assert tinnitus["verdict"] == "rises with dose (q < 0.05)"


def test_mechanism_computes_domain_rows_from_cases_without_a_signals_run(tmp_path):
    write_dose_cases(tmp_path / "cases")
    out = run_cli("mechanism", "--home", str(tmp_path), "--drug", "baclofen")
    assert out.returncode == 0, out.stderr
    folder = tmp_path / "mechanism" / "cases-only"
    pts = pl.read_parquet(folder / "pt_strengths.parquet")
    tinnitus = pts.filter(pl.col("pt") == "Tinnitus").row(0, named=True)
    # The engine's background: reports with a suspect drug (PS/SS) and a reaction. 900 suspect-
    # baclofen reports (54 with Tinnitus); of the 2,000 others, the 667 naming baclofen only as
    # concomitant have no suspect drug and are out, leaving 1,333 (26 with Tinnitus).
    assert tinnitus["a"] == 54 and tinnitus["expected"] == 900 * (54 + 26) / (900 + 1333)
    domains = pl.read_parquet(folder / "domains.parquet")
    assert domains.filter(pl.col("domain") == "sensory")["n_pts"].to_list() == [1]  # only Tinnitus was reported
    text = (folder / "statement.md").read_text()
    assert "baclofen: computed from cases/ by pv.mechanism.domain_signals" in text
    assert "not testable" in pl.read_parquet(folder / "hypothesis.parquet").filter(pl.col("family") == "primary")["verdict"][0]
    assert not (folder / "annotated_signals.parquet").exists()
    pts = pl.read_parquet(folder / "reaction_pts.parquet")
    by = {r["pt"]: r for r in pts.iter_rows(named=True)}
    assert set(by) == {"Tinnitus", "Nausea", "Vertigo", "Headache", "Hypotonia"}
    assert (by["Tinnitus"]["reports"], by["Tinnitus"]["domain"]) == (54 + 40, ["sensory"])
    assert by["Hypotonia"]["domain"] == ["motor_tone"]
    assert by["Headache"]["mechanism_status"] == "no mapping" and by["Headache"]["reports"] == 1960
