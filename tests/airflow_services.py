"""A real Airflow 3 on loopback for the DAG tests (tooling.md, "Testing DAGs").

Metadata DB (SQLite), api-server, scheduler and dag-processor are started as separate
processes with their own AIRFLOW_HOME, on 127.0.0.1 only, and stopped with SIGTERM.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Airflow:
    def __init__(self, home: Path, dags: Path, env: dict[str, str] | None = None):
        self.home = home
        self.port = free_port()
        self.db = home / "airflow.db"
        self.procs: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "PV_SCHEDULE": "none",  # manual runs only: no scheduled run that would try FDA
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.db}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "PV_RETRY_DELAY_MINUTES": "0.05",  # retries come quickly in tests
            **(env or {}),
        }

    def cli(self, *args: str, timeout: float = 120) -> str:
        out = subprocess.run([str(BIN / "airflow"), *args], env=self.env, capture_output=True,
                             text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed: {out.stderr[-2000:]}")
        return out.stdout

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.cli("db", "migrate")
        for args in (["api-server"], ["scheduler", "--skip-serve-logs"], ["dag-processor"]):
            log = open(self.home / f"{args[0]}.log", "wb")
            self.procs.append(subprocess.Popen([str(BIN / "airflow"), *args], env=self.env, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True))
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 120) -> None:
        url = f"http://127.0.0.1:{self.port}/api/v2/monitor/health"

        def healthy():
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"airflow process {p.args} exited: {self.logs()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    return json.load(resp).get("scheduler", {}).get("status") == "healthy"
            except OSError:
                return False

        self.until(healthy, timeout, "airflow healthy")

    def until(self, probe, timeout: float, what: str, every: float = 1.0):
        """Call ``probe`` until it returns something truthy; fail with the logs after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := probe():
                return found
            time.sleep(every)
        raise RuntimeError(f"{what}: not after {timeout}s: {self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.home.glob("*.log"))

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        """Every attempt's task log (local files: tasks ran on this machine)."""
        folder = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return "\n".join(p.read_text(errors="replace") for p in sorted(folder.rglob("*.log")))

    def query(self, sql: str, *params) -> list[tuple]:
        con = sqlite3.connect(self.db, timeout=30)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def wait_parsed(self, dag_id: str, timeout: float = 120) -> None:
        self.until(lambda: self.query("SELECT 1 FROM dag WHERE dag_id = ?", dag_id), timeout, f"DAG {dag_id} parsed")

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        def finished():
            rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
            return rows[0][0] if rows and rows[0][0] in ("success", "failed") else None

        return self.until(finished, timeout, f"run {run_id} finished", every=2.0)

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
