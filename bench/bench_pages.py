"""Benchmark: page weight and load time of the published dashboards (issue 12, issue 16).

Builds (or reuses) a store, publishes it, then opens the overview, the target drug's page, the
largest page, mechanism, quality and the largest case listing from disk in headless Chromium
(/usr/bin/chromium) and prints, per page, the HTML bytes, its weight (the HTML plus every file it
loads when opened, except plotly.min.js: one shared file the browser caches after the first page),
and DOMContentLoaded / load / listing drawn in ms (median of --repeat fresh loads); and the site's
file count, size and largest files.

    .venv/bin/python bench/bench_pages.py [--work DIR] [--quarters 2023Q1..2024Q4] [--reports 4000]
    # demo scale is the default (pvmon demo: 2023Q1..2024Q4 x 4000 reports)
    # ~10% of FAERS: --quarters 2004Q1..2025Q3 --reports 29000 (reuses bench_detection's --work store
    # when given the same DIR: it runs cases/signals/mechanism/report/publish on what is there)

    .venv/bin/python bench/bench_pages.py --site /path/to/pvdata/site   # an already published site

Target (issue 16): every page <= 2 MB and <= 2 s at full scale (plotly.min.js, shared by all pages,
is reported separately).

Measured 2026-12-06 with --site on main's site (b1b6127) and on this version's (670bc5e), load
average 13-28 on 2 cores (the load times are that machine's, not a quiet one's):
  scale 1.0: files over 2 MB 228 -> 0 (14,000 files, 2.17 GB); the largest listing (cases
  292cdb389b6a7663, 51.4 MB) 51,418,487 -> 362,226 bytes loaded, drawn in 5,155 -> 833 ms;
  largest page drug-baclofen.html 902,764 bytes; tables/*.js pieces <= 929,262 bytes.
  scale 0.1: largest listing 5,127,254 -> 309,730 bytes loaded; files over 2 MB 25 -> 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pv import pipeline  # noqa: E402
from pv.config import Home  # noqa: E402

LIMIT = 2_000_000
PLOTLY = "plotly.min.js"


def build(work: Path, quarters: str, reports: int) -> Home:
    home = Home.at(work / "pvdata")
    t = time.perf_counter()
    if not (home.root / "pvmon.sqlite").is_file():
        sim = pipeline.simulate_stage(home, quarters, reports, seed=1)
        pipeline.ingest_stage(home, [sim])
    if not (home.cases / "cases.parquet").exists():
        pipeline.cases_stage(home)
    run = pipeline.signals_stage(home)
    pipeline.mechanism_stage(home, run)
    pipeline.report_stage(home, run)
    t_pub = time.perf_counter()
    pipeline.publish_stage(home)
    print(f"store built in {t_pub - t:.1f} s; publish {time.perf_counter() - t_pub:.1f} s")
    return home


def measure(site: Path, pages: list[str], repeat: int) -> None:
    """Per page: HTML bytes, bytes of everything it loads at opening except the shared plotly.min.js
    (fetched once, then cached by the browser for every page), DOMContentLoaded / load, and for a
    listing the time its first page of cases is drawn (ms, median of ``repeat`` fresh loads)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        with open("/proc/loadavg") as f:
            print("load average " + " ".join(f.read().split()[:3]) + " (2 cores; timings scale with it)")
        print(f"{'page':44s} {'html bytes':>11s} {'weight bytes':>13s} {'DCL ms':>8s} {'load ms':>8s} {'ready ms':>9s}")
        for name in pages:
            dcl, load, ready, loaded = [], [], [], 0
            for _ in range(repeat):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                sizes: list[int] = []
                page.on("requestfinished", lambda r: sizes.append(0 if r.url.endswith(PLOTLY) else r.sizes()["responseBodySize"]))
                page.goto((site / name.split("#")[0]).as_uri() + ("#" + name.split("#")[1] if "#" in name else ""),
                          timeout=300_000)
                page.wait_for_load_state("load")
                if name.startswith("listing.html#"):
                    page.wait_for_selector("#listing[data-ready]", timeout=300_000)
                    ready.append(page.evaluate("() => performance.now()"))
                page.wait_for_timeout(300)
                t = page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0];"
                                  " return [n.domContentLoadedEventEnd, n.loadEventEnd]; }")
                dcl.append(t[0])
                load.append(t[1])
                loaded = sum(sizes)
                page.close()
            html = (site / name.split("#")[0]).stat().st_size
            print(f"{name:44s} {html:>11,} {loaded:>13,} {statistics.median(dcl):>8.0f} {statistics.median(load):>8.0f}"
                  f" {statistics.median(ready) if ready else float('nan'):>9.0f}"
                  + ("  OVER 2 MB" if loaded > LIMIT else ""))
        browser.close()


def site_summary(site: Path) -> None:
    """Files, total size and the largest files of the site (plotly.min.js, the shared library, apart)."""
    files = [p for p in site.rglob("*") if p.is_file() and not any(x.startswith(".") for x in p.parts)]
    total = sum(p.stat().st_size for p in files)
    print(f"site: {len(files):,} files, {total:,} bytes; plotly.min.js {(site / PLOTLY).stat().st_size:,} bytes (shared)")
    for p in sorted((p for p in files if p.name != PLOTLY), key=lambda p: p.stat().st_size)[-5:][::-1]:
        print(f"  {p.relative_to(site)!s:50s} {p.stat().st_size:>13,}")
    over = [p for p in files if p.name != PLOTLY and p.stat().st_size > LIMIT and "reports" not in p.relative_to(site).parts]
    print(f"files over 2 MB (besides plotly.min.js and reports/): {len(over)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--quarters", default=pipeline.DEMO_QUARTERS)
    ap.add_argument("--reports", type=int, default=pipeline.DEMO_REPORTS_PER_QUARTER)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--measure-only", action="store_true", help="measure the site already in --work/pvdata/site")
    ap.add_argument("--site", type=Path, default=None, help="measure this published site folder (no build)")
    args = ap.parse_args()
    if args.site is not None:
        site = args.site
    else:
        work = args.work or Path(tempfile.mkdtemp(prefix="bench_pages_"))
        site = (Home.at(work / "pvdata") if args.measure_only else build(work, args.quarters, args.reports)).site
    record = json.loads((site / "site.json").read_text())
    site_summary(site)
    html = sorted(site.glob("*.html"), key=lambda p: p.stat().st_size)
    listings: dict[str, int] = {}
    for p in (site / "cases").glob("*.js"):
        listings[p.stem.split("-")[0]] = listings.get(p.stem.split("-")[0], 0) + p.stat().st_size
    largest = max(listings, key=listings.get) if listings else ""
    print(f"{len(html)} pages, largest {html[-1].name} {html[-1].stat().st_size:,} bytes; {record['case_lists']} case "
          f"listings, largest {largest} {listings.get(largest, 0):,} bytes in "
          f"{sum(1 for _ in (site / 'cases').glob(f'{largest}*.js'))} files")
    pages = ["index.html", html[-1].name, *(p for p in ("drug-baclofen.html",) if p != html[-1].name and (site / p).exists()),
             "mechanism.html", "quality.html", f"listing.html#{largest}"]
    measure(site, pages, args.repeat)


if __name__ == "__main__":
    main()
