"""The nightly DAG: its wiring, and a real run under a real Airflow on loopback."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from pv.config import Home
from pv.faers.simulate import simulate
from pv.pipeline import published_quarters
from airflow_services import Airflow
from sim_truth import funnel_totals

DAG_ID = "pvmon_nightly"


def test_dag_imports_and_wiring(repo):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(repo / "dags"))
    assert bag.import_errors == {}
    dag = bag.dags[DAG_ID]
    chain = {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
    assert chain == {"extracts": ["ingest"], "ingest": ["cases"], "cases": ["signals"],
                     "signals": ["mechanism", "report"], "mechanism": ["publish"], "publish": ["report"],
                     "report": []}


def test_published_quarters():
    assert published_quarters(date(2026, 11, 29)) == "2004Q1..2026Q2"
    assert published_quarters(date(2026, 5, 30)) == "2004Q1..2025Q4"
    assert published_quarters(date(2026, 5, 31)) == "2004Q1..2026Q1"
    assert published_quarters(date(2026, 2, 15)) == "2004Q1..2025Q3"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, repo):
    af = Airflow(tmp_path_factory.mktemp("airflow"), repo / "dags")
    try:
        af.start()
        yield af
    finally:
        af.stop()


def test_nightly_run_under_real_airflow(airflow, tmp_path):
    sim = tmp_path / "sim"
    simulate(sim, "2024Q1..2024Q2", 2500, seed=7)
    home = tmp_path / "pvdata"
    airflow.wait_parsed(DAG_ID)
    airflow.cli("dags", "unpause", DAG_ID)
    conf = {"home": str(home), "paths": [str(sim)], "drugs": ["baclofen", "naltrexone"]}
    airflow.cli("dags", "trigger", DAG_ID, "--run-id", "manual_e2e", "--conf", json.dumps(conf))
    state = airflow.wait_run(DAG_ID, "manual_e2e")
    tasks = dict(airflow.query("SELECT task_id, state FROM task_instance WHERE run_id = 'manual_e2e'"))
    assert state == "success", (tasks, airflow.logs())
    assert tasks == {t: "success" for t in ("extracts", "ingest", "cases", "signals", "mechanism", "publish",
                                            "report")}

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
    assert {p.name for p in store.site.glob("*.html")} == {
        "index.html", "drug-baclofen.html", "drug-naltrexone.html", "mechanism.html", "quality.html",
        "listing.html"}
