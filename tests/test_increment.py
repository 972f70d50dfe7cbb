"""The nightly increment (issue 16, pv.cases.increment): quarters added one at a time update the
previous build, and every output equals a full rebuild of the same store, table by table, up to
what the site is built from (mechanism files, case listings)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pv import pipeline
from pv.cases.build import build_cases
from pv.config import Home
from pv.faers.simulate import simulate
from staged_fixtures import write_staged

DRUGS = ["baclofen", "naltrexone"]
FIRST = ["2018Q3", "2018Q4", "2019Q1"]
ADDED = [["2019Q2"], ["2019Q3"], ["2019Q4"], ["2020Q1", "2020Q2"]]  # nights; the last one brings two quarters
CASE_TABLES = ["cases.parquet", "drugs.parquet", "reactions.parquet", "indications.parquet",
               "history/cases.parquet", "history/drugs.parquet", "history/reactions.parquet"]  # a file per quarter
RUN_FILES = ["signals.parquet", "trend.parquet"]
MECHANISM_FILES = ["annotated_signals.parquet", "reaction_pts.parquet", "pt_strengths.parquet", "domains.parquet",
                   "hypothesis.parquet", "hypothesis.csv", "power.parquet", "dose_response.parquet",
                   "dose_trends.parquet", "statement.md"]


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, f"{FIRST[0]}..{ADDED[-1][-1]}", 1500, seed=5)
    return out


def zips(sim: Path, quarters: list[str]) -> list[Path]:
    """The quarters' zips (FDA's file names vary in case: 2019q1, 2019Q3)."""
    return [z for z in sorted(sim.glob("*.zip")) if z.stem[-6:].upper() in quarters]


def run_json(run: Path) -> dict:
    """run.json without what names the run and when it ran (ids, times, file paths)."""
    meta = json.loads((run / "run.json").read_text())
    for key in ("run_id", "created", "seconds", "cpu_seconds", "previous_run", "code"):
        meta.pop(key)
    meta["inputs"] = [{k: v for k, v in rec.items() if k != "path"} for rec in meta["inputs"]]
    return meta


def case_files(home: Home) -> list[str]:
    """Every file of cases/ (the tables' quarter files, funnel, build.json), as paths within it."""
    return sorted(str(p.relative_to(home.cases)) for p in home.cases.rglob("*")
                  if p.is_file() and p.parent.name != "increment")


def assert_same_cases(inc: Home, full: Home) -> None:
    """cases/ of the increment equals the full build's, file for file and byte for byte."""
    assert case_files(inc) == case_files(full)
    for name in CASE_TABLES:
        if any((full.cases / name).glob("*.parquet")):
            assert_frame_equal(pl.read_parquet(inc.cases / name), pl.read_parquet(full.cases / name), check_exact=True)
    for name in case_files(full):
        assert (inc.cases / name).read_bytes() == (full.cases / name).read_bytes(), name


def assert_same_outputs(inc: Home, full: Home, inc_run: Path, full_run: Path) -> None:
    assert_same_cases(inc, full)
    for name in RUN_FILES:
        assert_frame_equal(pl.read_parquet(inc_run / name), pl.read_parquet(full_run / name), check_exact=True)
    assert run_json(inc_run) == run_json(full_run)


def assert_same_site_inputs(inc: Home, full: Home, inc_run: Path, full_run: Path) -> None:
    """What publish reads beyond cases/ and the run: the mechanism stage's files (byte for byte; the
    statement names its run) and the case listings recounted from cases/ (every row and column)."""
    from dashboards.case_lists import listing_rows, wanted
    from dashboards.inputs import load

    outs = [Path(pipeline.mechanism_stage(home, run, DRUGS)) for home, run in ((inc, inc_run), (full, full_run))]
    assert sorted(p.name for p in outs[0].iterdir()) == sorted(MECHANISM_FILES)
    for name in MECHANISM_FILES:
        mine, theirs = ((out / name).read_bytes() for out in outs)
        if name == "statement.md":
            mine = mine.replace(inc_run.name.encode(), full_run.name.encode())
        assert mine == theirs, name
    listings = []
    for home in (inc, full):
        inputs = load(home)
        listings.append(listing_rows(inputs, wanted(inputs)))
    assert listings[0][0].height > 0
    for mine, theirs in zip(*listings):
        assert_frame_equal(mine.sort(pl.all()), theirs.sort(pl.all()), check_exact=True)


def built(home: Home, caplog, full: bool = False) -> str:
    """Build cases/; how it was built, as logged ("increment: <quarters> added, ..." or "full build: <why>")."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pv.cases.increment"):
        build_cases(home, full=full)
    said = [r.getMessage() for r in caplog.records if r.name == "pv.cases.increment"]
    assert len(said) == 1, said
    return said[0].removeprefix("cases: ")


def signals_run(home: Home, caplog, how: str) -> Path:
    """A signals run, which must say ``how`` it counted ("increment: <quarters> added" or "full: <why>")."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pv.signals.increment"):
        run = Path(pipeline.signals_stage(home, DRUGS))
    said = [r.getMessage() for r in caplog.records if r.name == "pv.signals.increment"]
    assert said == [f"signals: {how}"]
    return run


def test_the_increment_equals_a_full_rebuild_quarter_after_quarter(sim, tmp_path, caplog):
    truth = pl.read_csv(sim / "ground_truth.csv", infer_schema=False)
    inc, full = Home.at(tmp_path / "inc"), Home.at(tmp_path / "full")
    for home in (inc, full):
        pipeline.ingest_stage(home, zips(sim, FIRST))
        assert built(home, caplog) == "full build: no previous build to update"
        signals_run(home, caplog, "full: no signal run yet")
    kept_files = []
    for added in ADDED:
        before = set(pl.read_parquet(inc.cases / "cases.parquet")["caseid"].to_list())
        history_before = pl.read_parquet(inc.cases / "history/cases.parquet").height
        for home in (inc, full):
            pipeline.ingest_stage(home, zips(sim, added))
        was = {name: ((inc.cases / name).stat().st_ino, (inc.cases / name).read_bytes()) for name in case_files(inc)
               if name.endswith(".parquet/" + name.rsplit("/", 1)[-1])}  # the tables' quarter files
        assert built(inc, caplog).startswith(f"increment: {', '.join(added)} added, ")
        # rule quarter-files: a quarter file whose rows did not change is the last build's file (a hard
        # link), not a rewrite (here follow-ups reach back a few quarters, so the oldest are kept)
        kept = {name for name, (ino, data) in was.items() if (inc.cases / name).read_bytes() == data}
        assert all((inc.cases / name).stat().st_ino == was[name][0] for name in kept)
        kept_files.append(len(kept))
        assert built(full, caplog, full=True) == "full build: asked for"
        # rule signals-increment: the increment store's signals advance the last run's state by the
        # new quarters; the full store's are counted from scratch (its cases were rebuilt)
        runs = [signals_run(inc, caplog, f"increment: {', '.join(added)} added"),
                signals_run(full, caplog, "full: cases/ was fully rebuilt since the last run")]
        assert_same_outputs(inc, full, *runs)
        assert_same_site_inputs(inc, full, *runs)
        # the quarter carried the messes the increment must handle: deleted lists and follow-ups
        # naming cases built before, which left the current tables (to history/ or for good)
        deleted, later = ({int(c) for c in truth.filter((pl.col("kind") == kind) & pl.col("quarter").is_in(added))
                           ["caseid"]} for kind in ("deleted_case", "received_later"))
        assert deleted & before and later & before, added
        after = set(pl.read_parquet(inc.cases / "cases.parquet")["caseid"].to_list())
        assert not (deleted & after)
        assert pl.read_parquet(inc.cases / "history/cases.parquet").height > history_before
    assert kept_files[-1] > 0, kept_files


def test_the_increment_falls_back_to_a_full_build_when_an_old_quarter_changes(sim, tmp_path, caplog):
    home = Home.at(tmp_path / "pvdata")
    pipeline.ingest_stage(home, zips(sim, ["2019Q1"]))
    assert built(home, caplog) == "full build: no previous build to update"
    pipeline.ingest_stage(home, zips(sim, ["2018Q4", "2019Q2"]))  # an older quarter arrives late
    assert built(home, caplog) == "full build: a quarter older than the last build's was added or removed"
    assert built(home, caplog) == "full build: no quarter added since the last build"
    shutil.rmtree(home.cases / "increment")  # a build by an older pvmon: nothing to update from
    pipeline.ingest_stage(home, zips(sim, ["2019Q3"]))
    assert built(home, caplog) == "full build: no previous build to update"


def staged_quarter(home: Path, q: str, first_caseid: int, reports: list[tuple[str, str | None, str]]) -> None:
    """One staged quarter: a case (version 1) per (drugname, prod_ai, pt)."""
    demo, drug, reac = [], [], []
    for k, (name, ai, pt) in enumerate(reports):
        caseid, pid = str(first_caseid + k), f"{first_caseid + k}1"
        demo.append({"primaryid": pid, "caseid": caseid, "caseversion": "1", "fda_dt": q[:4] + "0115"})
        drug.append({"primaryid": pid, "caseid": caseid, "drug_seq": "1", "role_cod": "PS", "drugname": name,
                     "prod_ai": ai})
        reac.append({"primaryid": pid, "caseid": caseid, "pt": pt})
    for table, rows in (("demo", demo), ("drug", drug), ("reac", reac)):
        write_staged(home, table, q, rows)


def test_a_new_name_or_spelling_that_reaches_older_rows_rebuilds_everything(tmp_path, caplog):
    """Rules learned-names and pt-spelling are store-wide: the increment goes on when what the new
    quarters teach touches only new rows, and falls back to a full build when an older row would
    map or be spelled otherwise."""
    home = Home(tmp_path / "pvdata")
    staged_quarter(tmp_path / "pvdata", "2021Q1", 100,
                   [("FOOBARIN", None, "Xyzzy pain"), ("BACLOFEN", "BACLOFEN", "Headache")])
    assert built(home, caplog) == "full build: no previous build to update"
    # QUUXIN is learned (3 rows name it with one prod_ai) but no older row names it
    staged_quarter(tmp_path / "pvdata", "2021Q2", 200, [("QUUXIN", "BACLOFEN", "Headache")] * 3)
    twin = Home(tmp_path / "twin")
    shutil.copytree(home.root, twin.root, symlinks=True)
    assert built(home, caplog) == "increment: 2021Q2 added, 3 caseids touched"
    assert built(twin, caplog, full=True) == "full build: asked for"
    assert_same_cases(home, twin)
    drugs = pl.read_parquet(home.cases / "drugs.parquet")
    assert drugs.filter(pl.col("drugname") == "QUUXIN")["ingredient"].to_list() == ["baclofen"] * 3
    # FOOBARIN is learned now, and the 2021Q1 row that names it without prod_ai maps otherwise
    staged_quarter(tmp_path / "pvdata", "2021Q3", 300, [("FOOBARIN", "NALTREXONE", "Headache")] * 3)
    assert built(home, caplog) == "full build: a learned drug name changes how an older drug row maps"
    drugs = pl.read_parquet(home.cases / "drugs.parquet")
    assert drugs.filter(pl.col("caseid") == 100)["ingredient"].to_list() == ["naltrexone"]
    # the majority spelling of an older PT changes
    staged_quarter(tmp_path / "pvdata", "2021Q4", 400, [("BACLOFEN", "BACLOFEN", "XYZZY Pain")] * 2)
    assert built(home, caplog) == "full build: the new quarters change the spelling of an older PT"
    reactions = pl.read_parquet(home.cases / "reactions.parquet")
    assert reactions.filter(pl.col("caseid") == 100)["pt"].to_list() == ["XYZZY Pain"]
