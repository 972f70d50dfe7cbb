"""Shared fixtures: paths to the repository and to the shared real FDA rows."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: genuine FDA rows and reference results (read-only)."""
    path = SHARED / "data"
    if not path.is_dir():
        pytest.fail(f"shared data not found at {path}")
    return path


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's headless Chromium (installed on first use; see tests/system_packages.py)."""
    from system_packages import require

    return require("chromium")["chromium"]


@pytest.fixture(scope="session")
def poppler() -> dict[str, Path]:
    """pdftotext and pdftoppm from poppler-utils, to read and render PDFs in tests."""
    from system_packages import require

    return require("pdftotext", "pdftoppm")
