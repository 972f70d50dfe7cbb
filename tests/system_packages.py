"""Debian packages some tests need (a real Chromium, poppler's pdftotext, strace), installed on demand.

Why here: CI starts from a machine with nothing but Python, and the README's test command is a
plain `pytest`. The first test that needs a program asks for it through `require(...)`; when the
program is missing and we are root on a Debian-like system, the package is installed once with
apt-get (about 15 s for chromium). Anywhere else the test fails with one line saying what to
install — never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# program -> Debian package that provides it
PACKAGES = {
    "chromium": "chromium",
    "pdftotext": "poppler-utils",
    "pdftoppm": "poppler-utils",
    "strace": "strace",
}

_apt_updated = False


def _apt_install(packages: list[str]) -> str | None:
    """Install packages with apt-get; return None on success, else the reason it failed."""
    global _apt_updated
    if shutil.which("apt-get") is None:
        return "apt-get not found"
    if os.geteuid() != 0:
        return "not root, cannot apt-get install"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = [["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]]
    if not _apt_updated:
        steps.insert(0, ["apt-get", "update", "-q"])
    for step in steps:
        done = subprocess.run(step, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"{' '.join(step[:2])} failed: {tail[0]}"
        if step[1] == "update":
            _apt_updated = True
    return None


def require(*programs: str) -> dict[str, Path]:
    """Paths of the given programs, installing their Debian packages first if they are missing."""
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        packages = sorted({PACKAGES[p] for p in missing})
        reason = _apt_install(packages)
        still = [p for p in missing if shutil.which(p) is None]
        if still:
            pytest.fail(
                f"{', '.join(still)} not found and could not be installed ({reason or 'unknown'}): "
                f"run `apt-get install {' '.join(packages)}`",
                pytrace=False,
            )
    return {p: Path(shutil.which(p)) for p in programs}
