"""`pvmon publish`: the dashboards, opened from disk in a real headless Chromium.

One simulated store is built per module (4 quarters x 3000 reports through every stage,
for the target drug and one positive and one negative control, ~12 s); every page is opened from file:// with Playwright and checked for errors, network
requests and that the numbers it shows are the store files' numbers.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys

import polars as pl
import pytest

from dashboards.render import INLINE_ROWS, fmt
from pv import pipeline
from pv.config import Home
from pv.errors import PvError
from pv.vocab.pts import load_event_groups

KEY = ["drug", "event", "level", "subset"]
DRUGS = ["baclofen", "gabapentin", "naltrexone"]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Home:
    home = Home.at(tmp_path_factory.mktemp("dash") / "pvdata")
    sim = pipeline.simulate_stage(home, "2024Q1..2024Q4", 3000, seed=7)
    result = pipeline.run(home, [sim], drugs=DRUGS)
    assert result.steps["publish"] == home.site
    return home


@pytest.fixture(scope="module")
def run_dir(store):
    runs = list(store.signals.glob("*/signals.parquet"))
    assert len(runs) == 1
    return runs[0].parent


@pytest.fixture(scope="module")
def signals(run_dir) -> pl.DataFrame:
    return pl.read_parquet(run_dir / "signals.parquet")




class Opened:
    """A page opened from disk, with every problem the browser reported."""

    def __init__(self, browser, path=None):
        self.problems: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}")
                     if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.on("request", lambda r: None if r.url.startswith("file://")
                     else self.problems.append(f"network: {r.url}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))
        if path is not None:
            self.open(path)

    def open(self, path, fragment: str = ""):
        self.page.goto(path.as_uri() + fragment)
        if path.name == "listing.html":
            if fragment:
                self.page.wait_for_selector("#listing[data-ready]", timeout=30_000)
        else:
            self.page.wait_for_selector(".plotly .main-svg", timeout=30_000)

    def all_rows(self, table_id: str) -> None:
        """Load a long table's remaining rows (its 'Show all' button) and wait until they are in."""
        button = self.page.locator(f"#more-{table_id}")
        if button.count():
            button.click()
            self.page.wait_for_selector(f"#{table_id}:not([data-more])", timeout=30_000)

    def table(self, table_id: str) -> dict[str, dict[str, tuple[str, str]]]:
        """data-key -> {column: (shown text, exact value)} of every row of a table (all loaded)."""
        self.all_rows(table_id)
        rows = self.page.evaluate("""id => Array.from(document.querySelectorAll('#' + id + ' tbody tr')).map(tr => [
            tr.getAttribute('data-key'),
            Array.from(tr.querySelectorAll('td')).map(td => [td.getAttribute('data-col'), td.innerText.trim(),
                                                             td.getAttribute('data-v')])])""", table_id)
        return {key: {col: (text, value) for col, text, value in cells} for key, cells in rows}

    def kinds(self, table_id: str) -> dict[str, str]:
        return dict(self.page.evaluate("""id => Array.from(document.querySelectorAll('#' + id + ' th')).map(
            th => [th.getAttribute('data-col'), th.getAttribute('data-kind')])""", table_id))

    def close(self):
        self.page.close()


def site_pages(store) -> list[str]:

    return json.loads((store.site / "site.json").read_text())["pages"]


def digest(folder) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


FIRST_QUARTER = "2024Q1"  # the simulated store's first quarter


def shown_as(value, kind: str) -> str:
    """The page's text for a file value: a first quarter equal to the data's first reads 'from the
    first quarter of data' (the threshold may have been met before the data starts)."""
    if kind == "quarter" and value == FIRST_QUARTER:
        return f"from the first quarter of data ({value})"
    return fmt(value, kind)


def assert_rows_equal(shown: dict, frame: pl.DataFrame, kinds: dict[str, str], key_cols=KEY):
    """Every cell shown equals the file's value, formatted as the page formats it."""
    expected = {"|".join(str(r[k]) for k in key_cols): r for r in frame.iter_rows(named=True)}
    assert set(shown) == set(expected)
    compared = 0
    for key, cells in shown.items():
        for col, (text, _value) in cells.items():
            if col in expected[key]:
                assert text == shown_as(expected[key][col], kinds[col]), (key, col)
                compared += 1
    assert compared >= len(shown)


def test_site_layout_plotly_once_no_cdn(store, signals):
    pages = site_pages(store)
    drugs = [p for p in pages if p.startswith("drug-")]
    assert pages[0] == "index.html" and drugs[0] == "drug-baclofen.html"
    assert set(pages) == {p.name for p in store.site.glob("*.html")}
    assert {"mechanism.html", "quality.html", "listing.html"} <= set(pages)
    assert [d.removeprefix("drug-").removesuffix(".html") for d in drugs] == DRUGS
    assert sorted(p.name for p in store.site.rglob("plotly*.js")) == ["plotly-cartesian.min.js", "plotly.min.js"]
    for name in pages:
        html = (store.site / name).read_text(encoding="utf-8")
        if name == "listing.html":
            assert html.count("<script src=") == 1 and '<script src="listing.js">' in html
        else:  # plotly.js is loaded by the page after it was read, to draw the figures' JSON: every
            # page's figures are of the cartesian bundle's trace types (rule plotly-bundle)
            assert "<script src=" not in html and 'var scripts = ["plotly-cartesian.min.js"];' in html, name
            assert html.count('<script type="application/json" data-figure=') >= 1
        assert "cdn.plot.ly" not in html and "https://" not in html
        assert len(html) < 3_000_000  # plotly.js (4.8 MB) is not inlined


def test_the_cartesian_bundle_is_plotly_py_s_plotly_js():
    """Rule plotly-bundle: the vendored cartesian bundle is the plotly.js version plotly.py draws with
    (after a plotly upgrade: `npm pack plotly.js-cartesian-dist-min@<that version>` into dashboards/vendor)."""
    from plotly.offline import get_plotlyjs

    from dashboards.render import PLOTLY_CARTESIAN_JS, VENDORED

    version = re.compile(r"plotly\.js[^\n]*? v(\d+\.\d+\.\d+)")
    vendored = version.search(VENDORED[PLOTLY_CARTESIAN_JS].read_text(encoding="utf-8")[:400]).group(1)
    assert vendored == version.search(get_plotlyjs()[:400]).group(1)


def test_a_page_loads_the_smallest_plotly_bundle_that_draws_its_figures():
    import plotly.graph_objects as go

    from dashboards.render import PLOTLY_CARTESIAN_JS, PLOTLY_JS, Page, figure, scripts

    def page(*traces) -> Page:
        return Page("p", "P", "", "", [figure(f"f{i}", "F", go.Figure(t), "src") for i, t in enumerate(traces)])

    assert scripts(page(go.Scatter(x=[1]), go.Heatmap(z=[[1]]), go.Bar(x=[1]))) == [PLOTLY_CARTESIAN_JS]
    assert scripts(page(go.Scatter(x=[1]), go.Funnel(x=[1]))) == [PLOTLY_JS]
    assert scripts(page(go.Scatter3d(x=[1], y=[1], z=[1]))) == [PLOTLY_JS]
    assert scripts(Page("p", "P", "", "", scripts=[])) == []


def test_every_page_renders_offline_without_errors(store, browser):
    opened = Opened(browser)
    for name in site_pages(store):
        opened.open(store.site / name)
        assert opened.problems == [], name
        assert opened.page.locator(".plotly .main-svg").count() >= 1 or name == "listing.html"
        assert opened.page.locator("#simulated-banner").is_visible()
        assert opened.page.locator("#signal-rule").inner_text().startswith("Signal rule: any")
    opened.close()


def test_overview_shows_the_funnel_run_and_new_signals(store, browser, signals, run_dir):
    opened = Opened(browser, store.site / "index.html")
    page = opened.page
    assert page.locator("#simulated-banner").inner_text().startswith("SIMULATED DATA")
    assert "2024Q1, 2024Q2, 2024Q3, 2024Q4" in page.locator("#simulated-banner").inner_text()
    assert run_dir.name in page.locator("#facts").inner_text()
    assert "2024Q1 .. 2024Q4 (4 quarters)" in page.locator("#facts").inner_text()

    funnel = pl.read_parquet(store.cases / "funnel.parquet")
    shown = opened.table("funnel-table")
    assert set(shown) == set(funnel["quarter"])
    for quarter, stage, count in funnel.iter_rows():
        assert shown[quarter][stage][0] == f"{count:,}"
    total = dict(funnel.filter(pl.col("quarter") == "total").select("stage", "count").iter_rows())
    assert page.locator("#kpi-read .v").inner_text() == f"{total['reports_read']:,}"
    assert page.locator("#kpi-cases .v").inner_text() == f"{total['after_dup_flag']:,}"

    new = signals.filter(pl.col("is_new"), pl.col("subset") == "all")
    assert new.height > 0
    assert_rows_equal(opened.table("new-signals"), new, opened.kinds("new-signals"))
    opened.close()


def test_drug_page_tables_and_figures_equal_the_signal_files(store, browser, signals, run_dir):
    opened = Opened(browser, store.site / "drug-baclofen.html")
    kinds = opened.kinds("groups")
    groups = signals.filter(pl.col("drug") == "baclofen", pl.col("level") == "group", pl.col("subset") == "all")
    shown = opened.table("groups")
    assert_rows_equal(shown, groups, kinds)
    overdose = groups.filter(pl.col("event") == "overdose_broad").row(0, named=True)
    assert overdose["flag_ror025"]
    cells = shown["baclofen|overdose_broad|group|all"]
    assert cells["a"][0] == str(overdose["a"]) and cells["ror_lo"][0] == f"{overdose['ror_lo']:.2f}"
    assert float(cells["ror_lo"][1]) == overdose["ror_lo"]  # the exact value rides along

    for table_id, level, subset in (("pts", "pt", "all"), ("domains", "domain", "all")):
        rows = signals.filter(pl.col("drug") == "baclofen", pl.col("level") == level, pl.col("subset") == subset)
        assert_rows_equal(opened.table(table_id), rows, opened.kinds(table_id))
    subsets = signals.filter(pl.col("drug") == "baclofen", pl.col("level") == "group", pl.col("subset") != "all")
    assert_rows_equal(opened.table("group-subsets"), subsets, opened.kinds("group-subsets"))

    # the trend figure plots trend.parquet's cumulative ROR lower bound per quarter
    trend = pl.read_parquet(run_dir / "trend.parquet").filter(
        pl.col("drug") == "baclofen", pl.col("level") == "group", pl.col("subset") == "all",
        pl.col("event") == "overdose_broad").sort("quarter")
    traces = opened.page.evaluate("() => document.getElementById('fig-trend').data.map(t => [t.name, t.x, t.y])")
    panels = [t for t in traces if t[0] == "overdose_broad"]
    assert len(panels) == 5  # a, PRR, ROR025, IC025, EB05
    assert panels[2][1] == trend["quarter"].to_list()
    assert panels[2][2] == pytest.approx(trend["ror_lo"].to_list(), rel=1e-12)
    # the forest plot's baclofen point is the table's ROR
    forest = opened.page.evaluate("() => document.getElementById('fig-forest').data.map(t => [t.x, t.y])")
    overdose_panel = sorted(groups["event"].to_list()).index("overdose_broad")
    xs, ys = forest[overdose_panel]
    assert xs[ys.index("baclofen")] == pytest.approx(overdose["ror"], rel=1e-12)
    opened.close()


DRUG_SUBSETS = {"route": "route_class", "indication": "indication_class", "dose_band": "dose_band"}


def recount(store, drug: str, level: str, event: str, subset: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The cases behind one cell counted straight from cases/ (not through pv.signals or the
    dashboards): surviving non-duplicate cases with a reaction, the drug as primary or secondary
    suspect and a PT of the event (group: the seed's narrow list, or narrow + broad; domain: the
    receptor map's effect PTs); a route/indication/dose subset needs a drug row with that value,
    a sex/age subset the case's value. Returns (the cell's cases with the drug's first onset,
    the drug's other reports)."""
    from pv.vocab.receptors import pt_domains

    cases = pl.read_parquet(store.cases / "cases.parquet").filter(~pl.col("dup_flag").fill_null(False))
    suspects = pl.read_parquet(store.cases / "drugs.parquet").filter(
        pl.col("role_cod").str.to_uppercase().is_in(["PS", "SS"]), pl.col("ingredient").is_not_null())
    reactions = pl.read_parquet(store.cases / "reactions.parquet").filter(pl.col("pt").is_not_null())
    cases = cases.filter(pl.col("caseid").is_in(suspects["caseid"].implode()),
                         pl.col("caseid").is_in(reactions["caseid"].implode()))
    mine = suspects.filter(pl.col("ingredient").str.to_lowercase() == drug,
                           pl.col("caseid").is_in(cases["caseid"].implode()))
    if level == "pt":
        pts = {event.lower()}
    elif level == "group":
        group, scope = event.rsplit("_", 1)
        seed = load_event_groups().frame.filter(pl.col("group") == group)
        pts = set((seed if scope == "broad" else seed.filter(pl.col("scope") == "narrow"))["pt"].str.to_lowercase())
    else:
        pts = set(pt_domains().filter(pl.col("domain") == event)["pt"].str.to_lowercase())
    hit = set(reactions.filter(pl.col("pt").str.to_lowercase().is_in(pts))["caseid"])
    dim, _, value = subset.partition("=")
    in_subset = mine.filter(pl.col(DRUG_SUBSETS[dim]) == value) if dim in DRUG_SUBSETS else mine
    ids = set(in_subset["caseid"]) & hit
    if dim in ("sex", "age_band"):
        ids &= set(cases.filter(pl.col(dim) == value)["caseid"])
    onset = mine.group_by("caseid").agg(pl.col("onset_days").min())
    cell = cases.filter(pl.col("caseid").is_in(list(ids))).join(onset, on="caseid", how="left")
    others = cases.filter(pl.col("caseid").is_in(mine["caseid"].implode()), ~pl.col("caseid").is_in(list(hit)))
    return cell, others


def page_rows(page) -> dict[int, dict[str, str]]:
    """caseid -> {column: text} of the listing page shown."""
    rows = page.evaluate("""() => Array.from(document.querySelectorAll('#listing-body tr')).map(tr => [
        tr.getAttribute('data-caseid'),
        Array.from(tr.querySelectorAll('td')).map(td => [td.getAttribute('data-col'), td.innerText.trim()])])""")
    return {int(caseid): dict(cells) for caseid, cells in rows}


def turn_to(page, control: str, number: int) -> None:
    """Click the pager's ``control`` (or type ``number`` into its jump box) and wait for that page."""
    if control == "#listing-jump":
        page.fill(control, str(number))
        page.press(control, "Enter")
    else:
        page.click(control)
    page.wait_for_function("n => document.querySelector('#listing[data-ready]') && "
                           "document.getElementById('listing-range').textContent.startsWith('Page ' + n + ' of ')",
                           arg=f"{number:,}")


def listing_rows(page) -> dict[int, dict[str, str]]:
    """Every case of the listing opened, walked page by page with the Next button (each case once)."""
    shown, number = page_rows(page), 1
    while page.locator("#listing-next").is_enabled():
        number += 1
        turn_to(page, "#listing-next", number)
        rows = page_rows(page)
        assert not set(rows) & set(shown)  # no case on two pages
        shown |= rows
    return shown


def yes_no(value) -> str:
    return "\u2013" if value is None else "yes" if value else "no"


def test_every_case_listing_equals_a_recount_from_cases(store, browser, signals):
    """Each listing behind a count (all reports and subsets, every level of baclofen) holds exactly the
    cases a recount from cases/ finds for that cell, with their outcomes and onset; row count = a."""
    opened = Opened(browser, store.site / "drug-baclofen.html")
    links = opened.page.evaluate("""() => Array.from(document.querySelectorAll(
        '#groups td[data-col="cases"] a, #group-subsets td[data-col="cases"] a, #domains td[data-col="cases"] a, '
        + '#pts td[data-col="cases"] a')).map(a => [a.closest('tr').getAttribute('data-key'), a.getAttribute('href')])""")
    flagged = signals.filter(pl.col("drug") == "baclofen", pl.col("subset") == "all",
                             pl.any_horizontal(pl.col("^flag_.*$").fill_null(False)))
    linked = {key for key, _ in links}
    assert {f"baclofen|{e}|{lv}|all" for e, lv in flagged.select("event", "level").iter_rows()} <= linked
    subset_links = [k for k in linked if not k.endswith("|all")]
    assert len(subset_links) >= 20  # subsets of the flagged groups get their listing too
    a_of = {"|".join(map(str, r[:4])): r[4] for r in signals.select(*KEY, "a").iter_rows()}
    checked = 0
    for key, href in sorted(links):
        drug, event, level, subset = key.split("|")
        page_file, fragment = href.split("#")
        opened.open(store.site / page_file, "#" + fragment)
        shown = listing_rows(opened.page)
        cell, others = recount(store, drug, level, event, subset)
        assert len(shown) == a_of[key] == cell.height, key
        assert set(shown) == set(cell["caseid"]), key
        for r in cell.iter_rows(named=True):
            row = shown[r["caseid"]]
            assert row["version"] == str(r["caseversion"]) and row["quarter"] == r["quarter"], key
            for outcome in ("serious", "death", "life_threatening", "hospitalization", "disability"):
                assert row[outcome] == yes_no(r[outcome]), (key, r["caseid"], outcome)
            assert row["onset_days"] == ("\u2013" if r["onset_days"] is None else str(r["onset_days"])), (key, r["caseid"])
            assert row["sex"] == (r["sex"] or "")
        if subset == "all":  # the outcome panel: this event vs the drug's other reports
            deaths = opened.page.locator('#panel-outcomes tr[data-label="death: this event"] td.n')
            assert deaths.get_attribute("data-n") == str(cell["death"].fill_null(False).sum())
            other = opened.page.locator('#panel-outcomes tr[data-label="death: drug\'s other reports"] td.n')
            assert other.get_attribute("data-n") == str(others["death"].fill_null(False).sum())
            onset = opened.page.locator('#panel-onset tr[data-label="unknown"] td.n')
            assert onset.get_attribute("data-n") == str(cell["onset_days"].is_null().sum())
        checked += 1
    assert checked == len(links)
    assert opened.problems == []
    opened.close()


def download(page, selector: str) -> bytes:
    """Click a download link and return the bytes the browser saved."""
    with page.expect_download() as got:
        page.click(selector)
    return open(got.value.path(), "rb").read()


def test_case_listing_sorts_filters_and_exports_csv(store, browser, signals):
    opened = Opened(browser, store.site / "drug-baclofen.html")
    href = opened.page.locator('#groups tr[data-key="baclofen|overdose_broad|group|all"] td[data-col="cases"] a'
                               ).get_attribute("href")
    opened.open(store.site / "index.html")  # the overview's new-signal row links the same listing
    assert opened.page.locator('#new-signals tr[data-key="baclofen|overdose_broad|group|all"] '
                               'td[data-col="cases"] a').get_attribute("href") == href
    page_file, fragment = href.split("#")
    opened.open(store.site / page_file, "#" + fragment)
    page = opened.page
    cell, _ = recount(store, "baclofen", "group", "overdose_broad", "all")
    assert "overdose_broad" in page.locator("#listing-title").inner_text()
    # the matching PTs are marked inside the case's PT list
    marked = page.locator('#listing-body td[data-col="pts"] mark').all_inner_texts()
    overdose = set(load_event_groups().frame.filter(pl.col("group") == "overdose")["pt"].str.to_lowercase())
    assert marked and {m.lower() for m in marked} <= overdose
    # sort by onset: the shortest known onset first
    page.click('#listing-table th[data-col="onset_days"]')
    first = page.locator('#listing-body tr').first.locator('td[data-col="onset_days"]').inner_text()
    assert first == str(cell["onset_days"].min())
    # filter: deaths only (column filter), then any text
    page.fill('tr.colfilters input[data-col="death"]', "yes")
    deaths = int(cell["death"].fill_null(False).sum())
    assert page.locator("#listing-body tr").count() == deaths
    assert page.locator("#listing-count").inner_text() == f"{deaths} of {cell.height} cases of this page shown"
    assert page.locator("#listing-range").inner_text() == f"Page 1 of 1: cases 1\u2013{cell.height} of {cell.height}"
    # CSV of the rows shown (made on the click, downloaded): every row marked SIMULATED, the same cases
    exported = pl.read_csv(download(page, "#listing-csv"))
    assert exported.height == deaths and set(exported["data"]) == {"SIMULATED"}
    assert set(exported["caseid"]) == set(cell.filter(pl.col("death").fill_null(False))["caseid"])
    assert {"matching PTs", "all PTs of the case", "time to onset (days)", "dose"} <= set(exported.columns)
    page.fill('tr.colfilters input[data-col="death"]', "")
    assert pl.read_csv(download(page, "#listing-csv")).height == cell.height
    # the whole listing's CSV, whatever the filters
    page.fill("#listing-filter", "no such text anywhere")
    assert page.locator("#listing-body tr").count() == 0
    assert set(pl.read_csv(download(page, "#listing-csv-all"))["caseid"]) == set(cell["caseid"])
    # a subset from the selector: the page shows that subset's cases
    value = page.locator("#listing-subset option").nth(1).get_attribute("value")
    page.select_option("#listing-subset", value)
    page.wait_for_selector("#listing[data-ready]")
    sub, _ = recount(store, "baclofen", "group", "overdose_broad", value)
    assert set(listing_rows(page)) == set(sub["caseid"])
    assert opened.problems == []
    opened.close()


def test_a_long_listing_is_paged_and_every_case_reachable(store, browser, tmp_path, monkeypatch):
    """Rule listing-pages: a listing is written as pages loaded one at a time (here 7 rows a page, so
    the test store's listings span many pages): the total is known up front, page 3 (by Next and by the
    jump box) holds exactly the listing's cases 15-21, walking every page reaches every case once, a
    subset pages through its own cases only, and the whole listing's CSV holds every case."""
    from dashboards import case_lists
    from dashboards.inputs import load
    from dashboards.publish import build

    monkeypatch.setattr(case_lists, "PAGE_ROWS", 7)
    site = tmp_path / "site"
    site.mkdir()
    build(load(store), site)
    cell, _ = recount(store, "baclofen", "group", "overdose_broad", "all")
    order = cell.sort("quarter", "caseid")["caseid"].to_list()
    n, pages = len(order), -(-len(order) // 7)
    assert n > 21
    name = case_lists.data_file("baclofen", "group", "overdose_broad")
    files = sorted((site / "cases").glob(f"{name}-*.js"))
    assert len(files) == pages and all(f.stat().st_size < 1_000_000 for f in site.rglob("cases/*.js"))
    opened = Opened(browser)
    opened.open(site / "listing.html", "#" + name)
    page = opened.page
    assert page.locator("#listing-range").inner_text() == f"Page 1 of {pages}: cases 1\u20137 of {n}"
    assert list(page_rows(page)) == order[:7]
    turn_to(page, "#listing-next", 2)
    turn_to(page, "#listing-next", 3)
    assert list(page_rows(page)) == order[14:21]
    assert page.locator("#listing-range").inner_text() == f"Page 3 of {pages}: cases 15\u201321 of {n}"
    turn_to(page, "#listing-jump", pages)
    assert list(page_rows(page)) == order[(pages - 1) * 7:] and not page.locator("#listing-next").is_enabled()
    turn_to(page, "#listing-prev", pages - 1)
    turn_to(page, "#listing-jump", 3)
    assert list(page_rows(page)) == order[14:21]
    opened.open(site / "listing.html", f"#{name}&page=3")  # a link to page 3 opens it
    assert list(page_rows(page)) == order[14:21]
    opened.open(site / "listing.html", "#" + name)
    assert listing_rows(page) .keys() == set(order)
    assert pl.read_csv(download(page, "#listing-csv-all"))["caseid"].to_list() == order
    # the panels count every case of the listing, not the page shown
    deaths = page.locator('#panel-outcomes tr[data-label="death: this event"] td.n').get_attribute("data-n")
    assert deaths == str(cell["death"].fill_null(False).sum())
    # a subset larger than one page: its pages hold its cases only, all of them, counted up front
    sizes = {s: recount(store, "baclofen", "group", "overdose_broad", s)[0] for s in ("sex=F", "route=oral")}
    subset, sub = max(sizes.items(), key=lambda kv: kv[1].height)
    assert sub.height > 7
    page.select_option("#listing-subset", subset)
    page.wait_for_function("() => document.querySelector('#listing[data-ready]') && "
                           "document.getElementById('listing-title').textContent.includes('subset')")
    assert page.locator("#listing-range").inner_text().endswith(f" of {sub.height}")
    assert listing_rows(page).keys() == set(sub["caseid"])
    assert set(pl.read_csv(download(page, "#listing-csv-all"))["caseid"]) == set(sub["caseid"])
    assert opened.problems == []
    opened.close()


@pytest.mark.parametrize("width", [390, 820])
def test_no_overflow_and_no_overlapping_labels_on_narrow_screens(store, browser, width):
    """The overview and the baclofen page at a phone's and a small laptop's width: nothing wider
    than the screen (wide tables scroll inside their own box), no two labels on top of each other."""
    from page_geometry import LABEL_CLASHES, OVERFLOW

    opened = Opened(browser)
    opened.page.set_viewport_size({"width": width, "height": 900})
    for name in ("index.html", "drug-baclofen.html"):
        opened.open(store.site / name)
        opened.page.wait_for_timeout(300)  # plotly's responsive relayout to the narrow width
        assert opened.page.evaluate(OVERFLOW) <= 0, name
        assert opened.page.evaluate(LABEL_CLASHES) == [], name
        # the event column stays in view when a wide table is scrolled sideways
        wrap = opened.page.locator("#block-groups .tablewrap" if name != "index.html" else "#block-new-signals .tablewrap")
        wrap.evaluate("w => { w.scrollLeft = 600; }")
        cell = wrap.locator("tbody tr").first.locator("td.sticky")
        box, frame = cell.bounding_box(), wrap.bounding_box()
        assert abs(box["x"] - frame["x"]) <= 2, name
    listing = opened.page.locator('#groups tr[data-key="baclofen|overdose_broad|group|all"] td[data-col="cases"] a')
    page_file, fragment = listing.get_attribute("href").split("#")
    opened.open(store.site / page_file, "#" + fragment)
    assert opened.page.evaluate(OVERFLOW) <= 0 and opened.page.evaluate(LABEL_CLASHES) == []
    assert opened.problems == []
    opened.close()


def test_heatmap_cells_link_to_the_drug_page_row(store, browser, signals):
    opened = Opened(browser, store.site / "index.html")
    heat = opened.page.evaluate("() => { const t = document.getElementById('fig-watchlist').data[0];"
                                " return [t.x, t.y, t.customdata, t.text]; }")
    xs, ys, links, texts = heat
    i, j = ys.index("baclofen"), xs.index("overdose_broad")
    assert links[i][j] == "drug-baclofen.html#groups:baclofen|overdose_broad|group|all"
    row = signals.filter(pl.col("drug") == "baclofen", pl.col("event") == "overdose_broad", pl.col("level") == "group",
                         pl.col("subset") == "all").row(0, named=True)
    assert texts[i][j].startswith(str(row["a"]))
    assert all(t != "" for line in texts for t in line)  # no report: 0, not blank
    opened.open(store.site / links[i][j].split("#")[0])
    opened.page.goto((store.site / links[i][j].split("#")[0]).as_uri() + "#" + links[i][j].split("#")[1])
    assert opened.page.evaluate("() => document.querySelector(':target').getAttribute('data-key')") == \
        "baclofen|overdose_broad|group|all"
    opened.close()


def test_tables_sort_and_filter_in_the_page(store, browser, signals):
    opened = Opened(browser, store.site / "drug-baclofen.html")
    page = opened.page
    pts = signals.filter(pl.col("drug") == "baclofen", pl.col("level") == "pt", pl.col("subset") == "all")
    # page weight: the page holds the first INLINE_ROWS rows, sorting loads the rest first
    assert pts.height > INLINE_ROWS
    assert page.locator("#pts tbody tr").count() == INLINE_ROWS
    assert page.inner_text("#count-pts").startswith(f"{INLINE_ROWS} of {pts.height:,} rows shown")
    page.click('#pts th[data-col="a"]')
    page.wait_for_selector("#pts:not([data-more])")
    assert page.locator("#pts tbody tr").count() == pts.height
    assert page.inner_text("#count-pts") == f"{pts.height:,} rows"
    first = page.locator('#pts tbody tr').first.locator('td[data-col="a"]').inner_text()
    assert first == f"{pts['a'].max():,}"
    page.fill('input[data-table="groups"]', "overdose")
    expected = signals.filter(pl.col("drug") == "baclofen", pl.col("level") == "group", pl.col("subset") == "all",
                              pl.col("event").str.contains("overdose")).height
    assert page.locator("#groups tbody tr:visible").count() == expected
    # a link to a row beyond the first ones opens the page on that row
    opened.open(store.site / "drug-baclofen.html")
    opened.all_rows("pts")
    last = page.locator("#pts tbody tr").last.get_attribute("data-key")
    opened.open(store.site / "drug-baclofen.html", "#pts:" + last)
    page.wait_for_function("() => document.querySelector(':target')?.getAttribute('data-key') === %s"
                           % json.dumps(last))
    assert opened.problems == []
    opened.close()



def test_mechanism_and_quality_pages_equal_their_files(store, browser, run_dir):
    opened = Opened(browser, store.site / "mechanism.html")
    statement = (store.root / "mechanism" / run_dir.name / "statement.md").read_text()
    heading = statement.splitlines()[0].lstrip("# ").strip()
    assert heading in opened.page.locator("#statement").inner_text()
    hypothesis = pl.read_parquet(store.root / "mechanism" / run_dir.name / "hypothesis.parquet").filter(
        pl.col("family").is_in(["primary", "drug"]), pl.col("rule") == "lowest")
    assert_rows_equal(opened.table("hypothesis"), hypothesis, opened.kinds("hypothesis"), key_cols=["drug"])
    opened.close()

    opened = Opened(browser, store.site / "quality.html")
    con = sqlite3.connect(store.manifest)
    manifest = con.execute("SELECT quarter, table_name, SUM(lines_read), SUM(lines_quarantined) FROM files "
                           "GROUP BY quarter, table_name").fetchall()
    con.close()
    shown = opened.table("accounting")
    assert len(shown) == len(manifest)
    for quarter, table, read, quarantined in manifest:
        assert shown[f"{quarter}|{table}"]["lines_read"][0] == f"{read:,}"
        assert shown[f"{quarter}|{table}"]["quarantined"][0] == f"{quarantined:,}"
        assert shown[f"{quarter}|{table}"]["balanced"][0] == "yes"
    quarantine = pl.read_parquet(sorted(store.quarantine.glob("quarter=*/*.parquet")))
    reasons = opened.table("reasons")
    assert sum(int(c["lines"][1]) for c in reasons.values()) == quarantine.height == sum(q for *_, q in manifest)
    assert pl.read_csv(store.site / "quarantine.csv").height == quarantine.height
    opened.close()


def test_publish_again_writes_the_same_bytes(store):
    before = digest(store.site)
    assert pipeline.publish_stage(store) == store.site
    assert digest(store.site) == before
    assert not [p.name for p in store.root.iterdir() if p.name.startswith(".site")]


def test_the_banner_follows_the_manifest_fda_and_mixed(store, tmp_path):
    home = Home.at(tmp_path / "copy")
    shutil.copytree(store.root, home.root)
    con = sqlite3.connect(home.manifest)
    con.execute("UPDATE quarters SET simulated = 0 WHERE quarter = '2024Q1'")  # as if FDA's 2024Q1
    con.commit()
    pipeline.publish_stage(home)
    index = (home.site / "index.html").read_text(encoding="utf-8")
    assert 'id="simulated-banner">MIXED DATA' in index and "FDA quarters: 2024Q1" in index
    con.execute("UPDATE quarters SET simulated = 0")
    con.commit()
    con.close()
    pipeline.publish_stage(home)
    index = (home.site / "index.html").read_text(encoding="utf-8")
    assert "simulated-banner" not in index and "FDA FAERS quarterly extracts" in index
    con = sqlite3.connect(home.manifest)
    con.execute("UPDATE quarters SET simulated = NULL WHERE quarter = '2024Q2'")  # as if from an older pvmon
    con.commit()
    con.close()
    pipeline.publish_stage(home)
    index = (home.site / "index.html").read_text(encoding="utf-8")
    assert 'id="simulated-banner">DATA ORIGIN NOT RECORDED' in index and "without a record: 2024Q2" in index


@pytest.mark.parametrize("missing, stage", [("mechanism/{run}/domains.parquet", "mechanism"),
                                            ("cases/funnel.parquet", "cases"),
                                            ("signals/{run}/run.json", "signals")])
def test_a_missing_stage_file_is_one_line_error_and_keeps_the_old_site(store, run_dir, tmp_path, missing, stage):
    home = Home.at(tmp_path / "copy")
    shutil.copytree(store.root, home.root)
    gone = home.root / missing.format(run=run_dir.name)
    gone.unlink()
    before = digest(home.site)
    with pytest.raises(PvError, match=f"^{gone}: missing"):
        pipeline.publish_stage(home)
    out = subprocess.run([sys.executable, "-m", "pv.cli", "publish", "--home", str(home.root)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr == f"pvmon: error: {gone}: missing (run `pvmon {stage}` first)\n"
    assert digest(home.site) == before


def test_a_run_without_trend_or_dose_files_still_publishes(store, run_dir, tmp_path):
    home = Home.at(tmp_path / "copy")
    shutil.copytree(store.root, home.root)
    (home.signals / run_dir.name / "trend.parquet").unlink()  # `pvmon signals --no-trend`
    for name in ("dose_response.parquet", "dose_trends.parquet"):
        (home.root / "mechanism" / run_dir.name / name).unlink()
    out = subprocess.run([sys.executable, "-m", "pv.cli", "publish", "--home", str(home.root)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"written: {home.site / 'index.html'}\n"
    page = (home.site / "drug-baclofen.html").read_text(encoding="utf-8")
    assert 'id="fig-forest"' in page and 'id="fig-trend"' not in page
    assert 'id="fig-dose"' not in (home.site / "mechanism.html").read_text(encoding="utf-8")


def test_drug_page_links_its_report_and_the_pdf_is_human(store, browser, poppler):
    """`pvmon run` exports the reports before publishing: each drug page links its PDF, XLSX and
    CSV copied into the site; the PDF states the signal rule, has no raw run.json dump and no
    absolute path."""
    opened = Opened(browser, store.site / "drug-baclofen.html")
    links = dict(opened.page.evaluate(
        "() => Array.from(document.querySelectorAll('.downloads a')).map(a => [a.innerText, a.getAttribute('href')])"))
    assert set(links) == {"report (PDF)", "report (XLSX)", "report tables (CSV)"}
    for href in links.values():
        assert not href.startswith(("/", "file:", "http")) and (store.site / href).exists()
    pdf = store.site / links["report (PDF)"]
    run_id = json.loads((store.site / "site.json").read_text())["run_id"]
    assert pdf.read_bytes() == (store.reports / run_id / "baclofen.pdf").read_bytes()
    text = subprocess.run([str(poppler["pdftotext"]), str(pdf), "-"], capture_output=True, text=True).stdout
    assert "Signal rule" in text and "any: a row is flagged when" in text
    assert '"gps_fit"' not in text and '"inputs": [' not in text  # no raw run.json
    assert str(store.root) not in text and "/tmp/" not in text
    opened.open(store.site / "drug-gabapentin.html")  # each drug links its own report
    other = opened.page.locator(".downloads a").first.get_attribute("href")
    assert other != links["report (PDF)"]
    assert (store.site / other).read_bytes() == (store.reports / run_id / "gabapentin.pdf").read_bytes()
    opened.close()


def test_without_a_report_the_drug_page_has_no_report_links(store, tmp_path):
    home = Home.at(tmp_path / "copy")
    shutil.copytree(store.root, home.root)
    shutil.rmtree(home.reports)
    pipeline.publish_stage(home)
    assert 'class="downloads"' not in (home.site / "drug-baclofen.html").read_text(encoding="utf-8")
    assert not (home.site / "reports").exists()


#: the row markup as the Jinja loop wrote it before render.rows_html (the oracle for its bytes)
ROWS_TEMPLATE = (
    '{% for row in b.rows[start:stop] %}\n{% set i = start + loop.index0 %}\n'
    '      <tr{% if b.row_keys[i] %} data-key="{{ b.row_keys[i] }}" id="{{ b.id }}:{{ b.row_keys[i] }}"{% endif %}>'
    '{% for cell in row %}<td class="{{ cell.cls }}" data-col="{{ b.columns[loop.index0].key }}" '
    'data-v="{{ cell.value }}">{% if cell.href %}<a href="{{ cell.href }}">{{ cell.text }}</a>{% else %}'
    '{{ cell.text }}{% endif %}</td>{% endfor %}</tr>\n{% endfor %}')


def test_table_rows_are_the_autoescaped_template_markup():
    """render.rows_html writes a table's rows as string building; every text and attribute must be
    escaped exactly as Jinja's autoescape did (quotes, ampersands, angle brackets, Markup kept)."""
    import random

    from markupsafe import Markup

    from dashboards.render import Cell, Col, Table, environment, rows_html

    rng = random.Random(3)
    alphabet = ["a", "&", "<", ">", '"', "'", " ", "\u00e9", "\u2013", "|", "\n", "&amp;"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))

    columns = [Col(text() or "k", "label") for _ in range(4)]
    rows = [[Cell(text(), text(), text(), rng.choice([None, text() or None, Markup("<b>&amp;</b>")])) for _ in columns]
            for _ in range(120)]
    b = Table(text() or "t", "title", columns, rows, "source", row_keys=[rng.choice(["", text()]) for _ in rows])
    expected = environment().from_string(ROWS_TEMPLATE).render(b=b, start=5, stop=110)
    assert str(rows_html(b, 5, 110)) == expected and expected.count("<tr") == 105 and "&#34;" in expected
