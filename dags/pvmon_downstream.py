"""The stages after cases, shared by pvmon_nightly and pvmon_backfill (no DAG of its own).

fit_prior -> signal_chunk (one mapped task per level and chunk of drugs) -> signals (the merge) ->
mechanism -> report (one mapped task per reported drug) and publish_drug (one per drug page) ->
publish (the merge) -> prune. Every task is one call into ``pv.pipeline``. A failed mechanism does
not hold back the report and the dashboards (they say its section is missing); prune runs last,
after everything else succeeded, so any failure above leaves the run failed.
"""

from __future__ import annotations

from airflow.sdk import TriggerRule, task

from pv import pipeline

AFTER_SIGNALS = TriggerRule.ALL_DONE_MIN_ONE_SUCCESS  # runs when signals succeeded, whatever mechanism did


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


def after_cases(s, built) -> None:
    """Wire the stages after cases into the DAG being defined (``s``: the settings, ``built``: cases)."""
    plan = fit_prior(s, built)
    run = signals(plan, signal_chunk.expand(one=signal_pieces(plan)))
    explained = mechanism(run)
    reported = report.expand(one=report_drugs(run))
    pieces = publish_drug.expand(one=site_drugs(run))  # every drug page, not only the reported drugs
    published = publish(run)
    explained >> reported >> pieces >> published
    explained >> pieces
    explained >> published
    [explained, reported] >> prune(run, published)
