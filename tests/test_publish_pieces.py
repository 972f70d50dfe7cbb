"""The site published in pieces (dashboards.publish: one ``publish_drug`` per drug, as the DAGs
spread them over workers, then ``publish``) is the very site a plain ``publish`` writes: every
file, byte for byte. A piece is used only when it was made from the inputs the merge reads: one
of an older run or of another store state is not. No Airflow here: the pieces are called one by one."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil

import pytest

from dashboards import publish as site
from dashboards.inputs import load
from pv import pipeline
from pv.config import Home

DRUGS = ["baclofen", "naltrexone", "acamprosate"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two simulated quarters run through every stage, with a report of each drug to link."""
    home = Home.at(tmp_path_factory.mktemp("pieces") / "pvdata")
    sim = pipeline.simulate_stage(home, "2024Q1..2024Q2", 1500, seed=11)
    pipeline.run(home, [sim], drugs=DRUGS)
    return home.root


def copy(store, to) -> Home:
    shutil.copytree(store, to, symlinks=True)
    return Home.at(to)


def files(home: Home) -> dict[str, str]:
    root = home.site.resolve()
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_pieces_publish_the_site_a_plain_publish_writes(store, tmp_path):
    plain, split = copy(store, tmp_path / "plain"), copy(store, tmp_path / "split")
    site.publish(plain)
    inputs = load(split)
    assert inputs.drugs == DRUGS  # the target first, then the comparators as the watchlist orders them
    made = [site.publish_drug(split, d) for d in reversed(DRUGS)]  # any order, as the workers take them
    assert [m["drug"] for m in made] == DRUGS[::-1] and all(m["run_id"] == inputs.run_id for m in made)
    for d in DRUGS:
        piece = site.piece_dir(split, inputs.run_id, d)
        assert (piece / f"drug-{d}.html").is_file() and (piece / site.PIECE_JSON).is_file()
        assert not (piece / "index.html").exists()  # the overview is the merge's
    site.publish(split)
    assert not site.work_dir(split, inputs.run_id).parent.exists()  # the pieces are gone once merged
    want, got = files(plain), files(split)
    assert got == want
    record = json.loads((split.site / "site.json").read_text())
    assert record["case_lists"] == sum(m["case_lists"] for m in made) - len(record["case_lists_not_matching_a"])
    assert record["case_lists"] >= 10 and sum(bool(re.fullmatch(r"cases/[0-9a-f]{16}\.js", n)) for n in got) == record["case_lists"]
    assert len([n for n in got if n.startswith("reports/") and n.endswith(".pdf")]) == len(DRUGS)
    # the navigation named before any page is built is the pages written
    assert record["pages"] == [f"{slug}.html" for slug, _ in site.nav(inputs)] + ["listing.html"]
    assert set(record["pages"]) <= set(got)


def test_a_piece_is_used_only_when_made_from_the_same_inputs(store, tmp_path):
    home = copy(store, tmp_path / "h")
    site.publish(home)
    clean = files(home)
    run = load(home).run_id
    page = "drug-naltrexone.html"

    def tamper(d: str, run_id: str = run) -> None:  # marks the bytes a used piece brings into the site
        path = site.piece_dir(home, run_id, d) / f"drug-{d}.html"
        path.write_text(path.read_text() + "<!-- from the piece -->\n")

    site.publish_drug(home, "naltrexone")
    tamper("naltrexone")
    site.publish(home)
    assert files(home)[page] != clean[page]  # the piece was used, not rewritten
    assert (home.site / page).read_text().endswith("<!-- from the piece -->\n")

    site.publish_drug(home, "naltrexone")
    tamper("naltrexone")
    drugs = home.cases / "drugs.parquet"  # the same rows, but cases/ was rewritten since the piece
    shutil.copytree(drugs, tmp_path / "drugs.parquet")  # a folder of quarter files (pv.cases.tables)
    shutil.rmtree(drugs)
    os.replace(tmp_path / "drugs.parquet", drugs)
    site.publish(home)
    assert files(home) == clean

    site.publish_drug(home, "naltrexone")
    tamper("naltrexone")
    newer = pipeline.signals_stage(home, DRUGS).name  # a newer run: the older run's piece is stale
    assert newer != run
    old = site.piece_dir(home, run, "naltrexone")
    shutil.copytree(old.resolve(), site.piece_dir(home, newer, "naltrexone"))  # even under the new run's name
    site.publish(home)
    assert load(home).run_id == newer
    assert not (home.site / page).read_text().endswith("<!-- from the piece -->\n")
    pieces = files(home)
    site.publish(home)  # plain, no piece left
    assert files(home) == pieces and json.loads((home.site / "site.json").read_text())["run_id"] == newer
