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
from airflow.sdk import Param, TriggerRule, dag, task

from pv import pipeline
from pv.scheduling import RUN_TIMEOUT, TASK_DEFAULTS, alert

SCHEDULE = os.environ.get("PV_SCHEDULE", "0 2 * * *")
AFTER_SIGNALS = TriggerRule.ALL_DONE_MIN_ONE_SUCCESS  # runs when signals succeeded, whatever mechanism did

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

    @task
    def fit_prior(s: dict, _cases: dict) -> dict:
        return {**s, "run": pipeline.fit_prior_stage(pipeline.home_of(s), s["drugs"])}

    @task
    def signal_pieces(plan: dict) -> list[dict]:
        return [{**plan, "level": lv, "chunk": k} for lv, k in pipeline.signal_pieces(pipeline.home_of(plan), plan["run"])]

    @task
    def signal_chunk(one: dict) -> dict:  # one mapped task per level and chunk of drugs
        return pipeline.signal_chunk_stage(pipeline.home_of(one), one["run"], one["level"], one["chunk"])

    @task
    def signals(plan: dict, _pieces: list) -> dict:
        return {**plan, "run": str(pipeline.merge_signals_stage(pipeline.home_of(plan), plan["run"]))}

    @task
    def mechanism(run: dict) -> str:
        return str(pipeline.mechanism_stage(pipeline.home_of(run), run["run"], run["drugs"]))

    @task
    def report_drugs(run: dict) -> list[dict]:
        return [{**run, "drug": drug} for drug in pipeline.report_drugs(run["drugs"])]

    @task(trigger_rule=AFTER_SIGNALS)
    def report(one: dict) -> str:  # one mapped task per drug: the reports spread over the workers
        return str(pipeline.report_stage(pipeline.home_of(one), one["run"], [one["drug"]]))

    @task
    def site_drugs(run: dict) -> list[dict]:
        return [{**run, "drug": drug} for drug in pipeline.site_drugs(pipeline.home_of(run), run["run"])]

    @task(trigger_rule=AFTER_SIGNALS)
    def publish_drug(one: dict) -> dict:  # one mapped task per drug: its listings and page, side by side
        return pipeline.publish_drug_stage(pipeline.home_of(one), one["drug"])

    @task(trigger_rule=AFTER_SIGNALS)
    def publish(run: dict) -> str:  # the merge: the pieces, the overview and the other pages into site/
        return str(pipeline.publish_stage(pipeline.home_of(run)))

    @task
    def prune(run: dict, _published: str) -> dict:
        return pipeline.prune_stage(pipeline.home_of(run))

    s = settings()
    built = cases(s)
    anything_new(s, ingest.expand(one=quarters(s, extracts(s)))) >> built
    plan = fit_prior(s, built)
    run = signals(plan, signal_chunk.expand(one=signal_pieces(plan)))
    explained = mechanism(run)
    drugs = report_drugs(run)
    reported = report.expand(one=drugs)
    pieces = publish_drug.expand(one=site_drugs(run))  # every drug page, not only the reported drugs
    published = publish(run)
    explained >> reported >> pieces >> published
    explained >> pieces
    explained >> published
    [explained, reported] >> prune(run, published)  # any failure above leaves the run failed


pvmon_nightly()
