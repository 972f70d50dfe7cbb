"""Bad arguments and unusable paths end in one line ``pvmon: error: ...`` and a non-zero exit."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pv.atomic import atomic_path
from pv.errors import PvError


def pvmon(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pv.cli", *args], capture_output=True, text=True)


def assert_one_line_error(out: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert out.returncode == code, out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pvmon: error: "), out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("args, needles", [
    (["explain", "--case", "abc"], ["--case", "integer"]),
    (["report", "--format", "csv"], ["Missing option", "--drug"]),
    (["vocab", "unmapped", "--top", "-3"], ["--top", "greater than or equal to 1"]),
    (["mechanism", "--seed", "-1"], ["--seed", "greater than or equal to 0"]),
    (["simulate", "--broken-rate", "2"], ["--broken-rate", "less than or equal to 1"]),
    (["simulate", "--jobs", "-1"], ["--jobs"]),
    (["status", "--bogus"], ["No such option", "--bogus"]),
    (["nosuchcommand"], ["No such command", "nosuchcommand"]),
])
def test_bad_argument_is_one_line_usage_error(tmp_path, args, needles):
    assert_one_line_error(pvmon(*args, *(["--home", str(tmp_path)] if args[0] in ("vocab", "mechanism") else [])),
                          2, *needles)
    assert not any(tmp_path.iterdir())  # rejected before touching the store


def test_bare_command_still_shows_help():
    out = pvmon()
    assert out.returncode == 2 and "Usage:" in out.stdout and "Commands" in out.stdout and "pvmon: error" not in out.stderr


def test_simulate_out_on_a_file_is_one_line_error(tmp_path):
    blocker = tmp_path / "taken.csv"
    blocker.write_text("x\n")
    out = pvmon("simulate", "--out", str(blocker), "--quarters", "2023Q1..2023Q1", "--reports-per-quarter", "10")
    assert_one_line_error(out, 1, f"{blocker}: cannot create folder (a file is in the way)")
    assert blocker.read_text() == "x\n"


def test_atomic_write_under_a_file_names_the_folder(tmp_path):
    """What `pvmon report --out FILE` and `pvmon stats --out FILE/x.csv` hit: a PvError, no OSError."""
    blocker = tmp_path / "report.pdf"
    blocker.write_text("x\n")
    with pytest.raises(PvError, match=f"^{blocker}/sub: cannot create folder \\(a file is in the way\\)$"):
        with atomic_path(blocker / "sub" / "baclofen.pdf") as tmp:
            tmp.write_text("never")
    assert blocker.read_text() == "x\n"


@pytest.mark.parametrize("command", [["status"], ["cases"], ["ingest", "nothing.zip"]])
def test_home_that_is_a_file_is_one_line_error(tmp_path, command):
    blocker = tmp_path / "pvdata"
    blocker.write_text("not a store\n")
    out = pvmon(*command, "--home", str(blocker))
    assert_one_line_error(out, 1, f"{blocker}: the store (--home / $PV_HOME) is a file, not a folder")
    assert blocker.read_text() == "not a store\n"
