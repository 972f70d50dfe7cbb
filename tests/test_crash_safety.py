"""Crash-safe outputs and one-line errors under real faults (issue 11, items 3 and 5).

Real faults only: kill -9 injected by strace at the swap of every stage, a small tmpfs for
a full disk, a read-only bind mount, garbage written into the manifest and into Parquet
files, SIGINT sent to a running pipeline, two pipelines at once. After each fault: one line
on stderr, no traceback, and after a re-run the store equals an uninterrupted run's
(pv.lake.digest content hashes).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pv.atomic import VERSIONS, atomic_dir, clean_leftovers, current_version
from pv.config import Home
from pv.lake.digest import differing, store_digest
from pv.lake.lock import store_lock

REPO = Path(__file__).resolve().parents[1]
IS_ROOT = os.geteuid() == 0


def pvmon(*args, home: Path | None = None, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    full = {**os.environ, **(env or {})}
    full.pop("PV_DEBUG", None)
    cmd = [sys.executable, "-m", "pv.cli", *map(str, args), *(["--home", str(home)] if home else [])]
    return subprocess.run(cmd, capture_output=True, text=True, env=full, cwd=REPO, **kw)


def one_line(out: subprocess.CompletedProcess, *needles: str, code: int = 1) -> str:
    assert out.returncode == code, (out.returncode, out.stderr)
    assert "Traceback" not in out.stderr, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if not ln.startswith("pvmon: waiting")]
    assert len(lines) == 1 and lines[0].startswith("pvmon: error: "), out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def bench():
    spec = importlib.util.spec_from_file_location("bench_hostile", REPO / "bench" / "bench_hostile.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_hostile"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> dict:
    """A small simulated store after a whole `pvmon run` (two quarters, 400 reports each)."""
    work = tmp_path_factory.mktemp("crash")
    sim = work / "sim"
    out = pvmon("simulate", "--out", sim, "--quarters", "2023Q1..2023Q2", "--reports-per-quarter", 400, "--seed", 3)
    assert out.returncode == 0, out.stderr
    home = work / "store"
    out = pvmon("run", sim, home=home)
    assert out.returncode == 0, out.stderr
    return {"home": home, "sim": sim, "digest": store_digest(home), "work": work}


def copy_of(finished, tmp_path, name="store") -> Path:
    dst = tmp_path / name
    shutil.copytree(finished["home"], dst, symlinks=True)
    return dst


# --- the pointer swap ----------------------------------------------------------------


def test_folder_output_is_a_pointer_swapped_in_one_rename(tmp_path):
    target = tmp_path / "site"
    with atomic_dir(target) as v:
        (v / "index.html").write_text("old")
    first = current_version(target)
    with atomic_dir(target) as v:
        (v / "index.html").write_text("new")
        # while the new version is written, the name still gives the old one whole
        assert (target / "index.html").read_text() == "old"
    assert (target / "index.html").read_text() == "new"
    assert target.is_symlink() and not first.exists()  # the replaced version is gone
    assert [p.name for p in (tmp_path / VERSIONS / "site").iterdir()] == [current_version(target).name]


def test_a_real_folder_of_an_older_pvmon_is_switched_over_atomically(tmp_path):
    target = tmp_path / "cases"
    target.mkdir()
    (target / "cases.parquet").write_text("old layout")
    with atomic_dir(target) as v:
        (v / "cases.parquet").write_text("new")
    assert target.is_symlink() and (target / "cases.parquet").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == [VERSIONS, "cases"]


def test_leftovers_of_interrupted_writers_are_cleaned(tmp_path):
    target = tmp_path / "site"
    with atomic_dir(target) as v:
        (v / "a").write_text("1")
    live = current_version(target)
    stray = [tmp_path / VERSIONS / "site" / "v-killed", tmp_path / VERSIONS / "gone-run" / "v-x",
             tmp_path / ".site.abc.tmp", tmp_path / ".site.old-123", tmp_path / ".cases.k3.tmp"]
    for p in stray:
        p.mkdir(parents=True)
        (p / "half").write_text("x")
    (tmp_path / ".site.9f0e.tmp").symlink_to("nowhere")
    gone = clean_leftovers(tmp_path)
    assert all(not p.exists() for p in stray) and not (tmp_path / ".site.9f0e.tmp").is_symlink()
    assert live.is_dir() and (target / "a").read_text() == "1"
    assert {p.name for p in gone} >= {"v-killed", ".site.abc.tmp", ".site.old-123", ".cases.k3.tmp"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [VERSIONS, "site"]


# --- kill -9 at every stage's swap ---------------------------------------------------------


def test_kill_at_every_stage_swap_then_rerun_equals_an_uninterrupted_run(tmp_path):
    """The sweep of bench/bench_hostile.py, small: per stage one kill -9 injected by strace at its
    last rename(2) (the pointer swap) and one seeded kill of a fork at a call of its swap; after
    each, every output is old or new, and the re-run equals the uninterrupted run. strace is
    installed on first use (tests/system_packages.py), never skipped."""
    from system_packages import require
    require("strace")
    b = bench()
    fork = b.ForkRunner()
    try:
        setup = b.prepare(tmp_path, fork, say=lambda _m: None)
        tally = b.Tally()
        setup.runner = b.StraceRunner(tmp_path)
        for stage in b.STAGES:
            b.kill_trial(setup, stage, "rename", setup.counts[stage]["rename"], tally)
        setup.runner = fork
        for stage, family, nth in b.plan(setup, 6, seed=11):
            b.kill_trial(setup, stage, family, nth, tally)
    finally:
        fork.close()
    assert tally.failures == []
    assert tally.faults == tally.killed == 12
    assert (tally.rows_lost, tally.outputs_differing, tally.tracebacks, tally.leftovers) == (0, 0, 0, 0)


# --- two runs, the lock, Ctrl-C ----------------------------------------------------------------


def test_two_runs_at_once_take_turns(finished, tmp_path):
    home = copy_of(finished, tmp_path)
    procs = [subprocess.Popen([sys.executable, "-m", "pv.cli", "run", "--home", str(home)], cwd=REPO,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    assert not any("Traceback" in err for _, err in outs)
    assert sum("waiting for the store lock" in err for _, err in outs) >= 1
    runs = sorted(p.name for p in (home / "signals").iterdir() if not p.name.startswith("."))
    assert len(runs) == 3  # the finished store's run and one per pipeline, each whole
    for run in runs[1:]:
        assert (home / "mechanism" / run / "statement.md").is_file()
        assert (home / "reports" / run / "baclofen.pdf").is_file()


def test_a_locked_store_makes_a_stage_wait_then_refuse_with_one_line(finished, tmp_path):
    home = copy_of(finished, tmp_path)
    before = store_digest(home)
    with store_lock(Home(home)):
        out = pvmon("publish", home=home, env={"PV_LOCK_WAIT": "1"})
    one_line(out, str(home), "locked by another pvmon process", "PV_LOCK_WAIT")
    assert "pvmon: waiting for the store lock" in out.stderr
    assert store_digest(home) == before
    one_line(pvmon("publish", home=home, env={"PV_LOCK_WAIT": "soon"}), "PV_LOCK_WAIT='soon'")


def test_ctrl_c_prints_interrupted_and_leaves_the_old_outputs(finished, tmp_path):
    home = copy_of(finished, tmp_path)
    before = store_digest(home)
    proc = subprocess.Popen([sys.executable, "-m", "pv.cli", "run", "--home", str(home)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = ""
    while "mechanism:" not in seen:  # the run says each stage as it starts it (stderr)
        line = proc.stderr.readline()
        assert line, seen
        seen += line
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=300)
    assert proc.returncode == 130, seen + rest
    assert rest.strip().splitlines()[-1] == "pvmon: interrupted" and "Traceback" not in rest
    # the run's signals were swapped in before the interrupt; site/ and reports are the old ones, whole
    after = store_digest(home)
    assert {k for k in differing(after, before) if not k.startswith(("signals/run-2", "mechanism/run-2"))} == set()
    assert bench().leftovers(home) == []  # the interrupted stage removed its half-written version


# --- full disk, read-only store ---------------------------------------------------------------


@pytest.fixture
def mount_point(tmp_path):
    if not IS_ROOT:
        pytest.skip("mounting a tmpfs / bind needs root")
    point = tmp_path / "mnt"
    point.mkdir()
    yield point
    subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _size_kb(path: Path) -> int:
    return int(subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True).stdout.split()[0])


def test_disk_full_is_one_line_and_keeps_the_old_site(finished, mount_point):
    # a tmpfs just big enough for the store: the new site version (plotly.js alone ~4.8 MB) cannot fit
    size = _size_kb(finished["home"]) + 1024
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}k", "tmpfs", str(mount_point)], check=True)
    home = mount_point / "store"
    shutil.copytree(finished["home"], home, symlinks=True)
    published = store_digest(home)
    # every file of the old site differs from the one publish writes, so none is linked from it
    # (dashboards.reuse, rule reuse-unchanged) and the new version needs its full size
    for old in (home / "site").resolve().rglob("*"):
        if old.is_file():
            with open(old, "ab") as fh:
                fh.write(b" ")
    before = store_digest(home)
    out = pvmon("publish", home=home)
    one_line(out, "no space left on device (disk full)")
    assert store_digest(home) == before  # the old site is whole under its name
    assert bench().leftovers(home) == []  # the half-written version was removed
    subprocess.run(["mount", "-o", f"remount,size={size + 16384}k", str(mount_point)], check=True)
    assert pvmon("publish", home=home).returncode == 0
    assert store_digest(home) == published  # re-published from the same store: the same bytes as first published


def test_read_only_store_status_works_and_writers_say_read_only(finished, mount_point):
    subprocess.run(["mount", "--bind", str(finished["home"]), str(mount_point)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(mount_point)], check=True)
    status = pvmon("status", home=mount_point)
    assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr
    assert "2023Q2" in status.stdout and "Signals" in status.stdout
    for command in (["cases"], ["publish"], ["signals"], ["report", "--drug", "baclofen"]):
        one_line(pvmon(*command, home=mount_point), str(mount_point), "read-only")


# --- damaged manifest and Parquet -----------------------------------------------------------


@pytest.mark.parametrize("command", [["status"], ["cases"], ["ingest", "SIM"]])
def test_garbage_manifest_is_one_line_naming_it(finished, tmp_path, command):
    home = copy_of(finished, tmp_path)
    (home / "pvmon.sqlite").write_bytes(b"this is not a database\n" * 100)
    args = [str(finished["sim"]) if a == "SIM" else a for a in command]
    one_line(pvmon(*args, home=home), f"{home / 'pvmon.sqlite'}: the manifest is damaged or unreadable")


@pytest.mark.parametrize("rel, command", [
    ("cases/reactions.parquet", ["signals"]),
    ("cases/drugs.parquet", ["mechanism"]),
    ("cases/funnel.parquet", ["publish"]),
])
def test_truncated_parquet_in_cases_is_one_line_naming_it(finished, tmp_path, rel, command):
    home = copy_of(finished, tmp_path)
    path = home / rel
    if path.is_dir():  # a case table is a folder of quarter files (pv.cases.tables): damage the newest
        path = sorted(path.glob("*.parquet"))[-1]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    line = one_line(pvmon(*command, home=home), rel.split("/")[1])
    assert "cases" in line


def test_truncated_staged_parquet_is_one_line_naming_it(finished, tmp_path):
    home = copy_of(finished, tmp_path)
    path = sorted((home / "staged" / "reac").glob("quarter=*/*.parquet"))[-1]
    path.write_bytes(path.read_bytes()[:100])
    line = one_line(pvmon("cases", home=home))
    assert str(path.relative_to(home)) in line or path.name in line, line


# --- option types and ranges -----------------------------------------------------------------


@pytest.mark.parametrize("args, needles", [
    (["signals", "--prior", "abc"], ["--prior", "not five comma-separated numbers"]),
    (["signals", "--prior", "1,1,1,1"], ["--prior", "five finite numbers"]),
    (["signals", "--prior", "1,1,1,1,nan"], ["--prior", "five finite numbers"]),
    (["signals", "--prior", "1,-1,1,1,0.5"], ["--prior", "alpha, beta > 0"]),
    (["signals", "--ror-min-a", "-1"], ["--ror-min-a", "greater than or equal to 1"]),
    (["signals", "--ror-min-a", "x"], ["--ror-min-a"]),
    (["signals", "--n-star", "0"], ["--n-star", "greater than or equal to 1"]),
    (["signals", "--fit", "some"], ["--fit", "all-cells, truncated"]),
    (["signals", "--roles", "all"], ["--roles", "ps, ps+ss, any"]),
    (["stats", "in.csv", "--drug", "d", "--event", "e", "--prior", "1,2"], ["--prior"]),
    (["stats", "in.csv", "--drug", "d", "--event", "e", "--ror-min-a", "0"], ["--ror-min-a"]),
    (["explain", "--case", "0"], ["--case", "greater than or equal to 1"]),
    (["simulate", "--seed", "x"], ["--seed"]),
    (["simulate", "--reports-per-quarter", "-5"], ["reports"]),
])
def test_every_option_type_and_range_is_checked_with_one_line(tmp_path, args, needles):
    out = pvmon(*args, *(["--home", str(tmp_path / "h")] if args[0] in ("signals", "explain") else []),
                *(["--out", str(tmp_path / "sim")] if args[0] == "simulate" else []))
    assert out.returncode in (1, 2)
    one_line(out, *needles, code=out.returncode)
    assert not (tmp_path / "h").exists() and not (tmp_path / "sim").exists()
