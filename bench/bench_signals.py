"""Benchmark: pvmon's signal engine vs vigipy 3.5.1 on the same 1.1M-pair count table.

One synthetic drug × event × count table (~3,000 drugs, ~8,000 events, long-tailed
margins, a few hundred planted associations, ~1.1M non-zero pairs) is fed to
- pvmon: pair counts -> GPS prior fit (all cells, zeros squashed) -> PRR/ROR/χ²/IC/EBGM,
  EB05, EB95 and the threshold flags for every cell;
- vigipy: ``vigipy.convert(...)`` + ``vigipy.gps(container)`` with its own prior fit
  (min_events=1 so it scores every cell too).
Prints both times and the ratio (targets: pvmon <= 5 s, >= 15x faster than vigipy).

    .venv/bin/python bench/bench_signals.py [--pairs 1100000] [--skip-vigipy]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import polars as pl

from pv.signals import counts
from pv.signals.prior import PriorSettings
from pv.signals.table import compute


def synthetic_counts(n_drugs=3000, n_events=8000, target_pairs=1_100_000, seed=7) -> pl.DataFrame:
    """n_ij ~ Poisson(λ_ij·E_ij) over the full grid: long-tailed (log-normal) drug and event
    frequencies give E_ij; λ_ij comes from a two-gamma mixture (most pairs near 1, a few
    per cent strongly elevated), as the GPS model assumes. The total is tuned so that
    about ``target_pairs`` cells are non-zero."""
    rng = np.random.default_rng(seed)
    drug_p = rng.lognormal(0.0, 1.8, n_drugs)
    event_p = rng.lognormal(0.0, 1.8, n_events)
    drug_p, event_p = drug_p / drug_p.sum(), event_p / event_p.sum()

    def draw(total, rng):
        keys, values = [], []
        for start in range(0, n_drugs, 250):
            e = total * np.outer(drug_p[start:start + 250], event_p)
            signal = rng.random(e.shape) < 0.03
            lam = np.where(signal, rng.gamma(1.0, 4.0, e.shape), rng.gamma(4.0, 0.25, e.shape))
            n = rng.poisson(lam * e)
            hit = np.nonzero(n.ravel())[0]
            keys.append(hit + start * n_events)
            values.append(n.ravel()[hit])
        return np.concatenate(keys), np.concatenate(values)

    total = 2.0 * target_pairs
    for _ in range(8):  # secant-free tuning: the non-zero count grows smoothly with the total
        keys, values = draw(total, np.random.default_rng(seed))
        if abs(keys.size / target_pairs - 1) < 0.01:
            break
        total *= (target_pairs / keys.size) ** 1.6
    return pl.DataFrame({
        "drug": pl.Series(keys // n_events).cast(pl.Utf8).str.replace(r"^", "D"),
        "event": pl.Series(keys % n_events).cast(pl.Utf8).str.replace(r"^", "E"),
        "count": values.astype(np.int64),
    })


def run_pvmon(table: pl.DataFrame):
    started, cpu = time.perf_counter(), time.process_time()
    counted = counts.pair_counts(table.lazy(), "drug", "event", "count")
    t_count = time.perf_counter()
    frame, report = compute(counted, PriorSettings(fit="all-cells"))
    return time.perf_counter() - started, time.process_time() - cpu, t_count - started, frame, report


def run_vigipy(table: pl.DataFrame):
    import vigipy

    df = table.to_pandas()
    started, cpu = time.perf_counter(), time.process_time()
    container = vigipy.convert(df, product_label="drug", ae_label="event", count_label="count")
    result = vigipy.gps(container, min_events=1)
    return time.perf_counter() - started, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1_100_000)
    parser.add_argument("--skip-vigipy", action="store_true")
    args = parser.parse_args()
    table = synthetic_counts(target_pairs=args.pairs)
    print(f"table: {table.height:,} pairs, {table['drug'].n_unique():,} drugs, "
          f"{table['event'].n_unique():,} events, {int(table['count'].sum()):,} reports (pair counts)")
    print(f"machine load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(wall times stretch when other jobs share the cores; CPU times do not)")
    seconds, cpu, count_s, frame, report = run_pvmon(table)
    print(f"pvmon : {seconds:7.2f} s wall, {cpu:7.2f} s CPU  (counting {count_s:.2f} s; prior: {report.message}, "
          f"-lnL {report.neg_loglik:.4f}, {report.bins:,} cells+zero bins; "
          f"EB05 >= 2: {int(frame['flag_eb05'].sum()):,} cells)")
    if args.skip_vigipy:
        return
    v_seconds, v_cpu, result = run_vigipy(table)
    print(f"vigipy: {v_seconds:7.2f} s wall, {v_cpu:7.2f} s CPU  (convert + gps with its prior fit, min_events=1)")
    print(f"ratio : vigipy / pvmon = {v_seconds / seconds:.1f}x wall, {v_cpu / cpu:.1f}x CPU")


if __name__ == "__main__":
    main()
