"""The failure alert reaches a real webhook on 127.0.0.1, and never hangs or breaks the run."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pv.alerts import failure_text, notify_failure

EVENT = {"dag_id": "pvmon_nightly", "run_id": "manual_1", "task_id": "mechanism", "try_number": 3,
         "max_tries": 3, "reason": "PvError: cases/drugs.parquet: damaged\nsecond line", "log_url": "http://x/log"}


class Hook(BaseHTTPRequestHandler):
    received: list = []
    status = 200
    delay = 0.0

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(type(self).delay)
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture()
def hook():
    Hook.received, Hook.status, Hook.delay = [], 200, 0.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alert", Hook
    server.shutdown()


def test_the_text_says_what_failed_where_and_why():
    text = failure_text(EVENT)
    assert text == ("pvmon: pvmon_nightly / manual_1 / mechanism failed (try 3 of 3): PvError: "
                    "cases/drugs.parquet: damaged second line. Log: http://x/log")


def test_the_webhook_receives_the_failure(hook):
    url, handler = hook
    assert notify_failure(EVENT, webhook=url) is True
    (msg,) = handler.received
    assert msg["text"] == failure_text(EVENT)
    assert msg["event"]["task_id"] == "mechanism" and msg["event"]["try_number"] == "3"


def test_a_failing_or_hanging_webhook_is_logged_not_raised(hook, caplog):
    url, handler = hook
    handler.status = 500
    assert notify_failure(EVENT, webhook=url) is False
    handler.status, handler.delay = 200, 3.0
    started = time.monotonic()
    assert notify_failure(EVENT, webhook=url, timeout=0.5) is False
    assert time.monotonic() - started < 2.5
    assert notify_failure(EVENT, webhook="file:///etc/passwd") is False
    assert "alert webhook failed" in caplog.text and "not an http(s) URL" in caplog.text


def test_no_webhook_configured_only_logs(monkeypatch, caplog):
    monkeypatch.delenv("PV_ALERT_WEBHOOK", raising=False)
    assert notify_failure(EVENT) is False
    assert "mechanism failed (try 3 of 3)" in caplog.text


def test_a_bad_timeout_setting_is_logged_and_the_alert_still_goes(hook, monkeypatch, caplog):
    url, handler = hook
    monkeypatch.setenv("PV_ALERT_TIMEOUT", "soon")
    assert notify_failure(EVENT, webhook=url) is True
    assert len(handler.received) == 1
    assert "PV_ALERT_TIMEOUT='soon': must be seconds >= 0" in caplog.text
