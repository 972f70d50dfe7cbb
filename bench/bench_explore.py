"""Benchmark of one explorer recomputation (``pvmon serve``; pv.explore.analysis).

Target (issue 13): at full FAERS scale (~25M reports) one recomputation answers in <= 3 s on
this 2-core machine. Measured on cases/ stores synthesised directly (vectorised numpy, the cases
contract's columns; ~4.2 drug rows and ~3.2 reactions per report, 2,000 ingredients with a
Zipf-like spread, 3,000 PTs) at TWO sizes in the same run (by default 1.25M and 2.5M reports,
5% and 10% of FAERS). The projection to full scale is extrapolated from the measured growth
between the two sizes: affine (fixed part + the measured cost per extra report), which for
work that grows at most linearly is the conservative choice; the log-log growth exponent is
printed beside it, and the bound if the whole of the worst time grew in proportion to the reports.

One recomputation = a new filter set (no cache hit) for a mid-frequency drug, as the app does it
on a filter change: the drug × every PT counted with the signal engine (event margins over the
filtered background, stratified expected counts, every measure, EBGM with a prior), the chosen
row, the case listing and the cumulative trend (the row at the end of every quarter of the
window). Filter sets: none; time window + sex; window + sex + seriousness + age band + country +
reporter; the indication background; an active comparator. Also timed: the server start (coding
the case tables once) and the first use of another suspect-roles setting (codes that roles'
tables: a server-start cost, once). Baseline in the same run: one polars filter + semi-join of
the background (the floor of any recomputation that re-reads the reports); the ratio printed is
the worst recomputation over it. Each time is the fastest of --repeats runs from empty caches
(the machine is shared; every run is printed).

    .venv/bin/python bench/bench_explore.py [--reports 1250000 2500000] [--quarters 40]
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


def recomputations(ex: Explorer, drug: str, repeats: int) -> list[tuple[Filters, float, str]]:
    """Each filter set as the app runs it, from empty caches: the fastest of ``repeats`` runs (the
    machine is shared; the minimum is the least disturbed)."""
    quarters = ex.choices("quarter")
    out = []
    for f in [Filters(), Filters(first=quarters[4], sex=("F",)),
              Filters(first=quarters[8], last=quarters[-4], sex=("M",), serious=(True,), age_band=("45-64", "65-74"),
                      country=("US", "GB"), reporter=("MD", "HP")),
              Filters(background="indication", indication="spasticity"),
              Filters(background="comparator", comparator="drug0041")]:
        seconds = []
        for _ in range(repeats):
            ex.forget()
            t = time.perf_counter()
            table = ex.table(drug, "pt", f)
            event = table.sort("a", descending=True)["event"][0]
            row = ex.row(drug, event, "pt", f)
            n_listed = ex.listing(drug, event, "pt", f).height
            trend = ex.trend(drug, event, "pt", f)
            seconds.append(time.perf_counter() - t)
        out.append((f, min(seconds), f"{table.height} PTs, a = {row['a']} = {n_listed} listed, "
                                     f"{trend.height} trend points; runs {', '.join(f'{x:.2f}' for x in seconds)} s"))
    return out


def measure(n: int, n_quarters: int, repeats: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="bench-explore-"))
    try:
        home = Home.at(root)
        t = time.perf_counter()
        synthesise(home, n, n_quarters)
        print(f"\n{n:,} reports synthesised in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        ex = Explorer(home)
        ex.settings.prior = Prior(0.2, 0.1, 2.0, 4.0, 1 / 3)  # a typical two-gamma prior (no run here)
        load = time.perf_counter() - t
        drug = "drug0040"  # mid-frequency
        drugs = pl.read_parquet(home.cases / "drugs.parquet", columns=["caseid", "ingredient"])
        floors = []
        for _ in range(repeats):
            t = time.perf_counter()
            ex.universe.filter(pl.col("sex") == "F").join(
                drugs.filter(pl.col("ingredient") == drug).select(pl.col("caseid").alias("id")), on="id",
                how="semi").height
            floors.append(time.perf_counter() - t)
        floor = min(floors)
        times = []
        for f, seconds, what in recomputations(ex, drug, repeats):
            times.append(seconds)
            print(f"  recomputation ({f.label()}): {seconds:.2f} s; {what}")
        t = time.perf_counter()
        ex.table(drug, "pt", Filters(roles="any"))
        roles = time.perf_counter() - t
        print(f"  server start (coding the case tables): {load:.1f} s; first use of roles=any: {roles:.1f} s")
        print(f"  baseline (filter + semi-join of the background): {floor:.3f} s; "
              f"worst recomputation / baseline = {max(times) / floor:.2f}x")
        return {"n": n, "times": times, "worst": max(times), "load": load, "roles": roles}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def project(small: dict, large: dict, key: str) -> tuple[float, float]:
    """(affine projection to FULL_SCALE, log-log growth exponent) of a measured quantity."""
    (n1, t1), (n2, t2) = (small["n"], small[key]), (large["n"], large[key])
    slope = max(0.0, (t2 - t1) / (n2 - n1))
    exponent = np.log(t2 / t1) / np.log(n2 / n1) if t1 > 0 and t2 > 0 else float("nan")
    return t2 + slope * (FULL_SCALE - n2), exponent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reports", type=int, nargs=2, default=[1_250_000, 2_500_000])
    parser.add_argument("--quarters", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3, help="runs per recomputation (the fastest counts)")
    args = parser.parse_args()
    small, large = (measure(n, args.quarters, args.repeats) for n in sorted(args.reports))
    print()
    projected = []
    for i, (t1, t2) in enumerate(zip(small["times"], large["times"])):
        p, k = project({"n": small["n"], "t": t1}, {"n": large["n"], "t": t2}, "t")
        projected.append(p)
        print(f"recomputation {i}: {t1:.2f} s -> {t2:.2f} s (growth exponent {k:.2f}); projected {p:.2f} s")
    worst = max(projected)
    load, _ = project(small, large, "load")
    roles, _ = project(small, large, "roles")
    proportional = large["worst"] * FULL_SCALE / large["n"]
    print(f"worst recomputation {large['worst']:.2f} s at {large['n']:,} reports; worst projected to "
          f"{FULL_SCALE:,} reports (affine from the two sizes, per filter set): {worst:.2f} s against the "
          f"{TARGET_SECONDS:.0f} s target: {'met' if worst <= TARGET_SECONDS else 'NOT met'}; "
          f"bound if it all grew in proportion to the reports: {proportional:.2f} s")
    print(f"server start projected: {load:.0f} s; first use of another roles setting projected: {roles:.0f} s")


if __name__ == "__main__":
    main()
