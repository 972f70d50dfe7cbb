"""All of FAERS on one machine: every stage timed alone, then the nightly increment (issue 16).

    python bench/bench_full.py --scale 1.0      # FAERS's real sizes: 87 quarters, ~22.5M reports
    python bench/bench_full.py --scale 0.02     # a quick run of the same script

Simulates 2004Q1..2025Q3 (cached in --work; scale 1.0 uses `--reports-per-quarter real`, a smaller
scale a fixed count per quarter: scale x FAERS's mean of ~259,000 reports a quarter), then runs
each stage as its own `pvmon` process on a fresh store: ingest, cases, signals, mechanism, publish,
report. Each process is measured by the kernel (os.wait4: wall, user+system CPU, peak RSS of that
process and its children). Then the nightly increment: 2025Q4 simulated alone with the same seed
(the same world's next quarter), its stages one process each on copies of the store (with the
incremental cases build, and with `pvmon cases --full` for comparison), then `pvmon run` on a
third copy. Copies are hard links (pvmon replaces files by rename, never writes a Parquet file in
place; the SQLite manifest is copied for real), so the history store stays as the history stages
left it and can be measured again: `--parts history` builds and times it, `--parts nightly` times
the nightly on the store a previous `--parts history` left in --work.
Prints a table with the issue's targets at scale 1.0 and writes it as JSON (--out). Targets are for scale 1.0; at a smaller scale the
figures only show the shape.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

MEAN_REPORTS_PER_QUARTER = 259_000  # 22.5M reports / 87 quarters
HISTORY, NEXT = "2004Q1..2025Q3", "2025Q4"
GB = 1024 ** 3
TARGETS = {  # stage -> (wall seconds, peak bytes) at scale 1.0 (issue 16)
    "ingest": (180, 8 * GB), "cases": (180, 8 * GB), "signals": (120, 8 * GB),
    "mechanism": (None, 8 * GB), "publish": (None, 8 * GB), "report": (None, 8 * GB),
    "nightly": (120, 4 * GB),
}


def measure(args: list[str], log: Path) -> dict:
    """Run one pvmon command alone; the kernel's account of it."""
    started = time.perf_counter()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pv.cli", *args], stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"pvmon {' '.join(args)} failed ({code}): see {log}")
    return {"wall_s": round(wall, 2), "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "peak_rss_bytes": usage.ru_maxrss * 1024}


def simulate(out: Path, quarters: str, per_quarter: str, seed: int) -> None:
    if (out / "ground_truth.csv").is_file():
        return  # cached: same arguments, same bytes
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    done = subprocess.run([sys.executable, "-m", "pv.cli", "simulate", "--out", str(tmp), "--quarters", quarters,
                           "--reports-per-quarter", per_quarter, "--seed", str(seed)])
    if done.returncode != 0:
        raise SystemExit("simulate failed")
    tmp.rename(out)


HISTORY_STAGES = ("ingest", "cases", "signals", "mechanism", "publish", "report")
STAGES = (("cases", ["cases"]), ("signals", ["signals"]), ("mechanism", ["mechanism"]), ("publish", ["publish"]),
          ("report", ["report", "--drug", "baclofen"]))


def clone_store(home: Path, copy: Path) -> None:
    """A copy of the store by hard links (seconds, no disk), the manifest copied for real."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(home, copy, symlinks=True, copy_function=os.link)  # cases/, site/: pointers to versions
    for manifest in home.glob("pvmon.sqlite*"):
        (copy / manifest.name).unlink()
        shutil.copy2(manifest, copy / manifest.name)
    for lock in [copy / ".pvmon.lock", *copy.glob(".locks/*")]:  # a linked lock file would be the same lock
        if lock.is_file():
            lock.unlink()
            lock.touch()


def nightly_by_stage(home: Path, nxt: Path, work: Path, full: bool = True) -> dict[str, dict]:
    """The nightly's stages one process each, on two copies of the history store: with the
    incremental cases build (what `pvmon run` does) and (``full``) with a full rebuild (`cases --full`)."""
    out = {}
    for mode, cases in (("increment", ["cases"]), ("full", ["cases", "--full"]))[:2 if full else 1]:
        copy = work / f"pvdata-nightly-{mode}"
        clone_store(home, copy)
        out[mode] = {}
        for stage, args in (("ingest", ["ingest", str(nxt)]), *STAGES):
            args = cases if stage == "cases" else args
            out[mode][stage] = measure([*args, "--home", str(copy)], work / f"nightly-{mode}-{stage}.log")
        shutil.rmtree(copy)
    return out


def history_stages(home: Path, history: Path, work: Path) -> dict[str, dict]:
    """Every stage of the whole history on a fresh store, one process each."""
    shutil.rmtree(home, ignore_errors=True)
    rows = {}
    for stage, args in (("ingest", ["ingest", str(history)]), *STAGES):
        rows[stage] = measure([*args, "--home", str(home)], work / f"{stage}.log")
        print(f"{stage:<10} {rows[stage]['wall_s']:>8.1f} s wall {rows[stage]['cpu_s']:>8.1f} s CPU "
              f"{rows[stage]['peak_rss_bytes'] / GB:>6.2f} GB", flush=True)
    return rows


def nightly_run(home: Path, nxt: Path, work: Path) -> dict:
    """`pvmon run` with the next quarter, on a copy of the history store (which stays as it was)."""
    copy = work / "pvdata-nightly-run"
    clone_store(home, copy)
    try:
        return measure(["run", str(nxt), "--home", str(copy)], work / "nightly.log")
    finally:
        shutil.rmtree(copy)


def print_history(rows: dict) -> None:
    print(f"{'stage':<10} {'wall s':>8} {'CPU s':>8} {'peak GB':>8}   target at scale 1.0")
    for stage, r in rows.items():
        wall, mem = TARGETS[stage]
        target = f"<= {wall} s, " if wall else ""
        print(f"{stage:<10} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {r['peak_rss_bytes'] / GB:>8.2f}   "
              f"{target}<= {mem / GB:.0f} GB")
    if all(s in rows for s in HISTORY_STAGES):
        mpr = sum(rows[s]["wall_s"] for s in ("mechanism", "publish", "report"))
        end_to_end = sum(rows[s]["wall_s"] for s in HISTORY_STAGES)
        print(f"mechanism + publish + report {mpr:.1f} s (target <= 60 s); history end to end {end_to_end:.1f} s "
              f"(target <= 600 s)")
        if "nightly" in rows:
            print(f"nightly (pvmon run) / history end to end: {rows['nightly']['wall_s'] / end_to_end:.3f}")


def print_nightly(nightly: dict) -> None:
    if "full" not in nightly:  # --parts nightly-stages: the increment alone
        print(f"\nnightly stage by stage, {NEXT} into the store with the incremental cases build (pvmon cases)")
        print(f"{'stage':<10} {'wall s':>8} {'CPU s':>8} {'peak GB':>8}")
        for stage, r in nightly["increment"].items():
            print(f"{stage:<10} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {r['peak_rss_bytes'] / GB:>8.2f}")
        print(f"{'total':<10} {sum(r['wall_s'] for r in nightly['increment'].values()):>8.1f} "
              f"{sum(r['cpu_s'] for r in nightly['increment'].values()):>8.1f}")
        return
    print(f"\nnightly stage by stage, {NEXT} into the store: the incremental cases build (pvmon cases) against "
          "a full rebuild (pvmon cases --full)")
    print(f"{'stage':<10} {'incr s':>8} {'full s':>8} {'incr CPU':>8} {'full CPU':>8} {'incr GB':>8} {'full GB':>8}")
    for stage in nightly["increment"]:
        i, f = nightly["increment"][stage], nightly["full"][stage]
        print(f"{stage:<10} {i['wall_s']:>8.1f} {f['wall_s']:>8.1f} {i['cpu_s']:>8.1f} {f['cpu_s']:>8.1f} "
              f"{i['peak_rss_bytes'] / GB:>8.2f} {f['peak_rss_bytes'] / GB:>8.2f}")
    total = {k: {m: sum(r[m] for r in v.values()) for m in ("wall_s", "cpu_s")} for k, v in nightly.items()}
    i, f = total["increment"], total["full"]
    print(f"{'total':<10} {i['wall_s']:>8.1f} {f['wall_s']:>8.1f} {i['cpu_s']:>8.1f} {f['cpu_s']:>8.1f}")
    cases = {m: nightly["increment"]["cases"][m] / nightly["full"]["cases"][m] for m in ("wall_s", "cpu_s")}
    print(f"increment / full rebuild: all stages {i['wall_s'] / f['wall_s']:.3f} wall, {i['cpu_s'] / f['cpu_s']:.3f} "
          f"CPU; cases alone {cases['wall_s']:.3f} wall, {cases['cpu_s']:.3f} CPU")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.02)
    ap.add_argument("--work", type=Path, default=Path("bench/out/full"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--parts", choices=("all", "history", "nightly", "nightly-run", "nightly-stages"), default="all",
                    help="history: build and time the history store; nightly: time the nightly (stage by stage, "
                         "then pvmon run) on the store a previous history part left in --work; nightly-run: "
                         "only its pvmon run; nightly-stages: only its stages with the incremental cases build; "
                         "all: history and nightly")
    ap.add_argument("--out", type=Path, default=None, help="JSON file (default: <work>/bench_full_<scale>.json; "
                                                           "a part updates its own entries)")
    a = ap.parse_args()
    per_quarter = "real" if a.scale >= 1.0 else str(max(10, round(MEAN_REPORTS_PER_QUARTER * a.scale)))
    work = a.work / f"scale-{a.scale:g}"
    work.mkdir(parents=True, exist_ok=True)
    out = a.out or work / f"bench_full_{a.scale:g}.json"
    result = json.loads(out.read_text()) if out.is_file() and a.parts != "all" else {}
    result.update({"scale": a.scale, "reports_per_quarter": per_quarter,
                   "targets": {k: {"wall_s": w, "peak_bytes": m} for k, (w, m) in TARGETS.items()}})
    rows = result.setdefault("stages", {})
    history, nxt = work / "sim-history", work / "sim-next"
    simulate(history, HISTORY, per_quarter, a.seed)
    simulate(nxt, NEXT, per_quarter, a.seed)
    home = work / "pvdata"
    load = os.getloadavg()[0]
    if a.parts in ("all", "history"):
        rows.update(history_stages(home, history, work))
        result["load_history"] = [load, os.getloadavg()[0]]
    if a.parts != "history":
        if not (home / "cases").exists():
            raise SystemExit(f"no history store in {home}: run --parts history first")
        load = os.getloadavg()[0]
        if a.parts != "nightly-run":
            result["nightly_by_stage"] = nightly_by_stage(home, nxt, work, full=a.parts != "nightly-stages")
        if a.parts != "nightly-stages":
            rows["nightly"] = nightly_run(home, nxt, work)
        result["load_nightly"] = [load, os.getloadavg()[0]]
    print(f"\nscale {a.scale:g} ({per_quarter} reports per quarter, {HISTORY}), load average "
          + "; ".join(f"{k[5:]} {v[0]:.1f} -> {v[1]:.1f}" for k, v in result.items() if k.startswith("load_")))
    print_history(rows)
    if "nightly_by_stage" in result:
        print_nightly(result["nightly_by_stage"])
    if all(s in rows for s in HISTORY_STAGES):
        result["end_to_end_s"] = sum(rows[s]["wall_s"] for s in HISTORY_STAGES)
        result["mechanism_publish_report_s"] = sum(rows[s]["wall_s"] for s in ("mechanism", "publish", "report"))
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
