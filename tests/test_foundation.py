"""The package, the command line and the store's atomic writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pv.atomic import atomic_dir, atomic_path, write_text_atomic
from pv.config import Home, resolve_home


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pv.cli", *args], capture_output=True, text=True, env=env
    )


def test_help_lists_commands():
    out = run_cli("--help")
    assert out.returncode == 0, out.stderr
    assert "version" in out.stdout


def test_home_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("PV_HOME", str(tmp_path / "h"))
    assert resolve_home() == (tmp_path / "h").resolve()
    assert resolve_home(tmp_path / "x") == (tmp_path / "x").resolve()
    monkeypatch.delenv("PV_HOME")
    monkeypatch.chdir(tmp_path)
    assert Home.at().manifest == tmp_path / "pvdata" / "pvmon.sqlite"


def test_atomic_file_write_failure_leaves_old_content(tmp_path):
    target = tmp_path / "a.txt"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_atomic_dir_replaces_whole_folder(tmp_path):
    target = tmp_path / "d"
    with atomic_dir(target) as tmp:
        (tmp / "one").write_text("1")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "two").write_text("2")
            raise RuntimeError("boom")
    assert sorted(p.name for p in target.iterdir()) == ["one"]
    with atomic_dir(target) as tmp:
        (tmp / "two").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["two"]
    # d is a pointer to its one live version; nothing else is left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == [".versions", "d"]
    assert target.is_symlink() and [v.name for v in (tmp_path / ".versions" / "d").iterdir()] == [target.resolve().name]


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "f.txt", "x")
        with atomic_dir(tmp_path / "d") as tmp:
            (tmp / "x").write_text("1")
    finally:
        os.umask(mask)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
