"""Simulated extracts of all three eras (pvmon simulate) against their ground truth:
line accounting balances exactly and every planted broken line meets its listed fate."""

from __future__ import annotations

import sqlite3
import zipfile
from pathlib import Path

import polars as pl
import pytest

from pv.config import Home
from pv.faers.extract import SIMULATED_COMMENT, is_simulated
from pv.faers.reader import classify_member
from pv.faers.simulate import simulate
from pv.lake.ingest import ingest_paths
from pv.lake.status import data_origin

# legacy without/with REPORTER_COUNTRY, the legacy->FAERS switch (BOM, typos), 2018Q1 _new
# names, 2019Q1 deleted lists (AllDeletedCases), 2025Q3 TABs.
RANGES = ("2005Q2..2005Q3", "2012Q3..2013Q1", "2018Q1..2019Q1", "2025Q3..2025Q3")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> list[tuple[Path, Path, pl.DataFrame]]:
    """(zip folder, store, ground truth) per simulated range, each ingested once."""
    out = []
    for spec in RANGES:
        src = tmp_path_factory.mktemp("sim")
        simulate(src, spec, reports_per_quarter=150, seed=3, jobs=1)  # small: no process pool
        home = tmp_path_factory.mktemp("home")
        report = ingest_paths(Home(home), [src])
        assert report.errors == [] and report.staged, report
        truth = pl.read_csv(src / "ground_truth.csv", infer_schema=False)
        out.append((src, home, truth))
    return out


def physical_lines(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


def test_every_line_of_every_file_is_accounted_for(simulated):
    checked = 0
    for src, home, _ in simulated:
        con = sqlite3.connect(home / "pvmon.sqlite")
        files = {r[0]: r[1:] for r in con.execute(
            "SELECT source_file, table_name, lines_read, lines_clean, lines_repaired, lines_quarantined, "
            "lines_blank, rows_staged FROM files")}
        for z in sorted(src.glob("*.zip")):
            with zipfile.ZipFile(z) as zf:
                for name in zf.namelist():
                    kind = classify_member(name)
                    if kind is None:
                        continue
                    data = zf.read(name)
                    table, read, clean, repaired, quarantined, blank, rows = files[f"{z.name}!{name}"]
                    header = 0 if kind[0] == "DELETED" else 1
                    assert read == physical_lines(data) - header, name
                    assert read == clean + repaired + quarantined + blank, name
                    checked += 1
        for table, staged_rows in con.execute("SELECT table_name, SUM(rows_staged) FROM files GROUP BY table_name"):
            on_disk = pl.scan_parquet(home / "staged" / table / "*" / "*.parquet").select(pl.len()).collect().item()
            assert on_disk == staged_rows, table
    assert checked >= 9 * 8


def test_broken_lines_meet_the_fate_the_ground_truth_lists(simulated):
    for src, home, truth in simulated:
        broken = truth.filter(pl.col("kind") == "broken_line")
        con = sqlite3.connect(home / "pvmon.sqlite")
        zip_of = dict(con.execute("SELECT quarter, source FROM quarters"))
        expected_repairs = sorted(
            (r["quarter"], r["table"].lower(), f"{zip_of[r['quarter']]}!{r['file']}", int(r["line"]), r["detail"])
            for r in broken.filter(pl.col("value") == "repaired").iter_rows(named=True))
        expected_quarantine = sorted(
            (r["quarter"], r["table"].lower(), f"{zip_of[r['quarter']]}!{r['file']}", int(r["line"]))
            for r in broken.filter(pl.col("value") == "quarantined").iter_rows(named=True))
        assert expected_repairs or expected_quarantine
        repairs = sorted(con.execute("SELECT quarter, table_name, source_file, line, rule FROM repairs"))
        assert repairs == expected_repairs
        quarantine = pl.read_parquet(home / "quarantine" / "*" / "*.parquet")
        assert sorted(quarantine.select("quarter", "table", "source_file", "line").iter_rows()) == expected_quarantine
        # the repaired reports are staged under their own primaryid, the quarantined ones are not
        # legacy DEMO has extra columns (image, death_dt, confid): read across eras by name
        demo = pl.read_parquet(home / "staged" / "demo" / "*" / "*.parquet", missing_columns="insert")
        staged_ids = set(demo["primaryid"])
        for r in broken.iter_rows(named=True):
            if r["table"] == "DEMO":
                assert (r["primaryid"] in staged_ids) == (r["value"] == "repaired"), r
        drug = pl.read_parquet(home / "staged" / "drug" / "*" / "*.parquet")
        for r in broken.filter(pl.col("detail") == "two_records").iter_rows(named=True):
            on_line = drug.filter((pl.col("quarter") == r["quarter"]) & (pl.col("source_line") == int(r["line"])))
            assert on_line.height == 2 and on_line["primaryid"][0] == r["primaryid"]


def test_demo_rows_staged_equal_the_funnel_reports_read(simulated):
    for _, home, truth in simulated:
        funnel = truth.filter((pl.col("kind") == "funnel") & (pl.col("detail") == "reports_read")
                              & (pl.col("quarter") != "total"))
        con = sqlite3.connect(home / "pvmon.sqlite")
        staged = dict(con.execute("SELECT quarter, rows_staged FROM files WHERE table_name='demo'"))
        assert staged == {r["quarter"]: int(r["value"]) for r in funnel.iter_rows(named=True)}


def test_deleted_lists_are_staged_whole(simulated):
    for _, home, truth in simulated:
        expected = set(truth.filter(pl.col("kind") == "deleted_case")["caseid"])
        paths = list((home / "staged" / "deleted").glob("*/*.parquet"))
        staged = set(pl.read_parquet(paths)["caseid"]) if paths else set()
        assert staged == expected


def test_simulated_zips_are_marked_and_the_store_knows_it(simulated):
    for src, home, _ in simulated:
        for z in src.glob("*.zip"):
            with zipfile.ZipFile(z) as zf:
                assert zf.comment.startswith(SIMULATED_COMMENT + b"; digest ") and is_simulated(zf, z.name), z.name
        origin = data_origin(Home(home))
        staged = sorted(p.name.removeprefix("quarter=") for p in (home / "staged" / "demo").iterdir())
        assert origin.simulated == staged and origin.fda == [] and origin.label == "SIMULATED"


def test_a_store_of_an_older_pvmon_gets_its_origin_recorded_by_reingesting(simulated, tmp_path):
    import shutil

    src, home, _ = simulated[0]
    old = tmp_path / "old"
    shutil.copytree(home, old)
    con = sqlite3.connect(old / "pvmon.sqlite")
    con.execute("ALTER TABLE quarters DROP COLUMN simulated")  # the manifest as pvmon wrote it before the mark
    con.commit()
    con.close()
    origin = data_origin(Home(old))
    assert origin.label == "UNKNOWN" and origin.simulated == origin.fda == [] and len(origin.unknown) == 2
    report = ingest_paths(Home(old), [src])  # same bytes: nothing restaged, the origin is recorded
    assert report.staged == [] and len(report.unchanged) == 2
    assert data_origin(Home(old)).label == "SIMULATED"
