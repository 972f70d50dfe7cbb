"""Production shape, on loopback: Postgres, Redis, api-server, scheduler, dag-processor and two
Celery workers sharing one store folder. A backfill over four quarters spreads its mapped tasks
(downloads, ingests per quarter, signal pieces per level and chunk of drugs) over both workers,
survives a worker killed by PID in the middle of a download (the task is retried on the other
worker and the run completes), and leaves the same store as `pvmon run` on the same extracts;
the nightly run that follows, with no new quarter, stops at its gate.

No sleeping on luck: the run is triggered once both workers consume the queue, and the retried
download is held by the file server until the killed worker is back and consuming, so every task
after the downloads finds two idle workers (concurrency 1, prefetch 1, late acks: a busy worker
claims nothing more)."""

from __future__ import annotations

import functools
import os
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import polars as pl
import pytest

from airflow_celery import WORKERS, CeleryAirflow
from pv import pipeline
from pv.config import Home
from pv.faers.simulate import simulate
from pv.signals.provenance import file_fingerprint

QUARTERS = "2024Q1..2024Q4"
DRUGS = ["baclofen", "naltrexone"]
DELAY_S = 8.0  # each download takes this long: time to kill the worker that runs it
CHUNK = {"PV_SIGNAL_CHUNK": "1"}  # one drug per signal piece: 2 drugs x 3 levels = 6 mapped pieces


class SlowFiles(SimpleHTTPRequestHandler):
    """FDA's download server, slowly: every existing file is sent after DELAY_S seconds; a quarter
    in ``held`` (e.g. "2024q3") waits until its event is set."""

    held: dict[str, threading.Event] = {}

    def do_GET(self):  # noqa: N802
        if os.path.isfile(self.translate_path(self.path)):
            for quarter, release in list(self.held.items()):
                if quarter in self.path.lower():
                    release.wait(timeout=600)
            time.sleep(DELAY_S)
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    simulate(out, QUARTERS, 1500, seed=11)
    return out


@pytest.fixture(scope="module")
def fda(sim):
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SlowFiles, directory=str(sim)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, repo):
    af = CeleryAirflow(tmp_path_factory.mktemp("airflow-celery"), repo / "dags", env=CHUNK)
    try:
        af.start()
        for dag in ("pvmon_backfill", "pvmon_nightly"):
            af.wait_parsed(dag)
            af.api("PATCH", f"/api/v2/dags/{dag}", {"is_paused": False})
        af.wait_consuming(WORKERS)  # both claim tasks from the first one on
        yield af
    finally:
        af.stop()


def trigger(af: CeleryAirflow, dag: str, run_id: str, conf: dict) -> None:
    af.api("POST", f"/api/v2/dags/{dag}/dagRuns", {"dag_run_id": run_id, "logical_date": None, "conf": conf})


def mapped_hosts(af: CeleryAirflow, run_id: str, task_id: str) -> dict[int, tuple[str, int, str]]:
    """map index -> (state, try, worker) of a mapped task's instances."""
    return {m: (s, t, h) for m, s, t, h in af.query(
        "SELECT map_index, state, try_number, hostname FROM task_instance WHERE run_id = %s AND task_id = %s",
        run_id, task_id)}


def test_backfill_spreads_over_two_workers_and_survives_a_killed_one(airflow, sim, fda, tmp_path, monkeypatch):
    home = tmp_path / "pvdata"
    trigger(airflow, "pvmon_backfill", "backfill_2024", {"quarters": QUARTERS, "home": str(home),
                                                          "base_url": fda, "drugs": DRUGS})
    # a download in progress: kill -9 the worker running it
    running = airflow.until(lambda: airflow.query(
        "SELECT map_index, hostname FROM task_instance WHERE run_id = 'backfill_2024' AND task_id = 'extracts' "
        "AND state = 'running' AND hostname IN ('worker-1', 'worker-2')"), 300, "a running download", every=0.5)
    victim_index, victim = running[0]
    # its retry will wait at the server until the victim is back: the run cannot outpace the restart
    release = SlowFiles.held.setdefault(f"2024q{victim_index + 1}", threading.Event())
    time.sleep(1.0)
    airflow.kill_worker(victim)
    survivor = next(w for w in WORKERS if w != victim)
    # once the killed download is retried on the survivor, the victim comes back for the tasks after it
    airflow.until(lambda: airflow.query(
        "SELECT 1 FROM task_instance WHERE run_id = 'backfill_2024' AND task_id = 'extracts' AND map_index = %s "
        "AND try_number >= 2 AND hostname = %s", victim_index, survivor), 300, "the download retried", every=0.5)
    airflow.start_worker(victim)
    airflow.wait_consuming([victim])
    release.set()
    state = airflow.wait_run("pvmon_backfill", "backfill_2024", timeout=900)
    tasks = airflow.query("SELECT task_id, map_index, state, try_number, hostname FROM task_instance "
                          "WHERE run_id = 'backfill_2024'")
    assert state == "success", (tasks, airflow.logs())
    extracts = {m: (s, t, h) for task, m, s, t, h in tasks if task == "extracts"}
    assert sorted(extracts) == [0, 1, 2, 3] and all(s == "success" for s, _, _ in extracts.values())
    # the killed download was retried on the surviving worker
    assert extracts[victim_index][1] >= 2 and extracts[victim_index][2] == survivor, extracts
    # the mapped downloads ran on both workers (earlier tries are in the history table)
    history = airflow.query("SELECT hostname FROM task_instance_history WHERE run_id = 'backfill_2024' "
                            "AND task_id = 'extracts'")
    assert {h for _, _, h in extracts.values()} | {h for (h,) in history} == set(WORKERS)
    # one ingest per quarter, the signal pieces (pt, group, domain x 2 drugs) and the reports, all mapped
    ingests, pieces = mapped_hosts(airflow, "backfill_2024", "ingest"), mapped_hosts(airflow, "backfill_2024", "signal_chunk")
    assert sorted(ingests) == [0, 1, 2, 3] and sorted(pieces) == [0, 1, 2, 3, 4, 5]
    assert sorted(mapped_hosts(airflow, "backfill_2024", "report")) == [0, 1]
    assert {h for _, _, h in pieces.values()} == set(WORKERS), pieces  # the signal pieces ran on both workers

    # the same store as `pvmon run` on the same extracts
    direct = Home.at(tmp_path / "direct")
    monkeypatch.setenv("PV_SIGNAL_CHUNK", CHUNK["PV_SIGNAL_CHUNK"])  # the same drug chunks, in one process
    pipeline.run(direct, [sim], DRUGS)
    store = Home.at(home)
    for name in ("cases.parquet", "drugs.parquet", "reactions.parquet", "funnel.parquet"):
        assert digest(store.cases / name) == digest(direct.cases / name), name
    (ours,), (theirs,) = store.signals.glob("*/signals.parquet"), direct.signals.glob("*/signals.parquet")
    for name in ("signals.parquet", "trend.parquet"):  # the merged pieces: the very files of one process
        assert digest(ours.parent / name) == digest(theirs.parent / name), name
    assert pl.read_parquet(ours).height > 1000
    assert {p.name for p in store.site.glob("*.html")} >= {"index.html", "drug-baclofen.html"}

    # the next night, with no new quarter, stops at the gate
    trigger(airflow, "pvmon_nightly", "nightly_after_backfill", {"home": str(home), "paths": [str(sim)],
                                                                  "drugs": DRUGS})
    assert airflow.wait_run("pvmon_nightly", "nightly_after_backfill", timeout=600) == "success"
    states = dict(airflow.query("SELECT task_id, state FROM task_instance WHERE run_id = 'nightly_after_backfill'"))
    assert states["anything_new"] == "success" and states["cases"] == states["publish"] == "skipped", states
    # its ingest is mapped per quarter too (each quarter unchanged); over both nights, ingests ran on both workers
    again = mapped_hosts(airflow, "nightly_after_backfill", "ingest")
    assert sorted(again) == [0, 1, 2, 3] and all(s == "success" for s, _, _ in again.values())
    assert {h for _, _, h in [*ingests.values(), *again.values()]} == set(WORKERS), (ingests, again)


def digest(path) -> str:
    """sha256 of a file, or of a case table's quarter files (a folder, pv.cases.tables)."""
    return file_fingerprint(path)["sha256"]
