"""Shared fixtures: paths to the repository and to the shared real FDA rows."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# headless Chromium on a closed network (tooling.md): no background connections that would be refused
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run"]
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


@pytest.fixture(scope="module")
def browser(chromium):
    """One headless Chromium per test module, driven by Playwright (executable_path: Debian's)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(chromium), args=BROWSER_ARGS)
        yield b
        b.close()
