"""What both pvmon DAGs share: task defaults that let a night recover, and the failure alert.

Plain values and a plain callback (no Airflow import: pv never imports it); the DAG files in
dags/ pass them to Airflow.

Retries with exponential backoff (a worker killed mid-task is retried, not the night lost), a
timeout per task and per run, and an alert on the final failure (pv.alerts: always the task log,
plus ``$PV_ALERT_WEBHOOK`` when set). Every limit is an environment setting of the deployment.
"""

from __future__ import annotations

import os
from datetime import timedelta

from pv.alerts import notify_failure
from pv.config import env_number


def _minutes(name: str, default: float) -> timedelta:
    return timedelta(minutes=env_number(name, default, "a number of minutes >= 0"))


def alert(context) -> None:
    """on_failure_callback: the task (or run) that failed, its try, the reason, the log."""
    ti, run = context.get("ti"), context.get("dag_run")
    notify_failure({
        "dag_id": getattr(run, "dag_id", None) or getattr(ti, "dag_id", None),
        "run_id": getattr(run, "run_id", None),
        "task_id": getattr(ti, "task_id", None),
        "try_number": getattr(ti, "try_number", None),
        "max_tries": getattr(ti, "max_tries", None),
        "reason": context.get("exception") or context.get("reason"),
        "log_url": getattr(ti, "log_url", None),
    })


TASK_DEFAULTS = {
    "retries": int(os.environ.get("PV_TASK_RETRIES", "2")),
    "retry_delay": _minutes("PV_RETRY_DELAY_MINUTES", 1),
    "retry_exponential_backoff": True,
    "max_retry_delay": _minutes("PV_MAX_RETRY_DELAY_MINUTES", 30),
    "execution_timeout": _minutes("PV_TASK_TIMEOUT_MINUTES", 180),
    "on_failure_callback": alert,
}
RUN_TIMEOUT = _minutes("PV_RUN_TIMEOUT_MINUTES", 12 * 60)
