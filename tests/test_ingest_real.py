"""Genuine FDA rows (../shared/data/faers-real) ingest with exact counts and every quirk handled."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pv.config import Home
from pv.faers import layouts
from pv.lake.ingest import ingest_paths
from pv.lake.status import data_origin

TABLES = ("demo", "drug", "reac", "outc", "rpsr", "ther", "indi")


def staged(home: Path, table: str, quarter: str) -> pl.DataFrame:
    return pl.read_parquet(home / "staged" / table / f"quarter={quarter}" / "part-0.parquet")


def data_lines(path: Path) -> int:
    """Physical lines after the header, counted independently of the reader."""
    return len(path.read_bytes().rstrip(b"\n").split(b"\n")) - 1


@pytest.fixture(scope="module")
def real_home(tmp_path_factory, shared_data) -> Path:
    home = tmp_path_factory.mktemp("real")
    real = shared_data / "faers-real"
    out = subprocess.run(
        [sys.executable, "-m", "pv.cli", "ingest", "--home", str(home),
         str(real / "2026q2-sample" / "faers_real_sample_2026q2.zip"),
         str(real / "2012q4-heads"), str(real / "2020q3-heads")],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    return home


@pytest.mark.parametrize(
    "quarter,folder,pattern",
    [("2026Q2", "2026q2-sample/extracted/ASCII", "{T}26Q2.txt"),
     ("2012Q4", "2012q4-heads", "{t}12q4.txt"),
     ("2020Q3", "2020q3-heads", "{T}20Q3-10.txt")],
)
def test_every_real_line_is_staged_exactly(real_home, shared_data, quarter, folder, pattern):
    con = sqlite3.connect(real_home / "pvmon.sqlite")
    for t in TABLES:
        src = shared_data / "faers-real" / folder / pattern.format(T=t.upper(), t=t)
        expected = data_lines(src)
        frame = staged(real_home, t, quarter)
        assert frame.height == expected, (t, quarter)
        assert frame["source_line"].to_list() == list(range(2, expected + 2))
        assert frame.columns[: len(layouts.CURRENT[t.upper()])] == list(layouts.CURRENT[t.upper()])
        assert set(frame.dtypes[:-1]) == {pl.String}
        read, clean, rep, quar, rows = con.execute(
            "SELECT lines_read, lines_clean, lines_repaired, lines_quarantined, rows_staged "
            "FROM files WHERE quarter=? AND table_name=?", (quarter, t)).fetchone()
        assert (read, clean, rep, quar, rows) == (expected, expected, 0, 0, expected)
    assert list((real_home / "quarantine" / f"quarter={quarter}").glob("*.parquet")) == []


def test_2026q2_crlf_and_values(real_home):
    demo = staged(real_home, "demo", "2026Q2")
    first = demo.row(0, named=True)
    assert first["primaryid"] == "100140224" and first["caseid"] == "10014022"
    assert first["mfr_num"] == "EU-ROCHE-1347273" and first["occr_country"] == "EU"  # CRLF: no \r kept
    assert first["auth_num"] is None and first["lit_ref"] is None  # empty field -> null
    assert first["era"] == "faers" and first["quarter"] == "2026Q2"
    assert first["source_file"] == "faers_real_sample_2026q2.zip!ASCII/DEMO26Q2.txt"
    for t in TABLES:
        frame = staged(real_home, t, "2026Q2")
        text = frame.select(pl.exclude("source_line"))
        assert not any(text[c].str.contains("\r", literal=True).any() for c in text.columns)


def test_2026q2_deleted_list_skips_lone_space_line(real_home, shared_data):
    deleted = staged(real_home, "deleted", "2026Q2")
    src = (shared_data / "faers-real/2026q2-sample/extracted/Deleted/DELETE26Q2.txt").read_text()
    expected = [ln.strip() for ln in src.splitlines() if ln.strip()]
    assert deleted["caseid"].to_list() == expected and len(expected) == 24
    assert deleted["source_line"].to_list() == list(range(2, 26))
    assert deleted.columns == ["caseid", "quarter", "source_file", "source_line"]
    con = sqlite3.connect(real_home / "pvmon.sqlite")
    assert con.execute(
        "SELECT lines_read, lines_clean, lines_blank FROM files WHERE table_name='deleted'"
    ).fetchone() == (25, 24, 1)


def test_2012q4_header_quirks(real_home, shared_data):
    drug = staged(real_home, "drug", "2012Q4")  # starts with a UTF-8 BOM, lot_nbr
    assert drug["primaryid"].str.contains(r"^\d+$").all()
    assert drug["prod_ai"].null_count() == drug.height  # not in the faers_early layout
    raw = (shared_data / "faers-real/2012q4-heads/drug12q4.txt").read_bytes().split(b"\n")
    assert drug["lot_num"].to_list() == [
        (ln.rstrip(b"\r").split(b"$")[12].decode() or None) for ln in raw[1:] if ln
    ]
    demo = staged(real_home, "demo", "2012Q4")  # ` rept_dt`, gndr_cod
    assert demo["rept_dt"][0] == "20121128"
    assert demo["sex"].to_list()[:2] == ["F", "M"]
    assert set(demo["era"]) == {"faers_early"}
    assert "gndr_cod" not in demo.columns and " rept_dt" not in demo.columns
    outc = staged(real_home, "outc", "2012Q4")  # outc_code
    assert outc["outc_cod"].to_list()[:2] == ["OT", "CA"]
    assert set(outc["era"]) == {"faers_early"}  # same layout as current FAERS: era by quarter


def test_reingest_is_a_noop(real_home, shared_data):
    before = {p: p.stat().st_mtime_ns for p in (real_home / "staged").rglob("*.parquet")}
    report = ingest_paths(Home(real_home), [shared_data / "faers-real" / "2012q4-heads",
                                           shared_data / "faers-real" / "2026q2-sample" / "faers_real_sample_2026q2.zip"])
    assert report.staged == [] and len(report.unchanged) == 2 and report.errors == []
    after = {p: p.stat().st_mtime_ns for p in (real_home / "staged").rglob("*.parquet")}
    assert before == after


def test_status_lists_quarters(real_home):
    out = subprocess.run([sys.executable, "-m", "pv.cli", "status", "--home", str(real_home)],
                         capture_output=True, text=True, env={"COLUMNS": "200", "PATH": ""})
    assert out.returncode == 0, out.stderr
    for q in ("2012Q4", "2020Q3", "2026Q2"):
        assert q in out.stdout
    # piped: plain tab-separated lines; each quarter's source with --all
    assert "quarters\tdata\tcount\tbytes\n2012Q4\tFDA\t1\t" in out.stdout
    every = subprocess.run([sys.executable, "-m", "pv.cli", "status", "--all", "--home", str(real_home)],
                           capture_output=True, text=True, env={"PATH": ""})
    assert every.returncode == 0 and "faers_real_sample_2026q2.zip" in every.stdout


def test_real_quarters_are_recorded_as_fda_data(real_home):
    origin = data_origin(Home(real_home))
    assert origin.fda == ["2012Q4", "2020Q3", "2026Q2"] and origin.simulated == [] and origin.label == "FDA"


def test_demo_refuses_a_store_holding_fda_quarters(real_home):
    before = sorted(p.relative_to(real_home) for p in real_home.rglob("*"))
    out = subprocess.run([sys.executable, "-m", "pv.cli", "demo", "--home", str(real_home)],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert out.stderr.splitlines()[-1] == (f"pvmon: error: {real_home}: holds FDA quarters (2012Q4..2026Q2); "
                                           "run the demo with another --home (its data is simulated)")
    assert sorted(p.relative_to(real_home) for p in real_home.rglob("*")) == before


def test_status_of_an_empty_store_says_so(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pv.cli", "status", "--home", str(tmp_path / "none")],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "Lake: nothing ingested yet" in out.stdout
