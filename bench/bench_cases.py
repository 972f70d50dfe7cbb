"""Benchmark of ``pvmon cases``: wall time and peak RSS on >= 2.5M simulated reports.

Targets (issue 4): 10% of FAERS (2.5M reports) in <= 60 s and <= 4 GB peak RSS.

Input, fastest first:
- default: staged lake files synthesised directly here (vectorised numpy, contract layout:
  every current column Utf8, quarter/era/source_file/source_line), with versions across
  quarters, deleted caseids and realistic child-table fan-out (DRUG ~4.2, REAC ~3.2,
  INDI ~2.6, THER ~1.1, OUTC ~0.75 rows per report, FAERS 2020s proportions);
- ``--from-sim``: ``pvmon simulate`` + ``pvmon ingest`` (the real pipeline, slower to prepare).

The build runs in a child process so its peak RSS is measured alone. Baseline in the same
script: reading every staged file into memory, one table at a time (the I/O floor);
the ratio build/scan says how much the dedup, joins and derivations cost on top of reading.

    .venv/bin/python bench/bench_cases.py [--quarters 8] [--per-quarter 320000] [--from-sim]
    .venv/bin/python bench/bench_cases.py --history-only --quarters 80 --per-quarter 312500   # 25M
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pv.faers.layouts import CURRENT  # noqa: E402

TARGET_SECONDS = 60.0
TARGET_GB = 4.0
FAN_OUT = {"drug": 4.2, "reac": 3.2, "indi": 2.6, "ther": 1.1, "outc": 0.75}

DRUGS = np.array(
    ["BACLOFEN", "BACLOFEN 10MG TABLETS", "LIORESAL", "Lioresal Intrathecal", "GABLOFEN", "OZOBAX DS",
     "ASPIRIN", "LIPITOR", "ATORVASTATIN CALCIUM.", "METFORMIN", "HUMIRA", "NALTREXONE", "ACAMPROSATE",
     "GABAPENTIN", "NEURONTIN", "LYRICA", "TIZANIDINE", "KLONOPIN", "XYREM", "TOPAMAX"]
    + [f"DRUG{i:05d}" for i in range(6000)]
)
PROD_AI = np.array(["BACLOFEN", "ATORVASTATIN CALCIUM", "METFORMIN HYDROCHLORIDE", "ADALIMUMAB", "", "", ""])
PTS = np.array(
    ["Somnolence", "SOMNOLENCE", "Convulsion", "Seizure", "Underdose", "Drug dose omission", "Coma",
     "Nausea", "Headache", "Drug ineffective", "Fatigue", "Overdose", "Drug withdrawal syndrome"]
    + [f"Reaction term {i}" for i in range(4000)] + [f"REACTION TERM {i}" for i in range(1000)]
)
INDI = np.array(["Muscle spasticity", "Alcoholism", "Multiple sclerosis", "Product used for unknown indication",
                 "Hypertension", "Pain", "Type 2 diabetes mellitus", "ALCOHOL ABUSE"] + [f"Indication {i}" for i in range(500)])
DOSE_VBM = np.array(["10 MG, TID", "20MG 3X/DAY", "UNK", "", "25 MG, 1X/DAY", "500 MCG/DAY", "100 MG, 2X/DAY",
                     "5 MG PRN", "20 milligram", "50 MG Q6H"])
ROUTES = np.array(["ORAL", "Oral", "INTRATHECAL", "Intrathecal", "", "UNKNOWN", "Subcutaneous", "TOPICAL"])
UNITS = np.array(["MG", "MG", "UG", "G", ""])
FREQ = np.array(["QD", "BID", "TID", "", "PRN", "/WK", "Q6H"])
OUTC = np.array(["DE", "HO", "OT", "LT", "DS", "RI", "CA"])
COUNTRY = np.array(["US", "FR", "GB", "JP", "DE", "EU", "CA", "COUNTRY NOT SPECIFIED", ""])
AGE_COD = np.array(["YR", "YR", "YR", "DEC", "MON", "", "DY"])


def _strings(values: np.ndarray) -> pl.Series:
    s = pl.Series("v", values.astype(str))
    return pl.select(pl.when(s == "").then(None).otherwise(s)).to_series()


def _write(home: Path, table: str, quarter: str, data: dict[str, object], n: int) -> None:
    cols = list(CURRENT[table.upper()]) if table != "deleted" else ["caseid"]
    frame = pl.DataFrame({c: data.get(c, pl.repeat(None, n, dtype=pl.Utf8, eager=True)) for c in cols})
    frame = frame.with_columns(
        pl.all().cast(pl.Utf8),
        pl.lit(quarter).alias("quarter"),
        pl.lit("faers").alias("era"),
        pl.lit(f"faers_ascii_{quarter}.zip!ASCII/{table.upper()}.txt").alias("source_file"),
        pl.int_range(2, n + 2, dtype=pl.Int64).alias("source_line"),
    )
    if table == "deleted":
        frame = frame.drop("era")
    out = home / "staged" / table / f"quarter={quarter}" / "part-0.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(out)


def synthesise(home: Path, quarters: int, per_quarter: int, seed: int = 1, children: bool = True) -> int:
    """Write staged files; returns the number of DEMO rows (reports)."""
    rng = np.random.default_rng(seed)
    next_case = 10_000_000
    previous = np.array([], dtype=np.int64)
    total = 0
    for k in range(quarters):
        year, q = 2021 + k // 4, k % 4 + 1
        quarter = f"{year}Q{q}"
        n_follow = min(len(previous), per_quarter // 10)  # 10% are follow-ups of earlier cases
        follow = rng.choice(previous, n_follow, replace=False) if n_follow else np.array([], dtype=np.int64)
        new = np.arange(next_case, next_case + per_quarter - n_follow, dtype=np.int64)
        next_case += len(new)
        caseid = np.concatenate([new, follow])
        version = np.concatenate([np.ones(len(new), dtype=np.int64), rng.integers(2, 12, n_follow)])
        n = len(caseid)
        primaryid = caseid * 100 + version
        pid = _strings(primaryid)
        ev = rng.integers(0, 3, n)
        event_dt = np.where(ev == 0, "", np.char.add(str(year), np.char.zfill(rng.integers(101, 1229, n).astype(str), 4)))
        demo = {
            "primaryid": pid, "caseid": _strings(caseid), "caseversion": _strings(version),
            "i_f_code": _strings(np.where(version > 1, "F", "I")), "event_dt": _strings(event_dt),
            "init_fda_dt": _strings(np.full(n, f"{year}0101")), "fda_dt": _strings(np.full(n, f"{year}0{q * 3 - 2}15")),
            "rept_cod": _strings(rng.choice(np.array(["EXP", "PER", "DIR"]), n)),
            "age": _strings(rng.integers(1, 95, n)), "age_cod": _strings(rng.choice(AGE_COD, n)),
            "sex": _strings(rng.choice(np.array(["M", "F", "UNK", ""]), n)),
            "occp_cod": _strings(rng.choice(np.array(["MD", "HP", "CN", "PH", "LW"]), n)),
            "reporter_country": _strings(rng.choice(COUNTRY, n)), "occr_country": _strings(rng.choice(COUNTRY, n)),
        }
        _write(home, "demo", quarter, demo, n)
        for table, fan in (FAN_OUT if children else {}).items():
            per = rng.poisson(fan, n)
            rows = int(per.sum())
            owner = np.repeat(np.arange(n), per)
            seq = (np.arange(rows) - np.repeat(np.cumsum(per) - per, per) + 1).astype(str)
            data: dict[str, object] = {"primaryid": pid.gather(owner), "caseid": _strings(caseid[owner])}
            if table == "drug":
                data |= {
                    "drug_seq": _strings(seq), "role_cod": _strings(rng.choice(np.array(["PS", "SS", "C", "C", "I"]), rows)),
                    "drugname": _strings(rng.choice(DRUGS, rows)), "prod_ai": _strings(rng.choice(PROD_AI, rows)),
                    "route": _strings(rng.choice(ROUTES, rows)), "dose_vbm": _strings(rng.choice(DOSE_VBM, rows)),
                    "dose_amt": _strings(np.where(rng.random(rows) < 0.5, rng.integers(1, 400, rows).astype(str), "")),
                    "dose_unit": _strings(rng.choice(UNITS, rows)), "dose_freq": _strings(rng.choice(FREQ, rows)),
                }
            elif table == "reac":
                data |= {"pt": _strings(rng.choice(PTS, rows))}
            elif table == "indi":
                data |= {"indi_drug_seq": _strings(seq), "indi_pt": _strings(rng.choice(INDI, rows))}
            elif table == "ther":
                data |= {"dsg_drug_seq": _strings(seq), "start_dt": _strings(np.full(rows, f"{year - 1}0601"))}
            elif table == "outc":
                data |= {"outc_cod": _strings(rng.choice(OUTC, rows))}
            _write(home, table, quarter, data, rows)
        deleted = rng.choice(caseid, max(1, n // 100), replace=False)
        _write(home, "deleted", quarter, {"caseid": _strings(deleted)}, len(deleted))
        previous = np.concatenate([previous, new])
        total += n
        print(f"  synthesised {quarter}: {n:,} reports", flush=True)
    return total


def from_sim(home: Path, quarters: int, per_quarter: int) -> int:
    sim = home.parent / "sim"
    last = 2013 + (quarters - 1) // 4, (quarters - 1) % 4 + 1
    subprocess.run([sys.executable, "-m", "pv.cli", "simulate", "--out", str(sim), "--quarters",
                    f"2013Q1..{last[0]}Q{last[1]}", "--reports-per-quarter", str(per_quarter)], check=True)
    subprocess.run([sys.executable, "-m", "pv.cli", "ingest", "--home", str(home), str(sim)], check=True)
    return pl.scan_parquet(str(home / "staged" / "demo" / "**" / "*.parquet")).select(pl.len()).collect().item()


CHILD = """
import resource, sys, time
from pv.cases.build import build_cases
from pv.config import Home
t = time.perf_counter()
build_cases(Home.at(sys.argv[1]))
u = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - t, u.ru_utime + u.ru_stime, u.ru_maxrss)
"""

SCAN = """
import glob, resource, sys, time, polars as pl
t = time.perf_counter()
n = 0
for x in ("demo", "drug", "reac", "outc", "ther", "indi", "deleted"):
    files = sorted(glob.glob(sys.argv[1] + f"/staged/{x}/*/*.parquet"))
    if files:
        n += pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore").collect().height
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, n)
"""


HISTORY = """
import resource, sys, time
from pv.cases.build import surviving_keys
from pv.cases.duplicates import candidates
from pv.config import Home
t = time.perf_counter()
read, latest, survivors = surviving_keys(Home.at(sys.argv[1]))
candidates(survivors)
u = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - t, u.ru_utime + u.ru_stime, u.ru_maxrss, survivors.height)
"""


def history_only(args) -> None:
    """The part of ``pvmon cases`` that spans the whole history (DEMO keys, dedup, duplicate
    candidates), at full FAERS scale: DEMO-only staged files, no child tables."""
    home = args.work / "history"
    if not (args.reuse and (home / "staged" / "demo").is_dir()):
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        synthesise(home, args.quarters, args.per_quarter, children=False)
    out = subprocess.run([sys.executable, "-c", HISTORY, str(home)], capture_output=True, text=True, check=True)
    wall, cpu, kb, n = (float(x) for x in out.stdout.split()[-4:])
    print(f"history part on {args.quarters * args.per_quarter:,} DEMO rows ({int(n):,} surviving): "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {kb / 1024 ** 2:.2f} GB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quarters", type=int, default=8)
    ap.add_argument("--per-quarter", type=int, default=320_000)
    ap.add_argument("--from-sim", action="store_true")
    ap.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "cases")
    ap.add_argument("--reuse", action="store_true", help="Reuse the staged input of the previous run.")
    ap.add_argument("--history-only", action="store_true",
                    help="Only the whole-history part (dedup keys), e.g. --quarters 80 --per-quarter 312500 = 25M.")
    args = ap.parse_args()
    if args.history_only:
        return history_only(args)
    home = args.work / "home"
    if args.reuse and (home / "staged" / "demo").is_dir():
        reports = pl.scan_parquet(str(home / "staged" / "demo" / "**" / "*.parquet")).select(pl.len()).collect().item()
        print(f"input: {reports:,} reports (reused)")
    else:
        shutil.rmtree(args.work, ignore_errors=True)
        home.mkdir(parents=True)
        t = time.perf_counter()
        reports = (from_sim if args.from_sim else synthesise)(home, args.quarters, args.per_quarter)
        print(f"input: {reports:,} reports in {args.quarters} quarters, prepared in {time.perf_counter() - t:.1f} s")

    out = subprocess.run([sys.executable, "-c", SCAN, str(home)], capture_output=True, text=True, check=True)
    scan_s, scan_kb, rows = out.stdout.split()
    load_before = os.getloadavg()[0]
    out = subprocess.run([sys.executable, "-c", CHILD, str(home)], capture_output=True, text=True, check=True)
    build_s, cpu_s, build_kb = (float(x) for x in out.stdout.split()[-3:])
    load_after = os.getloadavg()[0]
    gb = build_kb / 1024 ** 2
    cases = pl.scan_parquet(home / "cases" / "cases.parquet").select(pl.len()).collect().item()
    drugs = pl.scan_parquet(home / "cases" / "drugs.parquet").select(pl.len()).collect().item()
    print(f"baseline scan of {int(rows):,} staged rows: {float(scan_s):.2f} s, peak RSS {int(scan_kb) / 1024 ** 2:.2f} GB")
    print(f"pvmon cases: {build_s:.1f} s wall, {cpu_s:.1f} s CPU, peak RSS {gb:.2f} GB -> {cases:,} cases, "
          f"{drugs:,} case-drugs")
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores, load average {load_before:.1f} before / {load_after:.1f} after "
          f"(a shared machine inflates wall time; CPU/{cores} = {cpu_s / cores:.1f} s is the idle-machine floor)")
    print(f"ratios: build/scan time {build_s / float(scan_s):.1f}x; "
          f"time vs target {build_s / TARGET_SECONDS:.2f} (<= 1 ok); RSS vs target {gb / TARGET_GB:.2f} (<= 1 ok)")
    # What grows with the history: the DEMO keys held across quarters (pv/cases/build.py
    # surviving_keys); everything else is built one quarter at a time.
    from pv.cases.build import surviving_keys
    from pv.config import Home

    read, _, survivors = surviving_keys(Home.at(home))
    per_report = survivors.estimated_size() / survivors.height
    quarter_gb = gb - survivors.estimated_size() / 1024 ** 3
    print(f"scale: {per_report:.0f} bytes per surviving report are held across quarters (25M reports: "
          f"{25e6 * per_report / 1024 ** 3:.1f} GB; the dedup sort needs a few times that while it runs: measure it "
          f"with --history-only --quarters 80 --per-quarter 312500); every table is built one quarter at a time "
          f"(working set here <= {quarter_gb:.1f} GB at {args.per_quarter:,} reports/quarter)")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
