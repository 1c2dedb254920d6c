"""Helpers shared by the benchmark scripts: start the emulator, a throwaway PostgreSQL database, Django."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from dev import free_port  # dev.py, at the repository root

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/postgres"


class ThrowawayRedis:
    """redis-server on a spare port with no persistence: a restart loses every queued message."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20) -> None:
        import redis

        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if redis.Redis.from_url(self.url).ping():
                    return
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout} s waiting for redis on :{self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        """SIGKILL: what a crash does (nothing is saved)."""
        if self.proc:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


def start_emulator(data_dir: Path, *args: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """`python -m emulator` as its own process; returns it and the KEY=VALUE environment it printed.

    `data_dir` is the caller's temporary folder, never the demo's var/emulator: every measurement starts from the
    seeded world. Its state is not saved either (`--no-persist`, when this tree's emulator has it: bench/compare.py
    runs older commits with this file), so no snapshot write runs beside a measurement."""
    if data_dir.resolve() == (ROOT / "var" / "emulator").resolve():
        raise SystemExit("a benchmark's emulator needs a temporary data dir, not the demo's var/emulator")
    data_dir.mkdir(parents=True, exist_ok=True)
    if "--no-persist" in (ROOT / "emulator" / "__main__.py").read_text():
        args = ("--no-persist", *args)
    proc = subprocess.Popen(
        [PY, "-m", "emulator", "--port", "0", "--data-dir", str(data_dir), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    env: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        key, _, value = line.strip().partition("=")
        if key == "EMULATOR_READY":
            break
        if value:
            env[key] = value
    if "AZURE_ARM_ENDPOINT" not in env:
        proc.kill()
        raise SystemExit("the emulator did not start")
    return proc, env


def fresh_database(admin_url: str, prefix: str) -> str:
    """Create an empty PostgreSQL database next to `admin_url`'s; returns its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(env: dict[str, str]) -> None:
    """Django in this process, `env` (DATABASE_URL and the like) in its environment. The project's packages
    (`portal.settings`, the apps) import from the repository root, on the import path as `python -m bench.<name>`
    runs from there; the subprocesses the benchmarks start run with `cwd=ROOT`."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()


def control(env: dict[str, str], method: str, path: str, **kw: object) -> object:
    import requests

    r = requests.request(
        method,
        f"{env['EMULATOR_CONTROL_URL']}/{path}",
        verify=env["REQUESTS_CA_BUNDLE"],
        headers={"Authorization": f"Bearer {env['EMULATOR_CONTROL_TOKEN']}"},
        timeout=60,
        **kw,
    )
    r.raise_for_status()
    return r.json()
