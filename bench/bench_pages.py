"""Benchmark: page weight and load time of the published dashboards (issue 12, issue 16).

Builds (or reuses) a store, publishes it, then opens the overview and the target drug's page
from disk in headless Chromium (/usr/bin/chromium) and prints, per page, the HTML bytes, the
bytes of everything the page loads (plotly.min.js is one shared file, cached after the first
page), and DOMContentLoaded / load in ms (median of --repeat fresh loads). The case listings
are measured too: the viewer page plus its largest data file, loaded on demand.

    .venv/bin/python bench/bench_pages.py [--work DIR] [--quarters 2023Q1..2024Q4] [--reports 4000]
    # demo scale is the default (pvmon demo: 2023Q1..2024Q4 x 4000 reports)
    # ~10% of FAERS: --quarters 2004Q1..2025Q3 --reports 29000 (reuses bench_detection's --work store
    # when given the same DIR: it runs cases/signals/mechanism/report/publish on what is there)

Target (issue 16): every page <= 2 MB at full scale (plotly.min.js, shared by all pages, is
reported separately).
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
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        with open("/proc/loadavg") as f:
            print("load average " + " ".join(f.read().split()[:3]) + " (2 cores; timings scale with it)")
        print(f"{'page':44s} {'html bytes':>11s} {'loaded bytes':>13s} {'DCL ms':>8s} {'load ms':>8s}")
        for name in pages:
            dcl, load, loaded = [], [], 0
            for _ in range(repeat):
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                sizes: list[int] = []
                page.on("requestfinished", lambda r: sizes.append(r.sizes()["responseBodySize"]))
                page.goto((site / name.split("#")[0]).as_uri() + ("#" + name.split("#")[1] if "#" in name else ""),
                          timeout=300_000)
                page.wait_for_load_state("load")
                page.wait_for_timeout(300)
                t = page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0];"
                                  " return [n.domContentLoadedEventEnd, n.loadEventEnd]; }")
                dcl.append(t[0])
                load.append(t[1])
                loaded = sum(sizes)
                page.close()
            html = (site / name.split("#")[0]).stat().st_size
            print(f"{name:44s} {html:>11,} {loaded:>13,} {statistics.median(dcl):>8.0f} {statistics.median(load):>8.0f}"
                  + ("  OVER 2 MB" if html > LIMIT else ""))
        browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--quarters", default=pipeline.DEMO_QUARTERS)
    ap.add_argument("--reports", type=int, default=pipeline.DEMO_REPORTS_PER_QUARTER)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--measure-only", action="store_true", help="measure the site already in --work/pvdata/site")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_pages_"))
    home = Home.at(work / "pvdata") if args.measure_only else build(work, args.quarters, args.reports)
    site = home.site
    record = json.loads((site / "site.json").read_text())
    html = sorted(site.glob("*.html"), key=lambda p: p.stat().st_size)
    data = sorted((site / "cases").glob("*.js"), key=lambda p: p.stat().st_size)
    print(f"{len(html)} pages, largest {html[-1].name} {html[-1].stat().st_size:,} bytes; plotly.min.js "
          f"{(site / 'plotly.min.js').stat().st_size:,} bytes (shared); {record['case_lists']} case listings, "
          f"data files total {sum(p.stat().st_size for p in data):,} bytes, largest {data[-1].stat().st_size:,}")
    largest = f"listing.html#{data[-1].stem}" if data else "listing.html"
    targets = [p["drug"] if isinstance(p, dict) else p for p in record.get("pages", [])]
    drug_page = next((p for p in targets if p.startswith("drug-")), "drug-baclofen.html")
    measure(site, ["index.html", drug_page, largest], args.repeat)


if __name__ == "__main__":
    main()
