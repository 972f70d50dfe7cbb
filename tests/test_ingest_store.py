"""The lake under stress: bad input, re-ingest, replacement, two writers, kill -9."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import polars as pl
import pytest

from extract_fixture import fda_zip_name, write_zip

PVMON = [sys.executable, "-m", "pv.cli"]


def pvmon(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PVMON, *map(str, args)], capture_output=True, text=True)


def snapshot(home: Path) -> dict:
    """Store content (data, not timestamps): every Parquet file's rows and the manifest."""
    out = {}
    for p in sorted(home.glob("staged/*/*/*.parquet")) + sorted(home.glob("quarantine/*/*.parquet")):
        out[str(p.relative_to(home))] = pl.read_parquet(p)
    con = sqlite3.connect(home / "pvmon.sqlite")
    out["quarters"] = con.execute(
        "SELECT quarter, source, source_sha256, source_bytes FROM quarters ORDER BY quarter").fetchall()
    out["files"] = con.execute("SELECT * FROM files ORDER BY quarter, source_file").fetchall()
    out["repairs"] = con.execute("SELECT * FROM repairs ORDER BY quarter, source_file, line").fetchall()
    out["pending"] = con.execute("SELECT * FROM pending").fetchall()
    con.close()
    out["txn"] = sorted(p.name for p in (home / ".txn").glob("*")) if (home / ".txn").exists() else []
    return out


def assert_same_store(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        if isinstance(a[key], pl.DataFrame):
            assert a[key].equals(b[key]), key
        else:
            assert a[key] == b[key], key


def test_bad_inputs_fail_alone_with_one_line_each(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    good = write_zip(src / fda_zip_name(2020, 1), 2020, 1, 30)
    good_bytes = good.read_bytes()
    (src / "notzip.zip").write_bytes(b"just some text\n")
    (src / "page.zip").write_bytes(b"<!DOCTYPE html><html><body>Not found</body></html>")
    (src / "truncated.zip").write_bytes(good_bytes[: len(good_bytes) // 2])
    (src / "empty.zip").write_bytes(b"")
    write_zip(src / "escape.zip", 2020, 2, 5, overrides={"../../evil/DEMO20Q2.txt": b"x"})
    write_zip(src / "absolute.zip", 2020, 2, 5, overrides={"/etc/DEMO20Q2.txt": b"x"})
    write_zip(src / "missing.zip", 2020, 3, 5, drop=("OUTC", "RPSR"))
    write_zip(src / "unknown.zip", 2020, 4, 5, overrides={"REAC": b"primaryid$caseid$reaction$x\n1$1$a$b\n"})
    write_zip(src / "comma.zip", 2021, 1, 5, overrides={"THER": b"primaryid,caseid,dsg_drug_seq\n1,1,1\n"})
    write_zip(src / "emptymember.zip", 2021, 2, 5, overrides={"INDI": b""})
    flipped = write_zip(src / "flipped.zip", 2021, 3, 30)  # one byte of DRUG's deflate stream
    with zipfile.ZipFile(flipped) as zf:
        info = zf.getinfo("ASCII/DRUG21Q3.txt")
    raw = bytearray(flipped.read_bytes())
    raw[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0xFF
    flipped.write_bytes(bytes(raw))
    home = tmp_path / "home"
    out = pvmon("ingest", *sorted(src.iterdir()), "--home", home)
    assert out.returncode == 1
    errors = sorted(out.stderr.strip().splitlines())
    assert errors == sorted([
        "pvmon: error: notzip.zip: not a zip file",
        "pvmon: error: page.zip: an HTML page, not a zip",
        "pvmon: error: empty.zip: empty file",
        "pvmon: error: escape.zip: unsafe member path '../../evil/DEMO20Q2.txt'",
        "pvmon: error: absolute.zip: unsafe member path '/etc/DEMO20Q2.txt'",
        "pvmon: error: missing.zip: 2020Q3 is missing tables OUTC, RPSR",
        "pvmon: error: unknown.zip!ascii/REAC20Q4.txt: unknown header 'primaryid$caseid$reaction$x'".replace("ascii", "ASCII"),
        "pvmon: error: comma.zip!ASCII/THER21Q1.txt: wrong delimiter (found ','): FAERS files are '$'-separated",
        "pvmon: error: emptymember.zip!ASCII/INDI21Q2.txt: empty file",
    ] + [e for e in errors if e.startswith("pvmon: error: truncated.zip: truncated or corrupt zip")]
      + [e for e in errors if e.startswith("pvmon: error: flipped.zip!ASCII/DRUG21Q3.txt: corrupt zip member")])
    assert len(errors) == 11
    assert out.stdout.strip() == f"staged    2020Q1 <- {good}"
    # nothing half-written: only the good quarter anywhere, no transaction left behind
    assert sorted({p.parent.name for p in home.glob("staged/*/*/*.parquet")}) == ["quarter=2020Q1"]
    assert sorted(p.name for p in home.glob("quarantine/*")) == ["quarter=2020Q1"]
    assert list((home / ".txn").iterdir()) == []
    con = sqlite3.connect(home / "pvmon.sqlite")
    assert con.execute("SELECT quarter FROM quarters").fetchall() == [("2020Q1",)]
    assert con.execute("SELECT DISTINCT quarter FROM files").fetchall() == [("2020Q1",)]


def test_all_eras_and_changed_quarter_replaces_only_itself(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for y, q in ((2005, 1), (2012, 4), (2023, 2)):
        write_zip(src / fda_zip_name(y, q), y, q, 40)
    home = tmp_path / "home"
    assert pvmon("ingest", src, "--home", home).returncode == 0
    demo = pl.read_parquet(home / "staged/demo/quarter=2005Q1/part-0.parquet")
    assert demo.height == 40 and set(demo["era"]) == {"laers"}
    drug = pl.read_parquet(home / "staged/drug/quarter=2012Q4/part-0.parquet")
    assert drug.height == 160 and set(drug["era"]) == {"faers_early"}
    keep = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in home.glob("staged/*/quarter=200*/*.parquet")}
    keep |= {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in home.glob("staged/*/quarter=2012Q4/*.parquet")}
    # same bytes again: nothing happens
    again = pvmon("ingest", src, "--home", home)
    assert again.returncode == 0 and again.stdout.count("unchanged") == 3 and "staged " not in again.stdout
    # a changed 2023Q2 zip: that quarter is replaced, the others are not rewritten
    write_zip(src / fda_zip_name(2023, 2), 2023, 2, 55)
    changed = pvmon("ingest", src / fda_zip_name(2023, 2), "--home", home)
    assert changed.returncode == 0 and "staged    2023Q2" in changed.stdout
    assert pl.read_parquet(home / "staged/demo/quarter=2023Q2/part-0.parquet").height == 55
    assert keep == {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in keep}
    con = sqlite3.connect(home / "pvmon.sqlite")
    assert con.execute("SELECT lines_read FROM files WHERE quarter='2023Q2' AND table_name='demo'").fetchone() == (55,)


def test_extracts_in_flight_commit_in_the_order_given(tmp_path):
    """Two extracts are staged at once (pv.lake.ingest), yet the outcome is that of one after the
    other: the same bytes of a quarter a second time are unchanged, and a later extract of a
    quarter replaces the earlier one."""
    for name, n in (("a", 40), ("c", 55)):
        (tmp_path / name).mkdir()
        write_zip(tmp_path / name / fda_zip_name(2023, 2), 2023, 2, n)
    (tmp_path / "b").mkdir()
    shutil.copy(tmp_path / "a" / fda_zip_name(2023, 2), tmp_path / "b")
    write_zip(tmp_path / "c" / fda_zip_name(2023, 3), 2023, 3, 30)
    home = tmp_path / "home"
    out = pvmon("ingest", tmp_path / "a", tmp_path / "b", tmp_path / "c", "--home", home)
    assert out.returncode == 0, out.stderr
    said = re.findall(r"^(staged|unchanged)\s+(\d{4}Q\d) <- .*/([abc])/", out.stdout, re.M)
    assert said == [("staged", "2023Q2", "a"), ("staged", "2023Q2", "c"), ("staged", "2023Q3", "c"),
                    ("unchanged", "2023Q2", "b")], out.stdout  # the staged in order, then the unchanged
    assert pl.read_parquet(home / "staged/demo/quarter=2023Q2/part-0.parquet").height == 55
    assert pl.read_parquet(home / "staged/demo/quarter=2023Q3/part-0.parquet").height == 30


@pytest.fixture(scope="module")
def bigger_extract(tmp_path_factory) -> Path:
    """Four quarters of all three eras, big enough that an ingest takes a second or two."""
    src = tmp_path_factory.mktemp("big")
    for y, q in ((2008, 3), (2013, 1), (2019, 4), (2024, 1)):
        write_zip(src / fda_zip_name(y, q), y, q, 5_000)
    return src


@pytest.fixture(scope="module")
def clean_run(bigger_extract, tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("clean")
    out = pvmon("ingest", bigger_extract, "--home", home)
    assert out.returncode == 0, out.stderr
    return snapshot(home)


def committed_quarters(home: Path) -> int:
    if not (home / "pvmon.sqlite").exists():
        return 0
    con = sqlite3.connect(f"file:{home / 'pvmon.sqlite'}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT COUNT(*) FROM quarters").fetchone()[0]
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        con.close()


def preparing(home: Path) -> bool:
    """A quarter's transaction is being prepared (files under .txn/<id>/new/)."""
    try:
        return any((home / ".txn").glob("*/new/**/*.parquet"))
    except FileNotFoundError:  # the folder went away while we looked: the swap is under way
        return False


# moments to kill at, each checked while the ingest is still running
KILL_AT = {
    "first quarter half written": preparing,
    "first quarter committed": lambda home: committed_quarters(home) >= 1,
    "third quarter being written": lambda home: committed_quarters(home) >= 2 and preparing(home),
}


@pytest.mark.parametrize("moment", list(KILL_AT))
def test_kill_9_then_rerun_equals_a_clean_run(bigger_extract, clean_run, tmp_path, moment):
    home = tmp_path / "home"
    proc = subprocess.Popen([*PVMON, "ingest", str(bigger_extract), "--home", str(home)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    reached = KILL_AT[moment]
    while proc.poll() is None and not reached(home):
        time.sleep(0.002)
    assert proc.poll() is None, f"the ingest ended before '{moment}': nothing was interrupted"
    proc.kill()
    proc.wait()
    assert committed_quarters(home) < 4  # it really stopped part-way
    out = pvmon("ingest", bigger_extract, "--home", home)
    assert out.returncode == 0, out.stderr
    assert_same_store(snapshot(home), clean_run)


def test_two_ingests_at_once_wait_for_each_other(bigger_extract, clean_run, tmp_path):
    home = tmp_path / "home"
    procs = [subprocess.Popen([*PVMON, "ingest", str(bigger_extract), "--home", str(home)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    # they take turns: at the store lock (settling the store, a commit) or at a quarter both want
    assert any(re.search(r"waiting for the (store|quarter \d{4}Q[1-4]) lock", err) for _, err in outs), outs
    assert_same_store(snapshot(home), clean_run)


def test_a_quarter_lock_holds_back_only_its_own_quarter(tmp_path):
    """Quarters are staged side by side (a mapped ingest per quarter): while another writer holds
    2020Q1's lock and prepares its transaction, 2020Q2 goes in (recover leaves 2020Q1's work alone),
    and an ingest of 2020Q1 waits, within PV_LOCK_WAIT, then stops with one line."""
    from pv.config import Home
    from pv.lake.lock import quarter_lock

    q1 = write_zip(tmp_path / fda_zip_name(2020, 1), 2020, 1, 30)
    q2 = write_zip(tmp_path / fda_zip_name(2020, 2), 2020, 2, 30)
    home = tmp_path / "home"
    work = home / ".txn" / "2020Q1.0123abcd" / "new" / "staged"
    with quarter_lock(Home(home), "2020Q1"):
        work.mkdir(parents=True)  # 2020Q1 being prepared by the lock's holder
        out = pvmon("ingest", q2, "--home", home)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"staged    2020Q2 <- {q2}"
        assert work.is_dir()
        waited = subprocess.run([*PVMON, "ingest", str(q1), "--home", str(home)], capture_output=True, text=True,
                                env={**os.environ, "PV_LOCK_WAIT": "1"})
    assert waited.returncode == 1
    assert "waiting for the quarter 2020Q1 lock" in waited.stderr
    assert waited.stderr.strip().endswith(f"pvmon: error: {home}: the quarter 2020Q1 is locked by another pvmon "
                                          "process (waited 1 s; PV_LOCK_WAIT sets the wait)")
    assert sorted(p.name for p in home.glob("staged/demo/*")) == ["quarter=2020Q2"]
    out = pvmon("ingest", q1, "--home", home)  # the holder is gone: its leftover goes, 2020Q1 goes in
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in home.glob("staged/demo/*")) == ["quarter=2020Q1", "quarter=2020Q2"]
    assert list((home / ".txn").iterdir()) == []


@pytest.mark.parametrize("die_after", [1, 13])
def test_interrupted_swap_rolls_forward(bigger_extract, clean_run, tmp_path, monkeypatch, die_after):
    """Die inside the apply step (after the decision is journaled, between renames):
    the store is then completed by the next writer, never left half-swapped."""
    from pv.config import Home
    from pv.lake import ingest as lake_ingest, store

    home = Home(tmp_path / "home")
    calls = {"n": 0}
    real_replace = os.replace

    def dying_replace(a, b):
        calls["n"] += 1
        if calls["n"] > die_after:
            raise SystemExit("killed")
        real_replace(a, b)

    monkeypatch.setattr(store.os, "replace", dying_replace)
    with pytest.raises(SystemExit):
        lake_ingest.ingest_paths(home, [bigger_extract])
    con = sqlite3.connect(home.manifest)
    assert len(con.execute("SELECT * FROM pending").fetchall()) == 1  # decided, not finished
    con.close()
    monkeypatch.setattr(store.os, "replace", real_replace)
    # a reader (pvmon status) finishes the decided quarter before it reads
    status = pvmon("status", "--home", home.root)
    assert status.returncode == 0, status.stderr
    con = sqlite3.connect(home.manifest)
    assert con.execute("SELECT * FROM pending").fetchall() == []
    (first,) = con.execute("SELECT quarter FROM quarters").fetchone()
    con.close()
    assert sorted(p.parent.parent.name for p in home.staged.glob(f"*/quarter={first}/part-0.parquet")) == [
        "demo", "drug", "indi", "outc", "reac", "rpsr", "ther"]
    out = pvmon("ingest", bigger_extract, "--home", home.root)
    assert out.returncode == 0, out.stderr
    assert_same_store(snapshot(home.root), clean_run)


def test_a_table_written_in_parts_starts_again_at_a_none_part(tmp_path):
    from pv.config import Home
    from pv.lake import store

    home = Home(tmp_path / "home")
    home.root.mkdir(parents=True)
    txn = store.Transaction(home, "2020Q1")
    void = pl.DataFrame({"caseid": ["1", "2"], "q": pl.Series(["a", "a"], dtype=pl.Enum(["a"]))})
    kept = [pl.DataFrame({"caseid": ["3"], "q": pl.Series(["b"], dtype=pl.Enum(["b"]))}),
            pl.DataFrame({"caseid": ["4", "5"], "q": pl.Series(["b", "b"], dtype=pl.Enum(["b"]))})]
    txn.write_table("demo", iter([void, None, *kept]))
    got = pl.read_parquet(txn.new / "staged" / "demo" / store.PART)
    assert got.to_dict(as_series=False) == {"caseid": ["3", "4", "5"], "q": ["b", "b", "b"]}
    txn.abort()
