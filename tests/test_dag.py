"""The nightly DAG: its wiring, and a real run under a real Airflow on loopback."""

from __future__ import annotations

import json
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import polars as pl
import pytest

from pv.config import Home
from pv.faers.simulate import simulate
from pv.pipeline import published_quarters
from airflow_services import Airflow
from sim_truth import funnel_totals

DAG_ID = "pvmon_nightly"


def test_dag_imports_and_wiring(repo, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.syspath_prepend(str(repo / "dags"))  # Airflow puts its DAGS_FOLDER there; a DagBag of another does not
    bag = DagBag(dag_folder=str(repo / "dags"))
    assert bag.import_errors == {}
    # prune last, after everything else succeeded: any failure above leaves the run failed
    downstream = {"signals": ["mechanism", "prune", "publish", "report_drugs", "site_drugs"],
                  "mechanism": ["prune", "publish", "publish_drug", "report"], "report_drugs": ["report"],
                  "site_drugs": ["publish_drug"],
                  "report": ["prune", "publish_drug"], "publish_drug": ["publish"], "publish": ["prune"], "prune": []}
    # signals in pieces: the prior fit, one mapped task per level and chunk of drugs, the merge
    downstream |= {"cases": ["fit_prior"], "fit_prior": ["signal_pieces", "signals"], "signal_pieces": ["signal_chunk"],
                   "signal_chunk": ["signals"]}
    nightly = bag.dags[DAG_ID]
    assert {t.task_id: sorted(t.downstream_task_ids) for t in nightly.tasks} == {
        "settings": ["anything_new", "cases", "extracts", "fit_prior", "quarters"], "extracts": ["quarters"],
        "quarters": ["ingest"], "ingest": ["anything_new"], "anything_new": ["cases"], **downstream}
    backfill = bag.dags["pvmon_backfill"]
    assert {t.task_id: sorted(t.downstream_task_ids) for t in backfill.tasks} == {
        "settings": ["cases", "fit_prior", "ingest", "quarters"], "quarters": ["extracts"], "extracts": ["ingest"],
        "ingest": ["cases"], **downstream}
    mapped = {"ingest", "signal_chunk", "report", "publish_drug"}  # (and the backfill's downloads) spread over the workers
    assert {t.task_id for t in nightly.tasks if t.is_mapped} == mapped
    assert {t.task_id for t in backfill.tasks if t.is_mapped} == mapped | {"extracts"}
    for dag in (nightly, backfill):
        assert dag.dagrun_timeout is not None and dag.on_failure_callback
        for t in dag.tasks:
            assert t.execution_timeout is not None and t.on_failure_callback, t.task_id
            assert t.retries == (0 if t.task_id == "settings" else 2) and t.retry_exponential_backoff, t.task_id
        # a failed mechanism does not hold back the report and the dashboards
        assert {dag.get_task(n).trigger_rule for n in ("report", "publish_drug", "publish")} == {"all_done_min_one_success"}


def test_published_quarters():
    assert published_quarters(date(2026, 11, 29)) == "2004Q1..2026Q2"
    assert published_quarters(date(2026, 5, 30)) == "2004Q1..2025Q4"
    assert published_quarters(date(2026, 5, 31)) == "2004Q1..2026Q1"
    assert published_quarters(date(2026, 2, 15)) == "2004Q1..2025Q3"


class Webhook(BaseHTTPRequestHandler):
    """A real alert endpoint on 127.0.0.1: keeps every JSON body it receives."""
    received: list = []

    def do_POST(self):  # noqa: N802
        type(self).received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", Webhook.received
    server.shutdown()


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, repo, webhook):
    af = Airflow(tmp_path_factory.mktemp("airflow"), repo / "dags", env={"PV_ALERT_WEBHOOK": webhook[0]})
    try:
        af.start()
        yield af
    finally:
        af.stop()


def task_states(airflow, run_id: str) -> dict[str, str]:
    return dict(airflow.query("SELECT task_id, state FROM task_instance WHERE run_id = ?", run_id))


def test_nightly_run_under_real_airflow(airflow, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("nightly")
    sim = tmp_path / "sim"
    simulate(sim, "2024Q1..2024Q2", 2500, seed=7)
    home = tmp_path / "pvdata"
    airflow.wait_parsed(DAG_ID)
    airflow.cli("dags", "unpause", DAG_ID)
    conf = {"home": str(home), "paths": [str(sim)], "drugs": ["baclofen", "naltrexone"]}
    airflow.cli("dags", "trigger", DAG_ID, "--run-id", "manual_e2e", "--conf", json.dumps(conf))
    state = airflow.wait_run(DAG_ID, "manual_e2e")
    tasks = task_states(airflow, "manual_e2e")
    assert state == "success", (tasks, airflow.logs())
    assert tasks == {t: "success" for t in ("settings", "extracts", "quarters", "ingest", "anything_new", "cases",
                                            "fit_prior", "signal_pieces", "signal_chunk", "signals", "mechanism",
                                            "report_drugs", "report", "site_drugs", "publish_drug", "publish", "prune")}
    mapped = dict(airflow.query("SELECT task_id, COUNT(*) FROM task_instance WHERE run_id = 'manual_e2e' "
                                "AND map_index >= 0 GROUP BY task_id"))
    # 2 quarters; pt, group, domain; 2 drugs reported and their pages published side by side
    assert mapped == {"ingest": 2, "signal_chunk": 3, "report": 2, "publish_drug": 2}

    # the task logs show progress as it happens: each stage's end with its seconds and result
    assert "cases: done in" in airflow.task_log(DAG_ID, "manual_e2e", "cases")
    assert "staged in" in airflow.task_log(DAG_ID, "manual_e2e", "ingest")
    # the merge took both drugs' pages from their mapped publish_drug pieces
    assert "2 of 2 drug pages from their pieces" in airflow.task_log(DAG_ID, "manual_e2e", "publish")

    # The run produced the same store a command-line run does.
    store = Home.at(home)
    funnel = pl.read_parquet(store.cases / "funnel.parquet")
    got = dict(funnel.filter(pl.col("quarter") == "total").select("stage", "count").iter_rows())
    assert got == funnel_totals(sim)
    runs = list(store.signals.glob("*/signals.parquet"))
    assert len(runs) == 1
    signals = pl.read_parquet(runs[0])
    assert set(signals["drug"].unique()) == {"baclofen", "naltrexone"}
    assert (store.root / "mechanism" / runs[0].parent.name / "statement.md").exists()
    # the report task wrote the target drug's report (the drugs param names two: both reported)
    reports = store.reports / runs[0].parent.name
    assert {p.name for p in reports.iterdir()} >= {"baclofen.pdf", "baclofen.xlsx", "naltrexone.pdf"}
    assert {p.name for p in store.site.glob("*.html")} >= {
        "index.html", "drug-baclofen.html", "drug-naltrexone.html", "mechanism.html", "quality.html", "listing.html"}

    # The next night, with no new quarter: the run stops after the gate, and says why.
    airflow.cli("dags", "trigger", DAG_ID, "--run-id", "manual_nothing_new", "--conf", json.dumps(conf))
    assert airflow.wait_run(DAG_ID, "manual_nothing_new") == "success"
    tasks = task_states(airflow, "manual_nothing_new")
    assert tasks == {**{t: "success" for t in ("settings", "extracts", "quarters", "ingest", "anything_new")},
                     **{t: "skipped" for t in ("cases", "fit_prior", "signal_pieces", "signal_chunk", "signals",
                                               "mechanism", "report_drugs", "report", "site_drugs", "publish_drug", "publish",
                                               "prune")}}, tasks
    assert len(list(store.signals.glob("*/signals.parquet"))) == 1  # no new run folder
    assert "nothing new since the latest signal run" in airflow.task_log(DAG_ID, "manual_nothing_new", "anything_new")


def test_a_misspelt_setting_fails_before_any_work_and_alerts(airflow, webhook, tmp_path):
    url, received = webhook
    received.clear()
    airflow.wait_parsed(DAG_ID)
    airflow.cli("dags", "unpause", DAG_ID)
    conf = {"home": str(tmp_path / "pvdata"), "path": ["/data/faers"]}
    airflow.cli("dags", "trigger", DAG_ID, "--run-id", "manual_typo", "--conf", json.dumps(conf))
    assert airflow.wait_run(DAG_ID, "manual_typo") == "failed"
    tasks = task_states(airflow, "manual_typo")
    assert tasks["settings"] == "failed" and tasks["extracts"] == "upstream_failed", tasks
    assert not (tmp_path / "pvdata" / "raw").exists()  # nothing was downloaded
    airflow.until(lambda: any(m["event"].get("task_id") == "settings" for m in received), 60, "alert received")
    alert = next(m for m in received if m["event"].get("task_id") == "settings")
    assert "pvmon_nightly / manual_typo / settings failed" in alert["text"]
    assert "unknown setting 'path' (did you mean 'paths'?)" in alert["text"]
