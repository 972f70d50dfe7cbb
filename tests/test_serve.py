"""``pvmon serve``: the real explorer on 127.0.0.1, driven in real headless Chromium.

The numbers read from the page are checked against a recount from cases/ over Python sets of
case ids (the definition, not the engine) and against the engine (pv.explore.analysis, which
calls pv.signals' own functions) for the filtered subsets; without filters the engine's row
equals the nightly signal table's row.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from polars.testing import assert_frame_equal

from pv import pipeline
from pv.config import Home
from pv.explore.analysis import Explorer, Filters
from pv.signals.counts import report_counts
from pv.signals.faers import read_inputs, watchlist_drugs
from pv.signals.table import signal_table
from pv.signals.summary import latest_run
from pv.triage import history

MEASURES = ["prr", "ror", "ror_lo", "ror_hi", "ic", "ic025", "ebgm", "eb05"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Home:
    home = Home.at(tmp_path_factory.mktemp("serve") / "pvdata")
    sim = pipeline.simulate_stage(home, "2024Q1..2024Q3", 2500, seed=11)
    pipeline.ingest_stage(home, [sim])
    pipeline.cases_stage(home)
    pipeline.signals_stage(home)
    return home


def recount(home: Home, drug: str, pt: str, keep=lambda cases: cases, comparator: str | None = None,
            roles=("PS", "SS")):
    """a, b, c, d from sets of case ids: non-duplicate cases with a drug row in ``roles`` (None: any
    role) and a reaction, kept by ``keep``; with a comparator, only the reports with the drug or the
    comparator."""
    cases = keep(pl.read_parquet(home.cases / "cases.parquet").filter(~pl.col("dup_flag").fill_null(False)))
    drugs = pl.read_parquet(home.cases / "drugs.parquet").filter(pl.col("ingredient").is_not_null())
    if roles is not None:
        drugs = drugs.filter(pl.col("role_cod").str.to_uppercase().is_in(list(roles)))
    reactions = pl.read_parquet(home.cases / "reactions.parquet").filter(pl.col("pt").is_not_null())
    universe = set(cases["caseid"]) & set(drugs["caseid"]) & set(reactions["caseid"])
    name = pl.col("ingredient").str.to_lowercase()
    with_drug = set(drugs.filter(name == drug)["caseid"]) & universe
    if comparator:
        universe &= with_drug | set(drugs.filter(name == comparator)["caseid"])
    with_event = set(reactions.filter(pl.col("pt") == pt)["caseid"]) & universe
    a = len(with_drug & with_event)
    return a, len(with_drug) - a, len(with_event) - a, len(universe - with_drug - with_event)


def pick(home: Home) -> tuple[str, str]:
    """The non-watchlist suspect drug with the most cases and its most reported PT."""
    drugs = pl.read_parquet(home.cases / "drugs.parquet").filter(pl.col("role_cod").is_in(["PS", "SS"]))
    drugs = drugs.with_columns(pl.col("ingredient").str.to_lowercase()).filter(
        ~pl.col("ingredient").is_in(watchlist_drugs()), pl.col("ingredient").is_not_null())
    drug = drugs.group_by("ingredient").agg(pl.col("caseid").n_unique()).sort(["caseid", "ingredient"],
                                                                             descending=[True, False])["ingredient"][0]
    ids = drugs.filter(ingredient=drug).select("caseid")
    pts = pl.read_parquet(home.cases / "reactions.parquet").join(ids, on="caseid").unique(["caseid", "pt"])
    return drug, pts.group_by("pt").len().sort(["len", "pt"], descending=[True, False])["pt"][0]


def test_engine_without_filters_equals_the_nightly_table(store):
    ex = Explorer(store)
    nightly = pl.read_parquet(latest_run(store) / "signals.parquet").filter(subset="all", drug="baclofen")
    for level in ("pt", "group", "domain"):
        mine = ex.table("baclofen", level).select(pl.exclude("subset", "is_new", "^first_quarter.*$"))
        theirs = nightly.filter(level=level).select(mine.columns)
        assert theirs.height > 0
        # counts and flags exact; measures to 1e-9 (the nightly counts cumulatively, quarter by quarter)
        assert_frame_equal(mine.sort("event"), theirs.sort("event"), rel_tol=1e-9, abs_tol=1e-12)


def test_backgrounds_recount(store):
    ex = Explorer(store)
    drug, pt = pick(store)
    row = ex.row(drug, pt, "pt", Filters(background="comparator", comparator="baclofen"))
    assert (row["a"], row["b"], row["c"], row["d"]) == recount(store, drug, pt, comparator="baclofen")
    drugs = pl.read_parquet(store.cases / "drugs.parquet").filter(pl.col("role_cod").is_in(["PS", "SS"]))
    indication = (drugs.filter(pl.col("ingredient").str.to_lowercase() == drug).drop_nulls("indication_class")
                  .group_by("indication_class").len().sort(["len", "indication_class"], descending=[True, False])
                  ["indication_class"][0])
    row = ex.row(drug, pt, "pt", Filters(background="indication", indication=indication))
    with_ind = drugs.filter(pl.col("indication_class") == indication)["caseid"]
    assert (row["a"], row["b"], row["c"], row["d"]) == recount(
        store, drug, pt, lambda c: c.filter(pl.col("caseid").is_in(with_ind.implode())))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(store):
    port = free_port()
    pvmon = Path(sys.executable).with_name("pvmon")
    proc = subprocess.Popen([str(pvmon), "serve", "--home", str(store.root), "--host", "127.0.0.1", "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                assert r.status == 200
                break
        except OSError:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "pvmon serve did not answer"
            time.sleep(0.5)
    yield url, proc
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) is not None


def choose(page, dropdown: str, text: str, wait: float = 90) -> None:
    """Type into a Dash dropdown's search box and click the option named ``text`` exactly.

    The options may still be on their way from a callback (the event list follows the drug), and
    a list that arrives while the menu is open can drop the typed search: so close the menu and
    type again until the option shows and takes the click, within ``wait`` seconds (an option shown
    can be re-rendered away before the click lands: CI once timed out clicking a found option)."""
    option = page.get_by_role("option", name=text, exact=True)
    deadline = time.monotonic() + wait
    while True:
        page.click(f"#{dropdown}")
        page.keyboard.type(text[:5])
        try:
            option.wait_for(timeout=3000)
            option.click(timeout=5000)
            return
        except PlaywrightTimeout:
            assert time.monotonic() < deadline, f"no option {text!r} in #{dropdown} after {wait:.0f} s"
            page.keyboard.press("Escape")
            page.click("h2")


def cells(page, ids) -> dict:
    return {k: page.get_attribute(f"#{k}", "data-value") for k in ids}


def test_explorer_in_chromium(store, server, browser, tmp_path):
    url, proc = server
    drug, pt = pick(store)
    ex = Explorer(store)
    quarters = ex.choices("quarter")
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(url)
    choose(page, "drug", drug)
    choose(page, "event", pt)
    page.wait_for_selector("#cell-a")
    got = cells(page, ["cell-a", "cell-b", "cell-c", "cell-d"])
    assert tuple(int(v) for v in got.values()) == recount(store, drug, pt)
    engine = ex.row(drug, pt, "pt")
    assert cells(page, MEASURES) == {k: repr(engine[k]) for k in MEASURES}

    # filters: women, from the second quarter on
    page.get_by_label("F", exact=True).check()
    choose(page, "q-first", quarters[1])
    page.wait_for_function("document.querySelector('#result-title')?.innerText.includes('from=%s, sex=F')"
                           % quarters[1])
    got = cells(page, ["cell-a", "cell-b", "cell-c", "cell-d"])
    women = lambda c: c.filter(pl.col("sex") == "F", pl.col("quarter") >= quarters[1])  # noqa: E731
    assert tuple(int(v) for v in got.values()) == recount(store, drug, pt, women)
    engine = ex.row(drug, pt, "pt", Filters(first=quarters[1], sex=("F",)))
    assert cells(page, MEASURES) == {k: repr(engine[k]) for k in MEASURES}
    assert int(page.get_attribute("#cell-a", "data-value")) < recount(store, drug, pt)[0]
    shown = page.evaluate("Array.from(document.querySelector('#trend .js-plotly-plot').data, t => [t.name, t.x, t.y])")
    trend = ex.trend(drug, pt, "pt", Filters(first=quarters[1], sex=("F",)))
    assert shown[0] == ["ROR025", trend["quarter"].to_list(), trend["ror_lo"].to_list()]
    assert set(trend["quarter"]) <= set(quarters[1:]) and trend["quarter"][-1] == quarters[-1]
    assert trend["a"][-1] == engine["a"] and trend["a"].is_sorted()  # cumulative
    listed = page.inner_text("#listing-count")
    assert listed.startswith(f"Case line listing: {engine['a']:,} reports")

    # active comparator background
    page.get_by_label("active comparator").check()
    choose(page, "comparator", "baclofen")
    page.wait_for_function("document.querySelector('#result-title')?.innerText.includes('vs=baclofen')")
    got = cells(page, ["cell-a", "cell-b", "cell-c", "cell-d"])
    assert tuple(int(v) for v in got.values()) == recount(store, drug, pt, women, comparator="baclofen")

    # signal status with a comment
    choose(page, "triage-status", "under review")
    page.fill("#triage-user", "ana")
    page.fill("#triage-note", "seen in the explorer, women 2024")
    page.click("#triage-save")
    page.wait_for_selector("#triage-done")
    page.wait_for_selector("#history")
    page.screenshot(path=str(tmp_path / "explorer.png"), full_page=True)
    rows = history(store).to_dicts()
    assert [(r["drug"], r["event"], r["level"], r["status"], r["user"], r["note"]) for r in rows] == [
        (drug, pt, "pt", "under review", "ana", "seen in the explorer, women 2024")]
    assert proc.poll() is None  # still serving


def test_report_filters_and_roles_in_chromium(store, server, browser):
    """Age band (two bands), country, reporter type, then the suspect roles, read from the page and
    checked against the recount from cases/ and the engine for that subset."""
    url, _ = server
    drug, pt = pick(store)
    ex = Explorer(store)
    cases = pl.read_parquet(store.cases / "cases.parquet")
    a_reports = cases.filter(pl.col("caseid").is_in(list(a_ids(store, drug, pt))))
    top = lambda frame, column, n=1: (frame.drop_nulls(column).group_by(column).len()  # noqa: E731
                                      .sort(["len", column], descending=[True, False])[column].head(n).to_list())
    ages = sorted(top(a_reports, "age_band", 2))
    country = top(a_reports.filter(pl.col("age_band").is_in(ages)), "country")[0]
    reporter = top(a_reports.filter(pl.col("age_band").is_in(ages), country=country), "reporter")[0]
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(url)
    choose(page, "drug", drug)
    choose(page, "event", pt)
    page.wait_for_selector("#cell-a")
    for dropdown, value in [("age", ages[0]), ("age", ages[1]), ("country", country), ("reporter", reporter)]:
        choose(page, dropdown, value)
        page.keyboard.press("Escape")
    label = f"age_band={'|'.join(ages)}, country={country}, reporter={reporter}"
    page.wait_for_function("document.querySelector('#result-title')?.innerText.includes(%r)" % label)
    subset = lambda c: c.filter(pl.col("age_band").is_in(ages), country=country, reporter=reporter)  # noqa: E731
    f = Filters(age_band=tuple(ages), country=(country,), reporter=(reporter,))
    for roles, radio, role_codes in ((None, None, ("PS", "SS")), ("any", "any (PS, SS, C, I)", None),
                                     ("ps", "PS", ("PS",))):
        if radio:
            page.get_by_label(radio, exact=True).check()
            page.wait_for_function("document.querySelector('#result-title')?.innerText.includes('roles=%s,')" % roles)
        counts = recount(store, drug, pt, subset, roles=role_codes)
        engine = ex.row(drug, pt, "pt", replace(f, roles=roles))
        if engine is None:  # no report left with both under these roles: the page says so
            assert counts[0] == 0
            page.wait_for_selector("#no-row")
            continue
        got = cells(page, ["cell-a", "cell-b", "cell-c", "cell-d"])
        assert tuple(int(v) for v in got.values()) == counts
        assert cells(page, MEASURES) == {k: repr(engine[k]) for k in MEASURES}
        assert page.inner_text("#listing-count").startswith(f"Case line listing: {counts[0]:,} reports")
    assert recount(store, drug, pt, subset)[0] > 0
    assert recount(store, drug, pt, subset, roles=None) != recount(store, drug, pt, subset)  # roles matter here


def a_ids(home: Home, drug: str, pt: str) -> set:
    """Case ids of the non-duplicate reports naming the drug (PS/SS) and the PT."""
    drugs = pl.read_parquet(home.cases / "drugs.parquet").filter(pl.col("role_cod").is_in(["PS", "SS"]),
                                                                 pl.col("ingredient").str.to_lowercase() == drug)
    pts = pl.read_parquet(home.cases / "reactions.parquet").filter(pl.col("pt") == pt)
    cases = pl.read_parquet(home.cases / "cases.parquet").filter(~pl.col("dup_flag").fill_null(False))
    return set(drugs["caseid"]) & set(pts["caseid"]) & set(cases["caseid"])


def test_tables_equal_report_counts_on_the_filtered_background(store):
    """Every filter's table (from the pre-summed cube) equals the engine's report_counts +
    signal_table run on the background restricted by joins (what the explorer used to do)."""
    ex = Explorer(store)
    drug, _ = pick(store)
    quarters = ex.choices("quarter")
    cases = pl.read_parquet(store.cases / "cases.parquet", columns=["caseid", "country", "reporter", "serious"])
    for f in (Filters(first=quarters[1], sex=("F",)), Filters(country=(ex.choices("country")[0],), serious=(True,)),
              Filters(last=quarters[-2], reporter=tuple(ex.choices("reporter")[:2]), age_band=("45-64",)),
              Filters(background="indication", indication="unknown", sex=("M",)),
              Filters(background="comparator", comparator="baclofen"), Filters(roles="any", serious=(False,))):
        inputs = read_inputs(store, f.roles or ex.settings.roles, ex.settings.dedup, ex.settings.strata)
        u = inputs.universe.join(cases.rename({"caseid": "id"}), on="id", how="left")
        u = u.filter(pl.col("quarter") >= f.first) if f.first else u
        u = u.filter(pl.col("quarter") <= f.last) if f.last else u
        for column in ("sex", "age_band", "country", "reporter", "serious"):
            u = u.filter(pl.col(column).is_in(list(getattr(f, column)))) if getattr(f, column) else u
        if f.background == "indication":
            u = u.join(inputs.drugs.filter(indication_class=f.indication).select("id"), on="id", how="semi")
        if f.background == "comparator":
            u = u.join(inputs.drugs.filter(pl.col("drug").is_in([drug, f.comparator])).select("id"), on="id",
                       how="semi")
        counted = report_counts(inputs.drugs.filter(drug=drug).lazy(), inputs.events["pt"].lazy(), u.lazy(),
                                list(ex.settings.strata))
        theirs = signal_table(counted.two_by_two(), ex.settings.prior, "pt", f.label(), ex.settings.ror_min_a)
        mine = ex.table(drug, "pt", f)
        assert mine.height > 0, f
        assert_frame_equal(mine.sort("event"), theirs.sort("event"), rel_tol=1e-9, abs_tol=1e-12)


def test_trend_ends_at_the_row(store):
    """The cumulative trend (summed per quarter and stratum) is the row at the end of each quarter."""
    ex = Explorer(store)
    drug, pt = pick(store)
    quarters = ex.choices("quarter")
    indication = (pl.read_parquet(store.cases / "drugs.parquet").filter(pl.col("ingredient").str.to_lowercase() == drug)
                  .drop_nulls("indication_class").group_by("indication_class").len()
                  .sort(["len", "indication_class"], descending=[True, False])["indication_class"][0])
    for f in (Filters(sex=("F",)), Filters(background="comparator", comparator="baclofen"),
              Filters(background="indication", indication=indication), Filters(roles="any")):
        trend = ex.trend(drug, pt, "pt", f)
        assert trend.height > 0
        for point in trend.iter_rows(named=True):
            row = ex.row(drug, pt, "pt", replace(f, last=point["quarter"]))
            assert point["a"] == row["a"]
            measures = ("ror_lo", "ic025", "eb05")
            assert [point[k] for k in measures] == pytest.approx([row[k] for k in measures], rel=1e-12)
        assert set(trend["quarter"]) <= set(quarters)


def test_a_busy_port_is_a_one_line_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run([str(Path(sys.executable).with_name("pvmon")), "serve", "--home", str(tmp_path),
                              "--port", str(port)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert out.stderr.startswith(f"pvmon: error: serve: cannot listen on 127.0.0.1:{port}:")
    assert len(out.stderr.strip().splitlines()) == 1
