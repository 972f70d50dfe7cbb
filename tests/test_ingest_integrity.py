"""A store that knows its own content, tried with real damage: staged files truncated,
deleted, flipped in place or added by hand; an extract that would wipe its quarter; a
simulated zip cut short. Each time: one line naming the file, exit 1, and re-ingesting
the source repairs the store to exactly what an undisturbed run holds."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import polars as pl
import pytest

from extract_fixture import fda_zip_name, write_zip
from pv.faers import layouts

PVMON = [sys.executable, "-m", "pv.cli"]


def pvmon(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*PVMON, *map(str, args)], capture_output=True, text=True)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def contents(home: Path) -> dict[str, str]:
    """Content hash of every staged, quarantine and cases file."""
    files = [*home.glob("staged/*/*/*.parquet"), *home.glob("quarantine/*/*.parquet"), *(p for p in home.glob("cases/**/*.parquet") if p.is_file())]  # case tables: folders of quarter files
    return {str(p.relative_to(home)): digest(p) for p in sorted(files)}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    """Two quarters ingested and cases built, undisturbed: (sources, home, content hashes)."""
    root = tmp_path_factory.mktemp("intact")
    src = root / "src"
    src.mkdir()
    write_zip(src / fda_zip_name(2020, 1), 2020, 1, 40)
    write_zip(src / fda_zip_name(2020, 2), 2020, 2, 30)
    home = root / "home"
    assert pvmon("ingest", src, "--home", home).returncode == 0
    out = pvmon("cases", "--home", home)
    assert out.returncode == 0, out.stderr
    return src, home, contents(home)


@pytest.fixture()
def store(built, tmp_path) -> tuple[Path, Path, dict[str, str]]:
    src, home, hashes = built
    shutil.copytree(home, tmp_path / "home")
    return src, tmp_path / "home", hashes


def recorded(home: Path) -> dict[str, tuple[int, int, str]]:
    con = sqlite3.connect(home / "pvmon.sqlite")
    rows = con.execute("SELECT path, bytes, rows, sha256 FROM staged_files").fetchall()
    con.close()
    return {p: (b, r, h) for p, b, r, h in rows}


def test_the_manifest_records_every_staged_file(built):
    _, home, hashes = built
    rec = recorded(home)
    staged = {k: v for k, v in hashes.items() if not k.startswith("cases/")}
    assert sorted(rec) == sorted(staged) and len(rec) == 2 * 7  # 7 tables a quarter (no deleted list, no quarantine here)
    for path, (size, rows, sha) in rec.items():
        assert sha == staged[path] and size == (home / path).stat().st_size
        assert rows == pl.scan_parquet(home / path).select(pl.len()).collect().item()
    assert rec["staged/demo/quarter=2020Q1/part-0.parquet"][1] == 40
    out = pvmon("status", "--home", home, "--verify")
    assert out.returncode == 0 and "14 staged files intact (size, rows and sha256)" in out.stdout


def damage_then_repair(src: Path, home: Path, hashes: dict[str, str], victim: Path, problem: str,
                       verify: bool = False) -> None:
    name = f"{victim}: damaged staged file of 2020Q1 ({problem}); re-ingest {fda_zip_name(2020, 1)} to repair it"
    out = pvmon("status", "--home", home, *(["--verify"] if verify else []))
    assert out.returncode == 1 and out.stderr.splitlines() == [f"pvmon: error: {name}"]
    assert "Lake: DAMAGED: 1 of 14 staged files" in out.stdout
    for stage in ("cases", "signals"):
        out = pvmon(stage, "--home", home)
        assert out.returncode == 1 and out.stderr.splitlines() == [f"pvmon: error: {name}"], stage
    out = pvmon("ingest", src, "--home", home)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        f"staged    2020Q1 <- {src / fda_zip_name(2020, 1)} (repaired: its staged files were damaged)",
        f"unchanged 2020Q2 <- {src / fda_zip_name(2020, 2)}"]
    assert pvmon("status", "--home", home, "--verify").returncode == 0
    assert pvmon("cases", "--home", home).returncode == 0
    assert contents(home) == hashes  # as if nothing had happened


def test_a_truncated_staged_file_is_named_and_repaired(store):
    src, home, hashes = store
    victim = home / "staged/drug/quarter=2020Q1/part-0.parquet"
    size = victim.stat().st_size
    with open(victim, "r+b") as fh:
        fh.truncate(size // 2)
    damage_then_repair(src, home, hashes, victim, f"{size // 2} bytes, {size} recorded: truncated or changed")


def test_a_deleted_staged_file_is_named_and_repaired(store):
    src, home, hashes = store
    victim = home / "staged/reac/quarter=2020Q1/part-0.parquet"
    victim.unlink()
    damage_then_repair(src, home, hashes, victim, "missing")


def test_a_file_changed_in_place_is_caught_by_verify_only(store):
    """Same size, same footer: the fast path cannot see it, --verify's hashes do."""
    src, home, hashes = store
    victim = home / "staged/demo/quarter=2020Q1/part-0.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 3] ^= 0x01
    victim.write_bytes(bytes(data))
    assert pvmon("status", "--home", home).returncode == 0
    out = pvmon("status", "--home", home, "--verify")
    assert out.returncode == 1 and out.stderr.splitlines() == [
        f"pvmon: error: {victim}: damaged staged file of 2020Q1 (content differs from its recorded sha256); "
        f"re-ingest {fda_zip_name(2020, 1)} to repair it"]


def test_a_file_added_by_hand_is_damage(store):
    src, home, hashes = store
    stray = home / "staged/demo/quarter=2020Q1/extra.parquet"
    shutil.copy(home / "staged/demo/quarter=2020Q2/part-0.parquet", stray)  # would double-count 30 reports
    damage_then_repair(src, home, hashes, stray, "not recorded in the manifest")


def test_an_extract_that_would_wipe_its_quarter_is_refused_unless_allowed(store, tmp_path):
    src, home, hashes = store
    header_only = "$".join(layouts.header_for("DEMO", 2020, 1)) + "\n"  # FDA's DEMO with only its header
    (tmp_path / "broken").mkdir()
    broken = write_zip(tmp_path / "broken" / fda_zip_name(2020, 1), 2020, 1, 40, overrides={"DEMO": header_only.encode()})
    out = pvmon("ingest", broken, "--home", home)
    assert out.returncode == 1 and out.stderr.splitlines() == [
        f"pvmon: error: {broken.name}: 2020Q1 would go from 40 to 0 reports (DEMO rows): refused as a broken "
        "extract; pass --allow-shrink to accept it"]
    assert contents(home) == hashes  # nothing changed
    out = pvmon("ingest", broken, "--home", home, "--allow-shrink")
    assert out.returncode == 0 and out.stdout.startswith("staged    2020Q1")
    assert pl.read_parquet(home / "staged/demo/quarter=2020Q1/part-0.parquet").height == 0


def test_a_truncated_or_tampered_simulated_zip_never_passes_as_fda_data(tmp_path):
    from pv.faers.simulate import simulate

    simulate(tmp_path / "sim", "2020Q1..2020Q1", reports_per_quarter=30, seed=3, jobs=1)
    (z,) = (tmp_path / "sim").glob("*.zip")
    good = z.read_bytes()
    with zipfile.ZipFile(z) as zf:
        assert zf.comment.startswith(b"pvmon simulated FAERS extract: not FDA data; digest ")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "cut.zip").write_bytes(good[:-5])  # zipfile still opens it, with the comment cut short
    tampered = bytearray(good)
    tampered[-1] = ord("0") if tampered[-1] != ord("0") else ord("1")
    (bad / "tampered.zip").write_bytes(bytes(tampered))
    out = pvmon("ingest", bad / "cut.zip", bad / "tampered.zip", "--home", tmp_path / "home")
    reason = ("its comment claims a pvmon simulated extract but the marker does not verify "
              "(a damaged or truncated simulated zip?)")
    assert out.returncode == 1 and sorted(out.stderr.splitlines()) == [
        f"pvmon: error: cut.zip: {reason}", f"pvmon: error: tampered.zip: {reason}"]
    assert not (tmp_path / "home" / "staged").exists()
    out = pvmon("ingest", z, "--home", tmp_path / "home")
    assert out.returncode == 0
    con = sqlite3.connect(tmp_path / "home" / "pvmon.sqlite")
    assert con.execute("SELECT quarter, simulated FROM quarters").fetchall() == [("2020Q1", 1)]
