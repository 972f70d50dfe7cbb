"""Airflow 3 the way production runs it, on loopback: Postgres and Redis (Debian packages), the
api-server, scheduler, dag-processor and two Celery workers (tooling.md, "CeleryExecutor").

Every process is started here and stopped by PID; every listener is on 127.0.0.1 (the workers run
with --skip-serve-logs, so they open no log server). Each worker names itself through its own
hostname callable, so task_instance.hostname says which worker ran a task.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from airflow_services import BIN, Airflow, free_port
from system_packages import PACKAGES, require

PACKAGES.update({"redis-server": "redis-server", "pg_ctlcluster": "postgresql"})
WORKERS = ("worker-1", "worker-2")


class CeleryAirflow(Airflow):
    def __init__(self, home: Path, dags: Path, env: dict[str, str] | None = None):
        require("redis-server", "pg_ctlcluster")
        self.pg_port, self.redis_port = free_port(), free_port()
        # postgres runs as its own user: its folder must not sit under root-only pytest folders
        self.pg_dir = Path(tempfile.mkdtemp(prefix="pvmon-pg-"))
        self.services: list[subprocess.Popen] = []
        self.workers: dict[str, subprocess.Popen] = {}
        db = f"postgres@127.0.0.1:{self.pg_port}/airflow"
        super().__init__(home, dags, env={
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{db}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{db}",
            "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            # a killed worker's task is noticed quickly, then retried on the other worker
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_SEC": "2",
            "PYTHONPATH": str(home / "hosts"),
            **(env or {}),
        })

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self._start_postgres()
        self.services.append(subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", "", "--appendonly", "no"],
            stdout=open(self.home / "redis.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True))
        hosts = self.home / "hosts"
        hosts.mkdir(exist_ok=True)
        (hosts / "pvtest_hosts.py").write_text("".join(
            f"def {w.replace('-', '_')}():\n    return {w!r}\n\n" for w in WORKERS))
        super().start()
        for w in WORKERS:
            self.start_worker(w)

    def start_worker(self, name: str) -> None:
        env = {**self.env, "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"pvtest_hosts.{name.replace('-', '_')}"}
        log = open(self.home / f"{name}.log", "ab")
        proc = subprocess.Popen([str(BIN / "airflow"), "celery", "worker", "--concurrency", "1",
                                 "--celery-hostname", f"{name}@%h", "--skip-serve-logs"],
                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        self.workers[name] = proc

    def wait_consuming(self, names, timeout: float = 300) -> None:
        """Until each named worker answers on the broker and consumes Airflow's queue (celery inspect
        active_queues): a worker still importing Airflow claims nothing, and a run triggered before
        then could run all its tasks on the other worker."""
        from celery import Celery

        app = Celery(broker=self.env["AIRFLOW__CELERY__BROKER_URL"])
        try:
            def consuming():
                queues = app.control.inspect(timeout=2).active_queues() or {}
                return all(any(node.startswith(f"{n}@") and any(q["name"] == "default" for q in qs)
                               for node, qs in queues.items()) for n in names)

            self.until(consuming, timeout, f"workers {', '.join(names)} consuming", every=1.0)
        finally:
            app.close()

    def kill_worker(self, name: str) -> None:
        """kill -9 the worker's whole process group (the worker and the task it runs)."""
        proc = self.workers[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self.procs.remove(proc)

    def _start_postgres(self) -> None:
        (initdb,) = glob.glob("/usr/lib/postgresql/*/bin/initdb")[-1:]
        pg_ctl = str(Path(initdb).with_name("pg_ctl"))
        shutil.chown(self.pg_dir, "postgres", "postgres")
        data = self.pg_dir / "data"
        as_pg = ["runuser", "-u", "postgres", "--"]
        subprocess.run([*as_pg, initdb, "-D", str(data), "-U", "postgres", "--auth=trust"], check=True,
                       capture_output=True)
        subprocess.run([*as_pg, pg_ctl, "-D", str(data), "-l", str(self.pg_dir / "pg.log"), "-w", "-o",
                        f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {self.pg_dir}", "start"],
                       check=True, capture_output=True)
        subprocess.run([*as_pg, "psql", "-h", "127.0.0.1", "-p", str(self.pg_port), "-U", "postgres", "-c",
                        "CREATE DATABASE airflow"], check=True, capture_output=True)
        self._pg_stop = [*as_pg, pg_ctl, "-D", str(data), "-m", "fast", "stop"]

    def query(self, sql: str, *params) -> list[tuple]:
        import psycopg2

        con = psycopg2.connect(host="127.0.0.1", port=self.pg_port, user="postgres", dbname="airflow")
        try:
            with con.cursor() as cur:
                cur.execute(sql.replace("?", "%s"), params)
                return cur.fetchall()
        finally:
            con.close()

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        """The REST API (v2) with a bearer token from the simple auth manager's generated password."""
        import httpx

        base = f"http://127.0.0.1:{self.port}"
        if not getattr(self, "_token", None):
            users = (self.home / "simple_auth_manager_passwords.json.generated").read_text()
            import json

            user, password = next(iter(json.loads(users).items()))
            resp = httpx.post(f"{base}/auth/token", json={"username": user, "password": password}, timeout=30)
            resp.raise_for_status()
            self._token = resp.json()["access_token"]
        resp = httpx.request(method, f"{base}{path}", json=body, timeout=60,
                             headers={"Authorization": f"Bearer {self._token}"})
        resp.raise_for_status()
        return resp.json()

    def stop(self) -> None:
        super().stop()
        for p in self.services:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=30)
        if getattr(self, "_pg_stop", None):
            subprocess.run(self._pg_stop, capture_output=True)
        shutil.rmtree(self.pg_dir, ignore_errors=True)


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
