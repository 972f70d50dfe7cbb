"""Benchmark: ``pvmon publish`` of this version against a baseline commit, side by side on clones of
one store (issue 16: mechanism + publish + report <= 60 s at FAERS's size, nightly <= 4 GB).

    .venv/bin/python bench/bench_publish.py --store /path/to/pvdata [--baseline a9788c6] [--rounds 2]
        [--work DIR] [--keep]

Each round clones the store twice (hard links, the SQLite manifest copied: files of a store are
only ever replaced by rename, never written in place) and runs ``python -m pv.cli publish`` of the
baseline (``git archive`` of the commit, put first on PYTHONPATH) and of this worktree on them,
alternating which goes first. The store's own ``site/`` is the previous site: on a store that
has just taken a new quarter (``pvmon run`` of it, or cases/signals/mechanism/report) this is the
nightly publish. Per run it prints wall, CPU (user + system, all threads) and peak RSS (os.wait4),
with the load average beside it, then this version's figures as ratios of the baseline's. Both
sites are compared file by file: the bench fails if they differ.

Measured 2026-12-06, scale 0.1 (88 quarters, 2.2M reports; a new signals run after `pvmon run` of
2025Q4, the previous run's site in place), baseline a9788c6 against 84442b7, 2 rounds at load 11-12:
wall 112.7 -> 81.9 s (0.73), CPU 28.6 -> 24.6 s (0.86), peak 952 -> 915 MB (0.96); both sites
identical (3,193 files). With 100k-row listing chunks (60e300d) the peak is 808 MB (704 MB with 20k).
Scale 1.0 (87 quarters, 22.5M reports), `pvmon publish` into a clone without a site (2ec1729, alone
under the full-scale lock, load 7): 251 s wall, 163.8 s CPU (129.0 user + 34.8 system), peak 3.64 GiB,
14,000 files, 2.1 GB; main a9788c6 on the same store (bench_full, heavier load): 450 s wall, 205.5 s
CPU, 5.60 GiB. The 13,983 files both sites hold are byte-identical but 17 (the pages cite the
manifest's sha256, which `pvmon report` changed after main's publish; its reports are linked).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def clone(src: Path, dst: Path) -> Path:
    """A cheap copy of a store: hard links, the manifest and lock files as real files."""
    shutil.copytree(src, dst, symlinks=True, copy_function=os.link)
    for name in os.listdir(dst):
        if name.startswith("pvmon.sqlite"):
            (dst / name).unlink()
            shutil.copy2(src / name, dst / name)
    for lock in [dst / ".pvmon.lock", *(dst / ".locks").glob("*")]:
        if lock.is_file():
            lock.unlink()
            lock.touch()
    return dst


def baseline_tree(rev: str, work: Path) -> Path:
    out = work / f"code-{rev}"
    if not out.is_dir():
        tmp = work / f"code-{rev}.tar"
        with open(tmp, "wb") as fh:
            subprocess.run(["git", "-C", str(REPO), "archive", rev], stdout=fh, check=True)
        with tarfile.open(tmp) as tar:
            tar.extractall(out)
        tmp.unlink()
    return out


def timed(cmd: list[str], env: dict, cwd: Path) -> dict:
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode(errors="replace")
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "sys": usage.ru_stime,
            "peak_mb": usage.ru_maxrss / 1024, "load": load}


def digest(site: Path) -> dict[str, str]:
    root = site.resolve()
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--baseline", default="a9788c6")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the clones")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-publish-", dir=args.store.parent))
    work.mkdir(parents=True, exist_ok=True)
    base = baseline_tree(args.baseline, work)
    envs = {"baseline": dict(os.environ, PYTHONPATH=str(base)), "this": dict(os.environ)}
    cwds = {"baseline": base, "this": REPO}
    results: dict[str, list[dict]] = {"baseline": [], "this": []}
    for r in range(args.rounds):
        order = ["baseline", "this"] if r % 2 == 0 else ["this", "baseline"]
        sites = {}
        for name in order:
            home = clone(args.store, work / f"{name}-{r}")
            got = timed([sys.executable, "-m", "pv.cli", "publish", "--home", str(home)], envs[name], cwds[name])
            results[name].append(got)
            print(f"round {r} {name:8s}: wall {got['wall']:6.1f} s  cpu {got['cpu']:6.1f} s (sys {got['sys']:.1f})  "
                  f"peak {got['peak_mb']:7.0f} MB  load {got['load']:.1f}", flush=True)
            sites[name] = digest(home / "site")
        same = sites["baseline"] == sites["this"]
        print(f"round {r}: sites identical: {same} ({len(sites['this'])} files)")
        if not same:
            differ = sorted(n for n in set(sites["baseline"]) | set(sites["this"])
                            if sites["baseline"].get(n) != sites["this"].get(n))
            raise SystemExit(f"the sites differ in {len(differ)} files, e.g. {differ[:5]}")
        if not args.keep:
            for name in order:
                shutil.rmtree(work / f"{name}-{r}")
    for key in ("wall", "cpu", "peak_mb"):
        b = sum(x[key] for x in results["baseline"]) / args.rounds
        t = sum(x[key] for x in results["this"]) / args.rounds
        print(f"{key:8s} baseline {b:8.1f}  this {t:8.1f}  ratio this/baseline {t / b:.2f}")
    if not args.keep and args.work is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
