"""docker-compose.yml's services, run on the host (no Docker engine here) against local PostgreSQL and Redis.

Each service's own command line is taken from the compose file and started in production mode; the test checks
that each comes up healthy: migrate exits 0, web answers /healthz, the worker runs a task, beat starts.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
import yaml

from portal.testing import services
from portal.testing.env import without_test_env
from portal.testing.fixtures import wait_for

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
pytestmark = pytest.mark.services


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _host_command(command: list[str], port: int) -> list[str]:
    exe, *args = command
    args = [a.replace("0.0.0.0:8000", f"127.0.0.1:{port}").replace("8443", str(port)) for a in args]
    if exe == "python":
        return [sys.executable, *args]
    if exe == "celery":
        return [sys.executable, "-m", "celery", *args]
    return [str(VENV_BIN / exe), *args]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def host_env(tmp_path_factory: pytest.TempPathFactory, compose: dict):
    redis_url = services.need_redis()
    pg_url = os.environ.get("DATABASE_URL", "")
    if not pg_url.startswith("postgres"):
        services.missing("PostgreSQL (DATABASE_URL)")
    import psycopg

    dbname = f"compose_check_{uuid.uuid4().hex[:8]}"
    admin_url = pg_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    tmp = tmp_path_factory.mktemp("compose")
    static_root = tmp / "static"
    env = {
        k: v
        for k, v in without_test_env(dict(os.environ)).items()
        if not k.startswith(("PYTEST", "DJANGO_ALLOW"))
    }
    env.update(
        {
            "DEBUG": "0",
            "SECRET_KEY": "compose-check-" + uuid.uuid4().hex,
            "DATABASE_URL": pg_url.rsplit("/", 1)[0] + "/" + dbname,
            "REDIS_URL": redis_url.rsplit("/", 1)[0] + "/14",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "STATIC_ROOT": str(static_root),
            "PORTAL_VAR_DIR": str(tmp / "var"),
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        }
    )
    # what the compose file sets for the app containers, minus the container-network addresses
    for key in compose["x-app"]["environment"]:
        if key not in env:
            env[key] = ""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )
    yield env
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    shutil.rmtree(tmp, ignore_errors=True)


class Service:
    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.log_path = name, log
        self.log = open(log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def test_compose_file_has_the_production_shape(compose):
    assert {"postgres", "redis", "web", "worker", "beat", "migrate", "emulator"} <= set(compose["services"])
    assert compose["services"]["emulator"]["profiles"] == ["demo"]
    assert compose["x-app"]["environment"]["DEBUG"] == "0"
    assert "gunicorn" in compose["services"]["web"]["command"]
    for name in ("web", "worker", "beat"):  # a Redis restart can end the worker: compose starts it again
        assert compose["services"][name]["restart"] == "unless-stopped", name


def test_each_compose_service_comes_up_healthy_on_the_host(compose, host_env, tmp_path):
    svc = compose["services"]
    migrate = subprocess.run(
        _host_command(svc["migrate"]["command"], 0),
        cwd=ROOT,
        env=host_env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]

    port = _free_port()
    started = {
        name: Service(name, _host_command(svc[name]["command"], port), host_env, tmp_path / f"{name}.log")
        for name in ("web", "worker", "beat")
    }
    try:
        # web: gunicorn serves /healthz, and pages redirect anonymous users to sign-in (production mode)
        def web_ok() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(web_ok, timeout=60, what=f"gunicorn /healthz\n{started['web'].output()[-2000:]}")
        page = requests.get(f"http://127.0.0.1:{port}/keyvaults/", allow_redirects=False, timeout=5)
        assert page.status_code in (301, 302)

        # worker: a task sent to the default queue on that Redis comes back
        from celery import Celery

        client = Celery(broker=host_env["REDIS_URL"], backend=host_env["REDIS_URL"])
        result = client.send_task("portal.ping", args=["compose"])
        try:
            assert result.get(timeout=60) == "compose"
        except Exception as exc:
            raise AssertionError(started["worker"].output()[-3000:]) from exc

        # beat: starts its scheduler and keeps running
        wait_for(
            lambda: "beat: Starting" in started["beat"].output(),
            timeout=30,
            what=f"celery beat\n{started['beat'].output()[-2000:]}",
        )
        for name, service in started.items():
            assert service.proc.poll() is None, f"{name} exited:\n{service.output()[-2000:]}"
    finally:
        for service in started.values():
            service.stop()


def test_demo_profile_emulator_comes_up(compose, host_env, tmp_path):
    if not (ROOT / "emulator" / "__main__.py").exists():
        pytest.fail("the emulator package is missing")
    port = _free_port()
    cmd = _host_command(compose["services"]["emulator"]["command"], port)
    cmd = [c.replace("/app/var/emulator", str(tmp_path / "emulator")) for c in cmd]
    service = Service("emulator", cmd, host_env, tmp_path / "emulator.log")
    try:
        wait_for(lambda: "EMULATOR_READY=1" in service.output(), timeout=60, what="emulator ready")
        url = next(
            line.split("=", 1)[1]
            for line in service.output().splitlines()
            if line.startswith("AZURE_ARM_ENDPOINT=")
        )
        assert urlsplit(url).port == port
    finally:
        service.stop()
