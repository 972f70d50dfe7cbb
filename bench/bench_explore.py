"""Benchmark of one explorer recomputation (``pvmon serve``; pv.explore.analysis).

Target (issue 13): at full FAERS scale (~25M reports) one recomputation answers in <= 3 s on
this 2-core machine. Measured here at 10% scale (2.5M reports by default) on a cases/ store
synthesised directly (vectorised numpy, the cases contract's columns; ~4.2 drug rows and
~3.2 reactions per report, 2,000 ingredients with a Zipf-like spread, 3,000 PTs), and
projected linearly to full scale (counting is linear in the rows read).

One recomputation = a new filter set (not cached) for a mid-frequency drug: the background
restricted (quarter window, sex, seriousness), the drug × every PT counted with the signal
engine (report_counts + signal_table, stratified expected counts, EBGM with a prior), the
row, and the case listing. Baseline in the same run: one polars filter + semi-join of the
background (the floor any recomputation pays); the script prints the ratio to it.

    .venv/bin/python bench/bench_explore.py [--reports 2500000] [--quarters 40]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pv.config import Home  # noqa: E402
from pv.explore.analysis import Explorer, Filters  # noqa: E402
from pv.signals.gps import Prior  # noqa: E402

TARGET_SECONDS = 3.0
FULL_SCALE = 25_000_000


def synthesise(home: Home, n: int, n_quarters: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    quarters = [f"{2004 + q // 4}Q{q % 4 + 1}" for q in range(n_quarters)]
    caseid = np.arange(1, n + 1, dtype=np.int64)
    q = np.sort(rng.integers(0, n_quarters, n))
    cases = pl.DataFrame({
        "caseid": caseid, "primaryid": caseid * 10 + 1, "caseversion": np.ones(n, np.int64),
        "quarter": pl.Series(np.array(quarters)[q]), "dup_flag": rng.random(n) < 0.02,
        "sex": pl.Series(np.array(["F", "M", "-"])[rng.choice(3, n, p=[0.55, 0.38, 0.07])]).replace("-", None),
        "age_band": pl.Series(np.array(["<2", "2-11", "12-17", "18-44", "45-64", "65-74", ">=75", "unknown"])
                              [rng.integers(0, 8, n)]),
        "report_year": (2004 + q // 4).astype(np.int64),
        "country": pl.Series(np.array(["US", "GB", "FR", "DE", "JP", "CA"])[rng.choice(6, n, p=[.6, .1, .08, .08, .07, .07])]),
        "reporter": pl.Series(np.array(["MD", "PH", "HP", "CN", "LW"])[rng.integers(0, 5, n)]),
        "serious": rng.random(n) < 0.6,
    })
    k = rng.poisson(3.2, n) + 1
    ids = np.repeat(caseid, k)
    drug = (rng.zipf(1.3, len(ids)) - 1) % 2000
    drugs = pl.DataFrame({
        "caseid": ids, "primaryid": ids * 10 + 1, "drug_seq": np.ones(len(ids), np.int64),
        "role_cod": pl.Series(np.array(["PS", "SS", "C", "I"])[rng.choice(4, len(ids), p=[.3, .2, .45, .05])]),
        "ingredient": pl.Series([f"drug{i:04d}" for i in range(2000)]).gather(drug),
        "route_class": pl.Series(np.array(["oral", "iv", "intrathecal"])[rng.integers(0, 3, len(ids))]),
        "indication_class": pl.Series(np.array(["spasticity", "aud", "other", "unknown"])[rng.integers(0, 4, len(ids))]),
        "dose_band": pl.Series(np.array(["<=30", "30-80", ">150"])[rng.integers(0, 3, len(ids))]),
    })
    k = rng.poisson(2.2, n) + 1
    ids = np.repeat(caseid, k)
    pt = (rng.zipf(1.2, len(ids)) - 1) % 3000
    reactions = pl.DataFrame({"caseid": ids, "primaryid": ids * 10 + 1,
                              "pt": pl.Series([f"Pt {i:04d}" for i in range(3000)]).gather(pt)})
    home.cases.mkdir(parents=True, exist_ok=True)
    cases.write_parquet(home.cases / "cases.parquet")
    drugs.write_parquet(home.cases / "drugs.parquet")
    reactions.write_parquet(home.cases / "reactions.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, default=2_500_000)
    parser.add_argument("--quarters", type=int, default=40)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-explore-"))
    try:
        home = Home.at(root)
        t = time.perf_counter()
        synthesise(home, args.reports, args.quarters)
        print(f"synthesised {args.reports:,} reports in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        ex = Explorer(home)
        ex.settings.prior = Prior(0.2, 0.1, 2.0, 4.0, 1 / 3)  # a typical two-gamma prior (no run here)
        load = time.perf_counter() - t
        drug = "drug0040"  # mid-frequency
        quarters = ex.choices("quarter")
        t = time.perf_counter()
        ex.universe.filter(pl.col("sex") == "F").join(
            ex.inputs.drugs.filter(pl.col("drug") == drug).select("id"), on="id", how="semi").height
        floor = time.perf_counter() - t
        times = []
        for i, f in enumerate([Filters(), Filters(first=quarters[4], sex=("F",)),
                               Filters(first=quarters[8], last=quarters[-4], sex=("M",), serious=(True,)),
                               Filters(background="indication", indication="spasticity"),
                               Filters(background="comparator", comparator="drug0041")]):
            t = time.perf_counter()
            table = ex.table(drug, "pt", f)
            event = table.sort("a", descending=True)["event"][0]
            ex.row(drug, event, "pt", f)
            n_listed = ex.listing(drug, event, "pt", f).height
            times.append(time.perf_counter() - t)
            print(f"recomputation {i} ({f.label()}): {times[-1]:.2f} s, {table.height} PTs, a = {n_listed}")
        worst = max(times)
        scale = FULL_SCALE / args.reports
        print(f"load (once per server start): {load:.1f} s")
        print(f"baseline (filter + semi-join of the background): {floor:.3f} s; "
              f"worst recomputation / baseline = {worst / floor:.1f}x")
        print(f"worst recomputation {worst:.2f} s at {args.reports:,} reports; projected to full scale "
              f"(x{scale:.0f}, linear): {worst * scale:.1f} s against the {TARGET_SECONDS:.0f} s target")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
