"""The nightly publish links the previous site's unchanged files (dashboards.reuse, rule
``reuse-unchanged``) and still writes exactly the site a publish into an empty store writes: the
same file names, the same bytes, nothing stale carried over from the previous site."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from pathlib import Path

import pytest

from dashboards import publish as site
from pv import pipeline
from pv.config import Home
from pv.faers.simulate import simulate

DRUGS = ["baclofen", "naltrexone"]
#: files a publish does not write through dashboards.reuse (the quarantine CSV, copied reports)
NOT_REUSED = re.compile(r"quarantine\.csv|reports/.*")


def files(root: Path) -> dict[str, str]:
    root = root.resolve()
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def zips(sim: Path, quarters: list[str]) -> list[Path]:
    return [z for z in sorted(sim.glob("*.zip")) if z.stem[-6:].upper() in quarters]


@pytest.fixture(scope="module")
def nights(tmp_path_factory):
    """A store published after 2024Q1..2024Q2, then after 2024Q3 is added (`pvmon run` of it)."""
    sim = tmp_path_factory.mktemp("sim")
    simulate(sim, "2024Q1..2024Q3", 1500, seed=11)
    home = Home.at(tmp_path_factory.mktemp("reuse") / "pvdata")
    pipeline.run(home, zips(sim, ["2024Q1", "2024Q2"]), drugs=DRUGS)
    return sim, home


def test_a_nightly_publish_equals_a_publish_into_an_empty_store(nights, tmp_path, caplog):
    sim, home = nights
    before = files(home.site)
    old = home.site.resolve()
    (old / "cases" / "0123456789abcdef-0.js").write_text("stale page of a listing no page names\n")
    (old / "tables").mkdir(exist_ok=True)
    (old / "tables" / "stale-pts.js").write_text("stale piece\n")
    with caplog.at_level(logging.INFO, logger="dashboards.publish"):
        pipeline.run(home, zips(sim, ["2024Q3"]), drugs=DRUGS)
    said = [r.getMessage() for r in caplog.records if "unchanged ones linked" in r.getMessage()]
    assert len(said) == 1, said
    written, linked = map(int, re.search(r"(\d+) files written, (\d+) unchanged", said[0]).groups())
    nightly = files(home.site)

    fresh = Home.at(tmp_path / "fresh")
    shutil.copytree(home.root, fresh.root, symlinks=True)
    fresh.site.unlink()
    shutil.rmtree(fresh.root / ".versions" / "site")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dashboards.publish"):
        site.publish(fresh)
    assert any("0 unchanged ones linked" in r.getMessage() for r in caplog.records)
    full = files(fresh.site)

    assert nightly == full  # same names, same bytes
    assert "cases/0123456789abcdef-0.js" not in nightly and "tables/stale-pts.js" not in nightly
    # every file equal to the previous site's of the same name was linked, every other one written
    same = [n for n, h in nightly.items() if before.get(n) == h and not NOT_REUSED.fullmatch(n)]
    reused = [n for n in nightly if not NOT_REUSED.fullmatch(n)]
    assert linked == len(same) and written == len(reused) - len(same)
    assert "plotly.min.js" in same and "index.html" not in same  # the pages name the new run
    assert any(re.fullmatch(r"cases/[0-9a-f]{16}-\d+\.js", n) for n in same)  # listing pages of older cases
    assert written > 0


def test_a_republish_of_the_same_run_links_every_file(nights, tmp_path, caplog):
    _sim, home = nights
    copy = Home.at(tmp_path / "again")
    shutil.copytree(home.root, copy.root, symlinks=True)
    before = files(copy.site)
    with caplog.at_level(logging.INFO, logger="dashboards.publish"):
        site.publish(copy)
    assert files(copy.site) == before
    said = [r.getMessage() for r in caplog.records if "unchanged ones linked" in r.getMessage()]
    assert said and re.search(r": 0 files written, (\d+) unchanged", said[-1])
    assert int(re.search(r"(\d+) unchanged", said[-1]).group(1)) == len(
        [n for n in before if not NOT_REUSED.fullmatch(n)])
