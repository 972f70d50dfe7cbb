"""Benchmark ``pvmon simulate`` on one 2025-sized quarter (issue 2, item 5).

Target: ~400k reports (~2M DRUG, ~1.4M REAC rows) in <= 60 s with peak RSS <= 4 GB on the
2-core project machine. Prints wall time, table rows per second, peak RSS of this process
and its children, and the ratio to the target (the baseline of this script).

    python bench/bench_simulate.py [--reports 400000] [--quarters 2025Q1] [--jobs 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pv.faers.simulate import simulate  # noqa: E402

TARGET_SECONDS = 60.0
TARGET_RSS_GB = 4.0


def peak_rss_gb() -> float:
    """Peak resident set (ru_maxrss is KiB on Linux) of self and of the largest child."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024**2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reports", default="400000", help="reports per quarter, or 'real'")
    ap.add_argument("--quarters", default="2025Q1")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    per = None if args.reports == "real" else int(args.reports)
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        out = args.out or Path(tmp)
        t0 = time.perf_counter()
        summary = simulate(out, args.quarters, per, seed=1, jobs=args.jobs)
        wall = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in Path(out).glob("*.zip"))
    n_q = len(summary["zips"])
    rss = peak_rss_gb()
    print(f"quarters            {n_q} ({args.quarters}), reports asked {summary['target_reports']:,}")
    print(f"DEMO reports read   {summary['funnel']['reports_read']:,}")
    print(f"table rows written  {summary['rows']:,}  (zips {size / 1e6:,.0f} MB)")
    print(f"wall time           {wall:,.1f} s  ({wall / n_q:,.1f} s per quarter)")
    print(f"rows per second     {summary['rows'] / wall:,.0f}")
    print(f"peak RSS            {rss:,.2f} GB (self or largest child)")
    print(f"vs target           time {wall / n_q / TARGET_SECONDS:.2f}x of {TARGET_SECONDS:.0f} s per quarter, "
          f"memory {rss / TARGET_RSS_GB:.2f}x of {TARGET_RSS_GB:.0f} GB")


if __name__ == "__main__":
    main()
