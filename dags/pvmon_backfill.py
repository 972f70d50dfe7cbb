"""Catch up by quarters: fetch (or take from ``paths``) and ingest a quarter range, then run the
downstream stages once.

Manual only. Airflow's own backfill would create one identical full run per date; here one run
covers the range: ``{"quarters": "2004Q1..2012Q3"}`` (plus ``home``, ``base_url``, ``paths``,
``drugs`` as in pvmon_nightly). Each quarter is fetched and then staged by its own mapped tasks
(under that quarter's lock; unchanged zips are skipped), so downloads and ingests spread over the
workers; then cases -> signals (prior fit, pieces per level and chunk of drugs, merge) ->
mechanism -> report (per drug) -> publish (per drug, then the merge) -> prune run once. Same retries, timeouts and alert as
the nightly run (``pv.scheduling``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from pv import pipeline
from pv.scheduling import RUN_TIMEOUT, TASK_DEFAULTS, alert
from pvmon_downstream import after_cases  # the stages after cases, shared with the other DAG


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params={
        "quarters": Param("2004Q1..2004Q4", type="string", pattern=r"^\d{4}[Qq][1-4](\.\.\d{4}[Qq][1-4])?$",
                          description="Quarter range to catch up, e.g. 2004Q1..2012Q3."),
        "home": Param(None, type=["null", "string"], description="Store folder (default: $PV_HOME)."),
        "paths": Param([], type="array", description="Extracts holding those quarters (default: download)."),
        "base_url": Param(None, type=["null", "string"], description="Download base URL (default: FDA)."),
        "drugs": Param([], type="array", description="Drugs to report (default: the watchlist)."),
    },
    default_args=TASK_DEFAULTS,
    dagrun_timeout=RUN_TIMEOUT,
    on_failure_callback=alert,
    tags=["pvmon"],
    doc_md=__doc__,
)
def pvmon_backfill():
    @task(retries=0)
    def settings(dag_run=None) -> dict:
        return pipeline.settings_stage({"quarters": "2004Q1..2004Q4", **(dag_run.conf or {})})

    @task
    def quarters(s: dict) -> list[dict]:
        return [{**s, "quarters": q} for q in pipeline.backfill_quarters(s)]

    @task
    def extracts(one: dict) -> list[str]:
        return pipeline.quarter_extracts(pipeline.home_of(one), one["quarters"], one["paths"], one["base_url"])

    @task
    def ingest(paths: list[str], s: dict) -> dict:  # one mapped task per quarter, under that quarter's lock
        return pipeline.ingest_stage(pipeline.home_of(s), paths)

    @task
    def cases(s: dict, _ingested: list) -> dict:
        return pipeline.cases_stage(pipeline.home_of(s))

    s = settings()
    ingested = ingest.partial(s=s).expand(paths=extracts.expand(one=quarters(s)))
    after_cases(s, cases(s, ingested))


pvmon_backfill()
