"""Hostile sweep: seeded kill -9 trials across every stage, and fuzzed reader inputs.

Each kill trial copies a small simulated store, runs one stage command (ingest, cases,
signals, mechanism, publish, report) and kills it with SIGKILL at the Nth call of one family
of calls the stage makes while swapping its outputs (rename, symlink, unlink, rmdir, fsync:
the counts come from a clean run of the same stage, the pick from the seed). ``--via fork``
(default): every command is a fork of one warm Python that kills itself on entering the Nth
os.replace/os.symlink/... call (a fresh interpreter per command costs seconds on a loaded
machine); ``--via strace``: a fresh process per command, strace injects the SIGKILL at the
Nth system call. It then checks:
- right after the kill, each output (a folder behind a pointer as a whole, a file alone) is
  the old one or the new one, never a mix and never missing (pv.lake.digest content hashes; ingest is read after its journal's
  roll-forward, which every reader does);
- re-running the command exits 0 without a traceback and leaves the store equal, file by
  file, to an uninterrupted run's (a kill after the swap of a signals run counts as a
  finished run, so the reference is then two runs);
- no version folder, ``.tmp`` or ``.old`` leftover stays behind;
- rows lost: rows of Parquet outputs the uninterrupted run has and the trial has not.

The fuzz half calls ``bench/fuzz_reader.py``'s ``run(n, seed)`` when that file exists.

    .venv/bin/python bench/bench_hostile.py --kills 200 --fuzz 10000 --seed 1 [--via strace] [--budget S]

tests/test_crash_safety.py runs a small count of the same trials in CI.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pv.lake.digest import differing, outputs, store_digest  # noqa: E402

FAMILIES = {
    "rename": "rename,renameat,renameat2",
    "symlink": "symlink,symlinkat",
    "unlink": "unlink,unlinkat",
    "rmdir": "rmdir",
    "fsync": "fsync,fdatasync",
}
STAGES = ("ingest", "cases", "signals", "mechanism", "publish", "report")
SIM_QUARTERS = "2023Q1..2023Q2"


def stage_args(stage: str, sim: Path) -> list[str]:
    return {"ingest": ["ingest", str(sim)], "report": ["report", "--drug", "baclofen"]}.get(stage, [stage])


def pvmon(args: list[str], home: Path, trace: list[str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PV_LOCK_WAIT": "60"}
    env.pop("PV_DEBUG", None)
    cmd = [sys.executable, "-m", "pv.cli", *args, "--home", str(home)]
    return subprocess.run([*(trace or []), *cmd], capture_output=True, text=True, env=env, cwd=REPO)


def strace_kill(family: str, nth: int) -> list[str]:
    calls = FAMILIES[family]
    return ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={calls}",
            "-e", f"inject={calls}:signal=KILL:when={nth}"]


# Python functions each family's system calls come from (the hook's view of FAMILIES).
HOOKED = {"rename": ("replace", "rename"), "symlink": ("symlink",), "unlink": ("unlink", "remove"),
          "rmdir": ("rmdir",), "fsync": ("fsync", "fdatasync")}


class Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


class StraceRunner:
    """Each command a fresh process; the kill is strace's SIGKILL at the Nth system call."""

    def __init__(self, scratch: Path):
        self.scratch = scratch

    def run(self, args, home, kill=None) -> Result:
        out = pvmon(args, home, strace_kill(*kill) if kill else None)
        return Result(out.returncode, out.stdout, out.stderr)

    def count(self, args, home) -> dict[str, int]:
        return traced_counts(args, home, self.scratch)

    def close(self) -> None:
        pass


class ForkRunner:
    """Each command a fork of one warm Python that has pvmon's modules imported (a fresh
    interpreter costs seconds per command on a loaded machine); the kill is a real SIGKILL
    the process sends itself on entering the Nth call of a family (os.replace, os.symlink,
    os.unlink, os.rmdir, os.fsync: every call pvmon's swaps and journal make)."""

    def __init__(self):
        env = {**os.environ, "PV_LOCK_WAIT": "60"}
        env.pop("PV_DEBUG", None)
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--zygote"], cwd=REPO, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def _job(self, job: dict) -> dict:
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("bench_hostile: the fork server died")
        return json.loads(line)

    def run(self, args, home, kill=None) -> Result:
        done = self._job({"argv": [*args, "--home", str(home)], "kill": kill})
        return Result(done["returncode"], done["stdout"], done["stderr"])

    def count(self, args, home) -> dict[str, int]:
        done = self._job({"argv": [*args, "--home", str(home)], "kill": None})
        if done["returncode"]:
            raise SystemExit(f"clean counted run of {args} failed: {done['stderr']}")
        return done["counts"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def zygote() -> None:
    """The fork server of ForkRunner: one JSON job a line on stdin, one JSON result a line out."""
    import signal
    import traceback

    import dashboards.publish  # noqa: F401 - warm imports, shared by every fork
    import pv.cases.build  # noqa: F401
    import pv.cli
    import pv.lake.ingest  # noqa: F401
    import pv.mechanism.stage  # noqa: F401
    import pv.reports.build  # noqa: F401
    import pv.signals.run  # noqa: F401

    for line in sys.stdin:
        job = json.loads(line)
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
                tempfile.TemporaryFile("w+") as counts_file:
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                counts: dict[str, int] = {}
                kill = job["kill"]

                def hooked(family, fn):
                    def call(*a, **k):
                        counts[family] = counts.get(family, 0) + 1
                        if kill and kill[0] == family and counts[family] == kill[1]:
                            os.kill(os.getpid(), signal.SIGKILL)
                        return fn(*a, **k)
                    return call

                for family, names in HOOKED.items():
                    for name in names:
                        setattr(os, name, hooked(family, getattr(os, name)))
                sys.argv = ["pvmon", *job["argv"]]
                code = 0
                try:
                    pv.cli.app()
                except SystemExit as stop:
                    code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
                except BaseException:  # noqa: BLE001 - reported as the child's traceback
                    traceback.print_exc()
                    code = 1
                sys.stdout.flush()
                sys.stderr.flush()
                counts_file.write(json.dumps(counts))
                counts_file.flush()
                os._exit(code)
            _, status = os.waitpid(pid, 0)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            texts = []
            for f in (out, err, counts_file):
                f.seek(0)
                texts.append(f.read())
        print(json.dumps({"returncode": code, "stdout": texts[0], "stderr": texts[1],
                          "counts": json.loads(texts[2] or "{}")}), flush=True)


def traced_counts(args: list[str], home: Path, scratch: Path) -> dict[str, int]:
    """How many calls of each family the stage's busiest thread makes in a clean run (per-thread
    counts: strace counts injections per syscall and per thread)."""
    log = scratch / "strace.log"
    calls = ",".join(FAMILIES.values())
    out = pvmon(args, home, ["strace", "-f", "-qq", "-o", str(log), "-e", f"trace={calls}"])
    if out.returncode != 0:
        raise SystemExit(f"clean traced run of {args} failed: {out.stderr}")
    per: dict[tuple[str, str, str], int] = {}
    for line in log.read_text().splitlines():
        m = re.match(r"(\d+)\s+(\w+)\(", line)
        if not m:
            continue
        pid, name = m.groups()
        family = next((f for f, names in FAMILIES.items() if name in names.split(",")), None)
        if family:
            per[(pid, family, name)] = per.get((pid, family, name), 0) + 1
    counts: dict[str, int] = {}
    for (_pid, family, _name), n in per.items():
        counts[family] = max(counts.get(family, 0), n)
    return counts


def copy_store(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)
    return dst


def parquet_rows(home: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    rows = {}
    for rel in store_digest(home):
        if rel.endswith(".parquet"):
            path = home / rel
            try:
                rows[rel] = pq.read_metadata(path).num_rows
            except Exception:  # noqa: BLE001 - unreadable counts as zero rows
                rows[rel] = 0 if path.exists() else 0
    return rows


def leftovers(home: Path) -> list[str]:
    """Version folders no pointer names, and temporary/old entries, anywhere in the store."""
    from pv.atomic import VERSIONS, current_version

    found = []
    for dirpath, dirs, files in os.walk(home):
        here = Path(dirpath)
        for name in dirs + files:
            if name.startswith(".") and (name.endswith(".tmp") or ".old" in name):
                found.append(str(here / name))
        if here.name == VERSIONS:
            for holder in here.iterdir():
                kept = current_version(here.parent / holder.name)
                found += [str(v) for v in holder.iterdir() if kept is None or v.name != kept.name]
        dirs[:] = [d for d in dirs if d not in (".txn",)]
    txn = home / ".txn"
    if txn.is_dir():
        found += [str(p) for p in txn.iterdir()]
    return found


@dataclass
class Setup:
    work: Path
    extract: Path  # what the ingest stage stages: the second quarter's zip
    runner: object  # StraceRunner or ForkRunner
    before: dict[str, Path] = field(default_factory=dict)  # stage -> store to start from
    refs: dict[str, list[dict]] = field(default_factory=dict)  # stage -> [digest after 1 run, after 2]
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    starts: dict[str, dict] = field(default_factory=dict)


def prepare(work: Path, runner, reports: int = 300, seed: int = 7, say=print) -> Setup:
    """Simulate two small quarters; a store that ran the whole pipeline on the first is the
    start, then the second quarter goes through the stages one by one: the store before each
    stage is that stage's starting point (its swap replaces or adds an output that differs),
    and the stage run once and twice from there gives its uninterrupted references."""
    sim = work / "sim"
    out = subprocess.run([sys.executable, "-m", "pv.cli", "simulate", "--out", str(sim), "--quarters", SIM_QUARTERS,
                          "--reports-per-quarter", str(reports), "--seed", str(seed)],
                         capture_output=True, text=True, cwd=REPO)
    if out.returncode:
        raise SystemExit(out.stderr)
    first, second = sorted(sim.glob("*.zip"))
    setup = Setup(work, second, runner)
    live = work / "live"  # every run happens here: a store's own path shows in its reports
    chain = work / "chain"
    out = runner.run(["run", str(first)], live)
    if out.returncode:
        raise SystemExit(out.stderr)
    copy_store(live, chain)
    for stage in STAGES:
        args = stage_args(stage, second)
        setup.before[stage] = copy_store(chain, work / f"start-{stage}")
        setup.starts[stage] = store_digest(copy_store(chain, live))
        refs = []
        for _ in range(2):
            done = runner.run(args, live)
            if done.returncode:
                raise SystemExit(f"{stage}: {done.stderr}")
            refs.append(store_digest(live))
        setup.refs[stage] = refs
        setup.rows[stage] = parquet_rows(live)
        setup.counts[stage] = runner.count(args, copy_store(chain, live))
        if store_digest(live) != refs[0]:
            raise SystemExit(f"{stage}: not deterministic: {differing(store_digest(live), refs[0])[:5]}")
        copy_store(live, chain)
        say(f"prepared {stage}: {len(refs[0])} output files, {len(differing(refs[0], setup.starts[stage]))} "
            f"changed by the stage; kill points {setup.counts[stage]}; second run "
            f"{'identical' if refs[0] == refs[1] else 'adds a run (by design)' if stage == 'signals' else 'DIFFERS'}")
    return setup


@dataclass
class Tally:
    faults: int = 0
    killed: int = 0
    mixed_after_kill: int = 0
    rows_lost: int = 0
    outputs_differing: int = 0
    tracebacks: int = 0
    leftovers: int = 0
    rerun_failed: int = 0
    failures: list[str] = field(default_factory=list)


def mixed_outputs(home: Path, after: dict, old: dict, new: dict) -> list[str]:
    """Outputs (a pointer folder as a whole, else a file) that are neither the old nor the new
    one after a kill; an output absent before (or after) may be absent."""
    units = [outputs(home, d) for d in (after, old, new)]
    names = set().union(*units)
    return sorted(n for n in names if units[0].get(n) not in (units[1].get(n), units[2].get(n)))


def kill_trial(setup: Setup, stage: str, family: str, nth: int, tally: Tally) -> None:
    home = copy_store(setup.before[stage], setup.work / "live")
    args = stage_args(stage, setup.extract)
    tally.faults += 1
    hit = setup.runner.run(args, home, (family, nth))
    label = f"{stage} {family}#{nth}"
    if "Traceback" in hit.stderr:
        tally.tracebacks += 1
        tally.failures.append(f"{label}: traceback when killed")
    if hit.returncode == 0:  # the Nth call was not reached in this run: an uninterrupted run
        after_kill = store_digest(home)
    else:
        tally.killed += 1
        if stage == "ingest":  # readers roll the ingest journal forward first
            from pv.config import Home
            from pv.lake.store import settled

            with settled(Home(home)):
                pass
        after_kill = store_digest(home)
    once, twice = setup.refs[stage]
    mixed = mixed_outputs(home, after_kill, setup.starts[stage], once)
    if mixed:
        tally.mixed_after_kill += 1
        tally.failures.append(f"{label}: after the kill neither old nor new: {mixed[:3]}")
    expected = twice if after_kill == once else once  # finished before the kill: the re-run is a second run
    rerun = setup.runner.run(args, home)
    if rerun.returncode != 0:
        tally.rerun_failed += 1
        tally.failures.append(f"{label}: re-run failed: {rerun.stderr.strip()[-300:]}")
    if "Traceback" in rerun.stderr:
        tally.tracebacks += 1
        tally.failures.append(f"{label}: traceback on re-run")
    final = store_digest(home)
    diff = differing(final, expected)
    if diff:
        tally.outputs_differing += 1
        tally.failures.append(f"{label}: {len(diff)} outputs differ from an uninterrupted run: {diff[:3]}")
    rows = parquet_rows(home)
    tally.rows_lost += sum(max(0, n - rows.get(rel, 0)) for rel, n in setup.rows[stage].items()
                           if expected is once or stage != "signals")
    left = leftovers(home)
    if left:
        tally.leftovers += 1
        tally.failures.append(f"{label}: leftovers after the re-run: {left[:3]}")


def plan(setup: Setup, kills: int, seed: int) -> list[tuple[str, str, int]]:
    """``kills`` trials, stages in turn, each a seeded pick of a family and a call number."""
    rng = random.Random(seed)
    trials = []
    for i in range(kills):
        stage = STAGES[i % len(STAGES)]
        counts = {f: n for f, n in setup.counts[stage].items() if n > 0}
        family = rng.choice(sorted(counts))
        trials.append((stage, family, rng.randint(1, counts[family])))
    return trials


def fuzz(n: int, seed: int) -> dict:
    path = REPO / "bench" / "fuzz_reader.py"
    if n <= 0 or not path.exists():
        return {"inputs_tried": 0, "rows_lost": 0, "tracebacks": 0, "available": path.exists()}
    spec = importlib.util.spec_from_file_location("fuzz_reader", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.run(n, seed), available=True)


def sweep(kills: int, fuzz_n: int, seed: int, work: Path, runner, say=lambda m: print(m, flush=True),
          budget: float = float("inf")) -> tuple[Tally, dict]:
    """``kills`` trials (fewer if ``budget`` seconds run out first: the table says how many ran)."""
    setup = prepare(work, runner, say=say)
    tally = Tally()
    started = time.perf_counter()
    for i, (stage, family, nth) in enumerate(plan(setup, kills, seed), 1):
        if time.perf_counter() - started > budget:
            say(f"  budget of {budget:.0f} s spent after {i - 1} trials")
            break
        seen = len(tally.failures)
        kill_trial(setup, stage, family, nth, tally)
        for line in tally.failures[seen:]:
            say(f"  FAIL {line}")
        if i % 10 == 0 or i == kills:
            say(f"  {i}/{kills} kill trials, {time.perf_counter() - started:.0f} s, failures {len(tally.failures)}")
    return tally, fuzz(fuzz_n, seed)


def table(tally: Tally, fuzzed: dict) -> str:
    rows = [
        ("faults injected (kill -9)", tally.faults),
        ("  of which killed the stage", tally.killed),
        ("inputs tried (fuzzed reader)", fuzzed["inputs_tried"]),
        ("rows lost", tally.rows_lost + fuzzed.get("rows_lost", 0)),
        ("outputs differing", tally.outputs_differing),
        ("  store neither old nor new after a kill", tally.mixed_after_kill),
        ("  re-runs failing", tally.rerun_failed),
        ("  leftovers after a re-run", tally.leftovers),
        ("tracebacks", tally.tracebacks + fuzzed.get("tracebacks", 0)),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{name:<{width}}  {value:>8}" for name, value in rows]
    if not fuzzed.get("available", True):
        lines.append("(bench/fuzz_reader.py not present: no fuzzed inputs)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--fuzz", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None, help="Scratch folder (default: a temporary one).")
    parser.add_argument("--via", choices=("fork", "strace"), default="fork",
                        help="fork: forks of a warm Python kill themselves at the Nth call (fast); "
                             "strace: a fresh process per command, strace injects the kill at the Nth system call")
    parser.add_argument("--budget", type=float, default=float("inf"),
                        help="Seconds of kill trials at most (the table counts the trials that ran).")
    parser.add_argument("--zygote", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.zygote:
        return zygote()
    if opts.via == "strace" and shutil.which("strace") is None:
        raise SystemExit("bench_hostile: strace is needed (apt-get install strace)")
    work = opts.work or Path(tempfile.mkdtemp(prefix="pv-hostile-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    runner = ForkRunner() if opts.via == "fork" else StraceRunner(work)
    try:
        tally, fuzzed = sweep(opts.kills, opts.fuzz, opts.seed, work, runner, budget=opts.budget)
    finally:
        runner.close()
        if opts.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nbench_hostile: seed {opts.seed}, kills via {opts.via}, {time.perf_counter() - started:.0f} s")
    print(table(tally, fuzzed))
    for line in tally.failures[:40]:
        print("FAIL", line)
    sys.exit(1 if tally.failures else 0)


if __name__ == "__main__":
    main()
