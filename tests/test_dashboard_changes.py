"""What changed since the previous run, and the one signal rule, on the published pages.

One simulated store (4 quarters x 3000 reports, seed 7) is run twice: first on 2024Q1..Q3, then
again after 2024Q4 is ingested, so the two runs differ by one quarter. With this seed the fourth
quarter makes some signals appear and some vanish (asserted, so the planting cannot silently stop).
The pages are opened from disk in real Chromium.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from pv import pipeline
from pv.config import Home
from test_dashboards import DRUGS, Opened

KEY = ["drug", "event", "level", "subset"]
ANY = pl.any_horizontal(pl.col("^flag_.*$").fill_null(False))


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Home:
    home = Home.at(tmp_path_factory.mktemp("changes") / "pvdata")
    sim = Path(pipeline.simulate_stage(home, "2024Q1..2024Q4", 3000, seed=7))
    zips = sorted(sim.glob("*.zip"), key=lambda p: p.name.lower())
    pipeline.run(home, zips[:3], drugs=DRUGS)
    pipeline.run(home, zips[3:], drugs=DRUGS)
    return home


@pytest.fixture(scope="module")
def runs(store) -> tuple[pl.DataFrame, pl.DataFrame]:
    later = json.loads((store.site / "site.json").read_text())["run_id"]
    earlier = json.loads((store.signals / later / "run.json").read_text())["previous_run"]
    assert earlier and earlier != later
    return tuple(pl.read_parquet(store.signals / r / "signals.parquet") for r in (earlier, later))




def flagged(frame: pl.DataFrame, rule=ANY, **where) -> set[str]:
    rows = frame.filter(rule, *(pl.col(k) == v for k, v in where.items()))
    return {"|".join(map(str, r)) for r in rows.select(KEY).iter_rows()}


def shown_changes(opened) -> dict[str, dict[str, str]]:
    rows = opened.page.evaluate("""() => Array.from(document.querySelectorAll('#changes tbody tr')).map(tr => [
        tr.getAttribute('data-key'), Array.from(tr.querySelectorAll('td')).map(td => [td.getAttribute('data-col'),
        td.innerText.trim()])])""")
    return {key: dict(cells) for key, cells in rows}


def test_the_change_section_lists_exactly_what_appeared_and_vanished(store, runs, browser):
    before, now = runs
    new = flagged(now, subset="all") - flagged(before, subset="all")
    gone = flagged(before, subset="all") - flagged(now, subset="all")
    kept = flagged(now, subset="all") & flagged(before, subset="all")
    assert new and gone  # the fourth quarter both adds and removes signals
    assert flagged(now.filter(pl.col("is_new")), subset="all") == new

    opened = Opened(browser, store.site / "index.html")
    shown = shown_changes(opened)
    assert {k for k, c in shown.items() if c["status"] == "new signal"} == new
    assert {k for k, c in shown.items() if c["status"] == "no longer flagged"} == gone
    assert {k for k, c in shown.items() if c["status"] == "still flagged"} == kept
    assert opened.page.locator("#kpi-changes-gone .v").inner_text() == str(len(gone))
    # for the signals kept: a before, a now and the change; the headline measure (ROR025 under 'any')
    a_before = {"|".join(map(str, r[:4])): r[4:] for r in before.select(*KEY, "a", "ror_lo").iter_rows()}
    a_now = {"|".join(map(str, r[:4])): r[4:] for r in now.select(*KEY, "a", "ror_lo").iter_rows()}
    for key in kept | gone:
        cells = shown[key]
        (a0, m0), (a1, m1) = a_before[key], a_now.get(key, (0, None))
        assert (cells["a_before"], cells["a_now"], cells["delta_a"]) == (f"{a0:,}", f"{a1:,}", f"{a1 - a0:,}"), key
        assert cells["m_before"] == f"{m0:.2f}".replace("-0.00", "0.00")
        if m1 is not None:
            assert cells["delta_m"] == f"{m1 - m0:.2f}".replace("-0.00", "0.00")
    # new and updated cases: received after the previous run's last quarter (2024Q3)
    cases = pl.read_parquet(store.cases / "cases.parquet").filter(pl.col("quarter") == "2024Q4",
                                                                   ~pl.col("dup_flag").fill_null(False))
    assert opened.page.locator("#kpi-cases-new .v").inner_text() == f"{(cases['caseversion'] == 1).sum():,}"
    assert opened.page.locator("#kpi-cases-updated .v").inner_text() == f"{(cases['caseversion'] > 1).sum():,}"
    assert "since 2024Q3" in opened.page.locator("#kpi-cases-new .l").inner_text()

    # the drug page: the same for that drug, subsets included
    opened.open(store.site / "drug-baclofen.html")
    shown = shown_changes(opened)
    assert {k for k, c in shown.items() if c["status"] == "new signal"} == \
        flagged(now, drug="baclofen") - flagged(before, drug="baclofen")
    assert {k for k, c in shown.items() if c["status"] == "no longer flagged"} == \
        flagged(before, drug="baclofen") - flagged(now, drug="baclofen")
    # "first flagged" in the first data quarter reads as such (the trend cannot see further back)
    firsts = opened.page.locator('#groups td[data-col="first_quarter"]').all_inner_texts()
    assert "from the first quarter of data (2024Q1)" in firsts
    assert opened.problems == []
    opened.close()


def pvmon(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pv.cli", *args], capture_output=True, text=True, timeout=600)


def test_the_signal_rule_sets_the_headline_counts(store, runs, browser, tmp_path):
    """Default 'any' (recorded in run.json); 'ror025 and ic025' counts only rows both flag, on every
    page and in the case listings; both runs judged by the new rule, so the same data shows no change."""
    _, now = runs
    run = json.loads((store.signals / json.loads((store.site / "site.json").read_text())["run_id"] / "run.json")
                     .read_text())
    assert run["signal_rule"]["rule"] == "any" and run["options"]["signal_rule"] == "any"
    opened = Opened(browser, store.site / "index.html")
    assert opened.page.locator("#kpi-flagged .v").inner_text() == str(len(flagged(now, subset="all")))

    home = Home.at(tmp_path / "copy")
    shutil.copytree(store.root, home.root)
    out = pvmon("signals", "--home", str(home.root), "--signal-rule", "ror025 AND ic025",
                *(a for d in DRUGS for a in ("--drug", d)))
    assert out.returncode == 0, out.stderr
    pipeline.mechanism_stage(home, out.stdout.strip().splitlines()[-1].removeprefix("written: "), DRUGS)
    published = pvmon("publish", "--home", str(home.root))
    assert published.returncode == 0, published.stderr
    strict = pl.col("flag_ror025").fill_null(False) & pl.col("flag_ic025").fill_null(False)
    latest = json.loads((home.site / "site.json").read_text())["run_id"]
    assert json.loads((home.signals / latest / "run.json").read_text())["signal_rule"]["rule"] == "ror025 and ic025"
    rows = pl.read_parquet(home.signals / latest / "signals.parquet")
    assert not rows["is_new"].any()  # same data, same rule on both runs: nothing new
    expected = flagged(rows, strict, subset="all")
    assert 0 < len(expected) < len(flagged(rows, subset="all"))  # the rule is stricter here

    opened.open(home.site / "index.html")
    assert opened.page.locator("#kpi-flagged .v").inner_text() == str(len(expected))
    assert "ror025 and ic025" in opened.page.locator("#kpi-flagged .l").inner_text()
    assert opened.page.locator("#kpi-changes-gone .v").inner_text() == "0"
    for name in ("index.html", "drug-baclofen.html", "mechanism.html", "quality.html"):
        opened.open(home.site / name)
        assert opened.page.locator("#signal-rule").inner_text().startswith("Signal rule: ror025 and ic025")
    groups = rows.filter(pl.col("drug") == "baclofen", pl.col("level") == "group", pl.col("subset") == "all")
    opened.open(home.site / "drug-baclofen.html")
    assert opened.page.locator("#kpi-groups .v").inner_text() == f"{groups.filter(strict).height} / {groups.height}"
    # the 'signal' column follows the rule; each threshold's own flag stays beside it
    for key, flag, ror, ic in groups.select(pl.concat_str(KEY, separator="|"), strict.alias("_rule"), "flag_ror025", "flag_ic025"
                                            ).iter_rows():
        row = opened.page.locator(f'#groups tr[data-key="{key}"]')
        assert row.locator('td[data-col="flagged"]').inner_text() == ("\u2713" if flag else "")
        assert row.locator('td[data-col="flag_ror025"]').inner_text() == ("\u2713" if ror else "")
        has_listing = row.locator('td[data-col="cases"] a').count() == 1
        assert has_listing == flag, key  # listings follow the rule too
    assert opened.problems == []
    opened.close()

    bad = pvmon("signals", "--home", str(home.root), "--signal-rule", "ror025 and prr2")
    assert bad.returncode != 0
    assert bad.stderr.startswith("pvmon: error: signal rule 'ror025 and prr2': unknown threshold 'prr2'")
    assert len(bad.stderr.strip().splitlines()) == 1
