"""Nightly pvmon signal run.

settings -> extracts (given paths, or FDA's zips fetched) -> ingest (one mapped task per quarter) ->
anything new? -> cases -> signals (the prior fit, one mapped task per level and chunk of drugs, the
merge) -> mechanism -> report (one mapped task per drug) -> publish (one mapped task per drug, the
merge) -> prune (old runs, pv.retention). Every task is one call into ``pv.pipeline``; the mapped tasks spread over the
workers, which must share the store (README, "Deployment"). Run settings (the run conf) are checked first:
an unknown key or a wrong type fails the run before any work, e.g.
``{"paths": ["/data/faers"], "home": "/data/pvdata"}``. With no new quarter and nothing changed
since the last run, the run stops after the check (the later tasks are skipped, and the check's
log says why). A failed mechanism does not hold back the report and the dashboards: they say
that its section is missing. ``$PV_SCHEDULE`` sets the cron schedule (default 02:00 UTC daily;
``none``: manual runs only). Retries, timeouts and the failure alert: ``pv.scheduling``.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import Param, dag, task

from pv import pipeline
from pv.scheduling import RUN_TIMEOUT, TASK_DEFAULTS, alert
from pvmon_downstream import after_cases  # the stages after cases, shared with the other DAG

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
    default_args=TASK_DEFAULTS,
    dagrun_timeout=RUN_TIMEOUT,
    on_failure_callback=alert,
    tags=["pvmon"],
    doc_md=__doc__,
)
def pvmon_nightly():
    @task(retries=0)
    def settings(dag_run=None) -> dict:
        return pipeline.settings_stage(dag_run.conf)

    @task
    def extracts(s: dict) -> list[str]:
        return pipeline.extracts_stage(pipeline.home_of(s), s["paths"], s["quarters"], s["base_url"])

    @task
    def quarters(s: dict, paths: list[str]) -> list[dict]:
        return [{**s, "batch": batch} for batch in pipeline.quarter_batches(paths)]

    @task
    def ingest(one: dict) -> dict:  # one mapped task per quarter, under that quarter's lock
        return pipeline.ingest_stage(pipeline.home_of(one), one["batch"])

    @task.short_circuit
    def anything_new(s: dict, _ingested: list) -> bool:
        return pipeline.needs_run(pipeline.home_of(s), s["drugs"])

    @task
    def cases(s: dict) -> dict:
        return pipeline.cases_stage(pipeline.home_of(s))

    s = settings()
    built = cases(s)
    anything_new(s, ingest.expand(one=quarters(s, extracts(s)))) >> built
    after_cases(s, built)


pvmon_nightly()
