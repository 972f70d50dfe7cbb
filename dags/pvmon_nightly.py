"""Nightly pvmon signal run.

extracts (given paths, or FDA's zips fetched) -> ingest -> cases -> signals -> mechanism -> publish
-> report.
Every task is one call into ``pv.pipeline``; the store is ``params.home`` (else $PV_HOME).
Trigger by hand with e.g. ``{"paths": ["/data/faers"], "home": "/data/pvdata"}``.
``$PV_SCHEDULE`` sets the cron schedule (default 02:00 UTC daily; ``none``: manual runs only).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Param, dag, task

from pv import pipeline
from pv.config import Home

SCHEDULE = os.environ.get("PV_SCHEDULE", "0 2 * * *")

PARAMS = {
    "home": Param(None, type=["null", "string"], description="Store folder (default: $PV_HOME)."),
    "paths": Param([], type="array", description="Extracts to ingest instead of downloading."),
    "quarters": Param(None, type=["null", "string"], description="Quarters to fetch (default: all published)."),
    "base_url": Param(None, type=["null", "string"], description="Download base URL (default: FDA)."),
    "drugs": Param([], type="array", description="Drugs to report (default: the watchlist)."),
}


@dag(
    schedule=None if SCHEDULE.lower() == "none" else SCHEDULE,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params=PARAMS,
    tags=["pvmon"],
    doc_md=__doc__,
)
def pvmon_nightly():
    @task
    def extracts(params=None) -> list[str]:
        return pipeline.extracts_stage(Home.at(params["home"]), params["paths"], params["quarters"], params["base_url"])

    @task
    def ingest(paths: list[str], params=None) -> dict:
        return pipeline.ingest_stage(Home.at(params["home"]), paths)

    @task
    def cases(_ingested: dict, params=None) -> dict:
        return pipeline.cases_stage(Home.at(params["home"]))

    @task
    def signals(_cases: dict, params=None) -> str:
        return str(pipeline.signals_stage(Home.at(params["home"]), params["drugs"]))

    @task
    def mechanism(run: str, params=None) -> str:
        return str(pipeline.mechanism_stage(Home.at(params["home"]), run, params["drugs"]))

    @task
    def publish(_mechanism: str, params=None) -> str:
        return str(pipeline.publish_stage(Home.at(params["home"])))

    @task
    def report(run: str, _published: str, params=None) -> str:
        return str(pipeline.report_stage(Home.at(params["home"]), run, params["drugs"]))

    run = signals(cases(ingest(extracts())))
    report(run, publish(mechanism(run)))


pvmon_nightly()
