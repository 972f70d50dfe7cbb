"""Tell someone when a scheduled run fails.

The reason always goes to the log (the task log, under a scheduler). When the deployment sets
``PV_ALERT_WEBHOOK`` (an http(s) URL: Slack/Teams/Mattermost incoming webhooks, or any endpoint
taking JSON), the same one-paragraph message is POSTed there as ``{"text": ..., "event": {...}}``.
A notifier must never take the run down with it, nor hang it: one short attempt, bounded by
``PV_ALERT_TIMEOUT`` seconds (default 10), and its own failure is only logged.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pv.config import env_number
from pv.errors import PvError

log = logging.getLogger("pv.alerts")


def failure_text(event: dict[str, Any]) -> str:
    """One paragraph a person on call can act on: what failed, where, why, and where to look."""
    where = " / ".join(str(event[k]) for k in ("dag_id", "run_id", "task_id") if event.get(k))
    tries = f" (try {event['try_number']} of {event['max_tries']})" if event.get("try_number") else ""
    reason = " ".join(str(event.get("reason") or "no reason recorded").split())[:2000]
    link = f" Log: {event['log_url']}" if event.get("log_url") else ""
    return f"pvmon: {where} failed{tries}: {reason}.{link}"


def notify_failure(event: dict[str, Any], webhook: str | None = None, timeout: float | None = None) -> bool:
    """Log the failure and POST it to the webhook when one is configured; True when it was delivered."""
    text = failure_text(event)
    log.error(text)
    url = webhook if webhook is not None else os.environ.get("PV_ALERT_WEBHOOK", "")
    if not url:
        return False
    if not url.startswith(("http://", "https://")):
        log.error("PV_ALERT_WEBHOOK is not an http(s) URL; alert not sent")
        return False
    import httpx

    try:
        limit = timeout if timeout is not None else env_number("PV_ALERT_TIMEOUT", 10.0, "seconds >= 0")
    except PvError as err:  # a bad setting must not stop the alert: say so and use the default
        log.error(str(err))
        limit = 10.0
    try:
        resp = httpx.post(url, json={"text": text, "event": {k: str(v) for k, v in event.items()}},
                          timeout=limit, follow_redirects=False)
        resp.raise_for_status()
    except httpx.HTTPError as err:
        log.error("alert webhook failed: %s", " ".join(str(err).split()) or type(err).__name__)
        return False
    return True
