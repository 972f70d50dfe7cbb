"""Production shape, on loopback: Postgres, Redis, api-server, scheduler, dag-processor and two
Celery workers. A backfill over four quarters spreads its mapped downloads over both workers,
survives a worker killed by PID in the middle of a download (the task is retried on the other
worker and the run completes), and leaves the same store as `pvmon run` on the same extracts;
the nightly run that follows, with no new quarter, stops at its gate."""

from __future__ import annotations

import functools
import os
import hashlib
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import polars as pl
import pytest

from airflow_celery import WORKERS, CeleryAirflow
from pv import pipeline
from pv.config import Home
from pv.faers.simulate import simulate

QUARTERS = "2024Q1..2024Q4"
DRUGS = ["baclofen", "naltrexone"]
DELAY_S = 8.0  # each download takes this long: time to kill the worker that runs it


class SlowFiles(SimpleHTTPRequestHandler):
    """FDA's download server, slowly: every existing file is sent after DELAY_S seconds."""

    def do_GET(self):  # noqa: N802
        if os.path.isfile(self.translate_path(self.path)):
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
    af = CeleryAirflow(tmp_path_factory.mktemp("airflow-celery"), repo / "dags")
    try:
        af.start()
        for dag in ("pvmon_backfill", "pvmon_nightly"):
            af.wait_parsed(dag)
            af.api("PATCH", f"/api/v2/dags/{dag}", {"is_paused": False})
        yield af
    finally:
        af.stop()


def trigger(af: CeleryAirflow, dag: str, run_id: str, conf: dict) -> None:
    af.api("POST", f"/api/v2/dags/{dag}/dagRuns", {"dag_run_id": run_id, "logical_date": None, "conf": conf})


def test_backfill_spreads_over_two_workers_and_survives_a_killed_one(airflow, sim, fda, tmp_path):
    home = tmp_path / "pvdata"
    trigger(airflow, "pvmon_backfill", "backfill_2024", {"quarters": QUARTERS, "home": str(home),
                                                          "base_url": fda, "drugs": DRUGS})
    # a download in progress: kill -9 the worker running it
    running = airflow.until(lambda: airflow.query(
        "SELECT map_index, hostname FROM task_instance WHERE run_id = 'backfill_2024' AND task_id = 'extracts' "
        "AND state = 'running' AND hostname IN ('worker-1', 'worker-2')"), 300, "a running download", every=0.5)
    victim_index, victim = running[0]
    time.sleep(1.0)
    airflow.kill_worker(victim)
    state = airflow.wait_run("pvmon_backfill", "backfill_2024", timeout=900)
    tasks = airflow.query("SELECT task_id, map_index, state, try_number, hostname FROM task_instance "
                          "WHERE run_id = 'backfill_2024'")
    assert state == "success", (tasks, airflow.logs())
    extracts = {m: (s, t, h) for task, m, s, t, h in tasks if task == "extracts"}
    assert sorted(extracts) == [0, 1, 2, 3] and all(s == "success" for s, _, _ in extracts.values())
    # the killed download was retried on the surviving worker
    survivor = next(w for w in WORKERS if w != victim)
    assert extracts[victim_index][1] >= 2 and extracts[victim_index][2] == survivor, extracts
    # the mapped downloads ran on both workers (earlier tries are in the history table)
    history = airflow.query("SELECT hostname FROM task_instance_history WHERE run_id = 'backfill_2024' "
                            "AND task_id = 'extracts'")
    assert {h for _, _, h in extracts.values()} | {h for (h,) in history} == set(WORKERS)

    # the same store as `pvmon run` on the same extracts
    direct = Home.at(tmp_path / "direct")
    pipeline.run(direct, [sim], DRUGS)
    store = Home.at(home)
    for name in ("cases.parquet", "drugs.parquet", "reactions.parquet", "funnel.parquet"):
        assert digest(store.cases / name) == digest(direct.cases / name), name
    (ours,), (theirs,) = store.signals.glob("*/signals.parquet"), direct.signals.glob("*/signals.parquet")
    keys = ["drug", "level", "event", "subset"]
    assert pl.read_parquet(ours).sort(keys).equals(pl.read_parquet(theirs).sort(keys))
    assert {p.name for p in store.site.glob("*.html")} >= {"index.html", "drug-baclofen.html"}

    # the next night, with no new quarter, stops at the gate
    trigger(airflow, "pvmon_nightly", "nightly_after_backfill", {"home": str(home), "paths": [str(sim)],
                                                                  "drugs": DRUGS})
    assert airflow.wait_run("pvmon_nightly", "nightly_after_backfill", timeout=600) == "success"
    states = dict(airflow.query("SELECT task_id, state FROM task_instance WHERE run_id = 'nightly_after_backfill'"))
    assert states["anything_new"] == "success" and states["cases"] == states["publish"] == "skipped", states


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
