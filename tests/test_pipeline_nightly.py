"""What the scheduled runs ask of the pipeline: is anything new since the last run (the nightly
gate), and which extracts hold one quarter of a backfill."""

from __future__ import annotations

import shutil

import pytest

from pv import pipeline
from pv.config import Home
from pv.errors import PvError
from pv.faers.simulate import simulate

DRUGS = ["baclofen", "naltrexone"]


@pytest.fixture(scope="module")
def sims(tmp_path_factory):
    root = tmp_path_factory.mktemp("sims")
    simulate(root / "first", "2024Q1..2024Q2", 1500, seed=3)
    simulate(root / "next", "2024Q3", 1500, seed=3)
    return root


def test_the_gate_opens_only_for_new_data_or_other_drugs(sims, tmp_path):
    home = Home.at(tmp_path / "pvdata")
    said = []
    assert pipeline.changes_since_last_run(home, DRUGS) == ["no signal run yet"]
    pipeline.ingest_stage(home, [sims / "first"])
    pipeline.cases_stage(home)
    pipeline.signals_stage(home, DRUGS)
    assert pipeline.changes_since_last_run(home, DRUGS) == []
    assert pipeline.needs_run(home, DRUGS, say=said.append) is False
    assert said == [f"nothing new since the latest signal run ({home.root}): no quarter arrived and no input changed"]
    # the same zips again change nothing
    pipeline.ingest_stage(home, [sims / "first"])
    assert pipeline.changes_since_last_run(home, DRUGS) == []
    # other drugs asked for
    assert pipeline.changes_since_last_run(home, ["baclofen"]) == [
        f"the drugs asked for (baclofen) differ from run {pipeline_run(home)}'s"]
    # a new quarter arrives
    pipeline.ingest_stage(home, [sims / "next"])
    assert pipeline.changes_since_last_run(home, DRUGS) == ["staged quarters changed since cases were built: 2024Q3"]
    pipeline.cases_stage(home)
    changed = [r.split(" changed")[0] for r in pipeline.changes_since_last_run(home, DRUGS)]
    assert {"cases.parquet", "drugs.parquet", "reactions.parquet"} <= set(changed)
    pipeline.signals_stage(home, DRUGS)
    assert pipeline.needs_run(home, DRUGS, say=said.append) is False


def pipeline_run(home: Home) -> str:
    from pv.signals.summary import latest_run

    return latest_run(home).name


def test_a_backfill_quarter_takes_its_own_zips_by_name(sims, tmp_path, monkeypatch):
    home = Home.at(tmp_path / "pvdata")
    got = pipeline.quarter_extracts(home, "2024Q2", [str(sims / "first"), str(sims / "next")])
    assert [p.rsplit("/", 1)[1].lower() for p in got] == ["faers_ascii_2024q2.zip"]
    with pytest.raises(PvError, match="2023Q4: no FDA-named extract"):
        pipeline.quarter_extracts(home, "2023Q4", [str(sims / "first")])
    # the inbox ($PV_INBOX) is read when no paths are given
    inbox = tmp_path / "inbox"
    shutil.copytree(sims / "next", inbox)
    monkeypatch.setenv("PV_INBOX", str(inbox))
    assert [p.rsplit("/", 1)[1].lower() for p in pipeline.quarter_extracts(home, "2024Q3")] == [
        "faers_ascii_2024q3.zip"]
    assert pipeline.extracts_stage(home) == [str(inbox)]
    assert pipeline.backfill_quarters({"quarters": "2023Q3..2024Q2"}) == ["2023Q3", "2023Q4", "2024Q1", "2024Q2"]


def test_a_failed_mechanism_does_not_hold_back_report_and_dashboards(sims, tmp_path):
    """The mechanism stage fails (a file stands where its folder goes): the report and the dashboards
    are still written, saying the section is missing, and the run then ends with that error."""
    home = Home.at(tmp_path / "pvdata")
    home.root.mkdir()
    (home.root / "mechanism").write_text("in the way")
    said = []
    with pytest.raises(PvError, match=r"^mechanism: .*mechanism.*\(the report and the dashboards were written without it\)"):
        pipeline.run(home, [sims / "first"], DRUGS, say=said.append)
    assert any(s.startswith("mechanism failed: ") for s in said)
    run = pipeline_run(home)
    assert (home.reports / run / "baclofen.pdf").is_file()
    page = (home.site / "mechanism.html").read_text()
    assert "No mechanism output for this run" in page and f"failed for run {run}" in page
    assert (home.site / "drug-baclofen.html").is_file()
