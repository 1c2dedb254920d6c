#!/usr/bin/env python3
"""The README's two commands. Needs only Python 3.11+ (with venv) and git on the machine.

    python3 dev.py run     # the whole portal: web, worker, scheduler, emulator with demo data (SQLite, no servers)
    python3 dev.py test    # ruff (lint and format), lint-imports (the layers), mypy + the whole pytest suite in parallel (extra arguments go to pytest)
                           # (uses PostgreSQL/Redis found at 127.0.0.1 unless DATABASE_URL/REDIS_URL are set)
    python3 dev.py screenshots [--url URL]   # the user guide's screenshots (docs/img), from a fresh demo or a running one

Both create/update the virtualenv in .venv from the pinned requirements first.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEMO_PASSWORD = "kv-demo-password"  # noqa: S105 - the demo's documented sign-in (demo_users)
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
VAR = Path(os.environ.get("PORTAL_VAR_DIR") or ROOT / "var")


def worker_command(python: str, *extra: str) -> list[str]:
    """The Celery worker as the portal runs it outside docker compose (`dev.py run`, the drills, the load test): the
    threads pool, 4 threads. `extra`: log level, node name, queues."""
    return [python, "-m", "celery", "-A", "portal", "worker", "--pool=threads", "--concurrency=4", *extra]


def log(message: str) -> None:
    print(f"[dev] {message}", flush=True)


# --- virtualenv ------------------------------------------------------------------------------------------------


def ensure_venv(requirements: str) -> None:
    """Create .venv and install `requirements` (pinned) unless the same set is already installed."""
    if not PY.exists():
        log("creating the virtualenv in .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256()
    for name in ("requirements.txt", requirements):
        digest.update((ROOT / name).read_bytes())
    stamp = VENV / f".installed-{Path(requirements).stem}-{digest.hexdigest()[:16]}"
    if stamp.exists():
        return
    log(f"installing {requirements} (first run only; a minute or two)")
    subprocess.run(
        [
            str(PY),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-q",
            "-r",
            str(ROOT / requirements),
        ],
        check=True,
    )
    for old in VENV.glob(f".installed-{Path(requirements).stem}-*"):
        old.unlink()
    stamp.touch()


def manage(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PY), "manage.py", *args], cwd=ROOT, env=env, check=check, text=True)


# --- run -------------------------------------------------------------------------------------------------------


class Supervisor:
    """Starts child processes in their own process groups, restarts the ones started with `restart=True` when they
    exit (as docker compose's `restart: unless-stopped` does in production: a Celery worker ends itself in a few
    percent of Redis restarts, see bench/broker_restart.py), and stops them all on Ctrl-C / SIGTERM."""

    RESTART_BACKOFF_FIRST = 1.0  # seconds before a child that exited soon after starting is started again
    RESTART_BACKOFF_MAX = 30.0  # the pause doubles each time it exits that soon again, up to this
    STABLE_AFTER = 60.0  # a child that ran this long starts again at once

    LIVENESS_MAX_AGE = (
        90.0  # a worker whose liveness file is older than this (and has run this long) is restarted
    )

    def __init__(self, *, clock=time.monotonic, popen=subprocess.Popen, wall=time.time) -> None:
        self.clock, self.popen, self.wall = clock, popen, wall  # the tests pass fakes
        self.liveness: dict[str, Path] = {}  # child -> the file it must keep touching (portal.worker_alive)
        self.children: list[tuple[str, subprocess.Popen[str]]] = []
        self.restartable: dict[str, tuple[list[str], dict[str, str], dict[str, object]]] = {}
        self.started_at: dict[str, float] = {}
        self.backoff: dict[str, float] = {}
        self.exited_at: dict[str, float] = {}
        self.restarts: list[str] = []  # "worker (exit code -9)", in order
        self.stopping = False
        self.starting = False  # Ctrl-C waits (interrupted) until the child being started is recorded
        self.interrupted = False

    def interrupt(self) -> None:
        """Ctrl-C / SIGTERM: raise KeyboardInterrupt now, or once the child being started is recorded (so that
        stop() knows it)."""
        if self.starting:
            self.interrupted = True
        else:
            raise KeyboardInterrupt

    def start(
        self, name: str, cmd: list[str], env: dict[str, str], *, restart: bool = False, **kw: object
    ) -> subprocess.Popen[str]:
        self.starting = True
        try:
            proc = self.popen(cmd, cwd=ROOT, env=env, start_new_session=True, text=True, **kw)
            for old_name, old in self.children:
                if old_name == name:  # exited; anything left in its process group goes too
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(old.pid, signal.SIGKILL)
            self.children = [(n, p) for n, p in self.children if n != name] + [(name, proc)]
            self.started_at[name] = self.clock()
            if restart:
                self.restartable[name] = (cmd, env, kw)
        finally:
            self.starting = False
        if self.interrupted:
            raise KeyboardInterrupt
        return proc

    def watch(self, name: str, path: Path) -> None:
        """Restart `name` when `path` (touched by the child's own work, e.g. portal.worker_alive) grows older than
        LIVENESS_MAX_AGE: a Celery worker can outlive a Redis restart yet consume nothing."""
        self.liveness[name] = path

    def _stale(self, name: str) -> float | None:
        """How long `name`'s liveness file has not been touched, when that is too long (else None)."""
        path = self.liveness.get(name)
        if path is None or self.clock() - self.started_at[name] < self.LIVENESS_MAX_AGE:
            return None
        try:
            age = self.wall() - path.stat().st_mtime
        except FileNotFoundError:
            age = self.clock() - self.started_at[name]
        return age if age > self.LIVENESS_MAX_AGE else None

    def check(self) -> str | None:
        """Restart each exited child that was started with `restart=True` (at once if it had run for a while,
        else after a growing pause), and a watched one whose liveness file grew old; return the name of an exited
        child that is not restarted, if any."""
        now = self.clock()
        for name, proc in list(self.children):
            if proc.poll() is None:
                stale = self._stale(name)
                if stale is None:
                    continue
                log(f"{name} has done no work for {stale:.0f} s; restarting it")
                self.restarts.append(f"{name} (no work for {stale:.0f} s)")
                cmd, env, kw = self.restartable[name]  # start() SIGKILLs the old one's process group
                self.start(name, cmd, env, restart=True, **kw)
                continue
            if name not in self.restartable:
                return name
            exited_at = self.exited_at.setdefault(name, now)
            stable = exited_at - self.started_at[name] >= self.STABLE_AFTER
            pause = 0.0 if stable else self.backoff.get(name, self.RESTART_BACKOFF_FIRST)
            if now - exited_at < pause:
                continue
            self.backoff[name] = (
                self.RESTART_BACKOFF_FIRST if stable else min(self.RESTART_BACKOFF_MAX, pause * 2)
            )
            del self.exited_at[name]
            log(f"{name} exited with {proc.returncode}; starting it again")
            self.restarts.append(f"{name} (exit code {proc.returncode})")
            cmd, env, kw = self.restartable[name]
            self.start(name, cmd, env, restart=True, **kw)
        return None

    def stop(self) -> None:
        self.stopping = True
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                log(f"stopping {name}")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _name, proc in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # Anything a child left behind in its process group goes too.
        for _name, proc in self.children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(sup: Supervisor, env: dict[str, str]) -> dict[str, str]:
    """Start the bundled Azure emulator (demo preset) and return the environment it prints."""
    data_dir = VAR / "emulator"
    proc = sup.start(
        "emulator",
        [
            str(PY),
            "-m",
            "emulator",
            "--port",
            str(free_port()),
            "--preset",
            "demo",
            "--data-dir",
            str(data_dir),
        ],
        env,
        stdout=subprocess.PIPE,
    )
    values: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.strip()
        if "=" in line:
            key, _, value = line.partition("=")
            values[key] = value
        if line == "EMULATOR_READY=1":
            break
    if "AZURE_ARM_ENDPOINT" not in values:
        raise SystemExit("The emulator did not start (see the lines above).")
    values.pop("EMULATOR_READY", None)
    shown = data_dir.relative_to(ROOT) if data_dir.is_relative_to(ROOT) else data_dir
    log(
        f"the emulator keeps Azure's state (alert statuses, plans, contacts, rules) in {shown}/state-*.json across "
        f"restarts; delete {shown}/state* to start again from the demo data"
    )
    return values


def run() -> int:
    ensure_venv("requirements.txt")
    ensure_azurite()
    VAR.mkdir(exist_ok=True)
    port = int(os.environ.get("PORT", "8000"))
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    env.setdefault("SYNC_INTERVAL_SECONDS", "30")
    env.setdefault("PORTAL_BASE_URL", f"http://127.0.0.1:{port}")
    env["PYTHONUNBUFFERED"] = "1"
    sup = Supervisor()

    def on_signal(signum: int, _frame: object) -> None:
        sup.interrupt()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        log("migrating the database (SQLite under var/ unless DATABASE_URL is set)")
        manage("migrate", "--no-input", "-v0", env=env)
        if (ROOT / "emulator" / "__main__.py").exists() and not env.get("AZURE_CLIENT_ID"):
            log("starting the Azure emulator with demo data")
            emulator_env = start_emulator(sup, env)
            # The portal loads the emulator's tenants from its connections file; the first tenant's credentials
            # must not also become an "Environment" connection.
            for key in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
                emulator_env.pop(key, None)
            env.update(emulator_env)
            manage("load_connections", str(VAR / "emulator" / "connections.json"), env=env)
            manage("sync_azure", env=env)  # the first sync, so the demo has data at once
        manage("demo_users", "--quiet", env=env)
        log("starting the web server, a Celery worker and Celery beat")
        sup.start("web", [str(PY), "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], env)
        sup.start("worker", worker_command(str(PY), "--loglevel=INFO", "-n", "worker@%h"), env, restart=True)
        sup.watch("worker", Path(env.get("PORTAL_VAR_DIR", str(VAR))) / "worker-alive")
        sup.start(
            "beat", [str(PY), "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO"], env, restart=True
        )
        wait_for_http(port)
        print(
            f"\n  The portal is running at http://127.0.0.1:{port}/\n"
            f"  Sign in as admin / {DEMO_PASSWORD} (also: owner, secadmin, analyst, reader, outsider; same password)\n"
            "  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        while True:
            exited = sup.check()
            if exited is not None:
                log(f"{exited} exited; stopping the rest")
                return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        log("Ctrl-C: stopping")
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        sup.stop()
        log("stopped")


def wait_for_http(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"The web server did not answer on port {port}.")


# --- test ------------------------------------------------------------------------------------------------------


A11Y = ROOT / "tests" / "a11y"


def _npm_ci(folder: Path, what: str, missing: str) -> None:
    """`npm ci` in `folder` once per lockfile (a stamp in node_modules names its hash); `missing`: what is logged
    when npm is not installed (the caller's feature then goes without)."""
    digest = hashlib.sha256((folder / "package-lock.json").read_bytes()).hexdigest()[:16]
    stamp = folder / "node_modules" / f".installed-{digest}"
    if stamp.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        log(missing)
        return
    log(f"installing {what} (npm ci, first run only)")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=folder, check=True)
    stamp.touch()


def ensure_axe() -> None:
    """axe-core (pinned in tests/a11y/package-lock.json, from the npm registry) for the accessibility walk; it is
    served to the test browser only. Skipped with a note when npm is missing (the walk then fails under CI)."""
    _npm_ci(
        A11Y,
        "axe-core for the accessibility walk",
        "npm not found: the accessibility walk will not find axe-core",
    )


AZURITE = ROOT / "emulator" / "azurite"


def ensure_azurite() -> None:
    """Azurite 3.35.0 (pinned in emulator/azurite/package-lock.json, from the npm registry): the local stand-in for
    Blob Storage that the emulator's access-log writer fills and the console reads. Without npm the demo runs
    without access-log collection (the Security page says so) and the tests that need it skip (fail under CI)."""
    _npm_ci(
        AZURITE,
        "Azurite 3.35.0 for access-log collection (~190 MB)",
        "npm not found: access-log collection needs Azurite (Node.js 20 and npm); it stays off",
    )


# When DATABASE_URL / REDIS_URL are unset, `dev.py test` looks for PostgreSQL and Redis at their usual local
# addresses and uses them if they answer, so that one command tests what the machine can. DATABASE_URL=sqlite /
# REDIS_URL=none opt out (SQLite / the embedded broker, and the tests that need the service skip).
LOCAL_POSTGRES = ("127.0.0.1", 5432)
LOCAL_REDIS = ("127.0.0.1", 6379)
NO_POSTGRES, NO_REDIS = "sqlite", "none"


def probe_postgres(host: str, port: int, *, python: Path = PY, timeout: float = 3.0) -> bool:
    """True if PostgreSQL at host:port lets user `postgres` connect without a password (the venv's psycopg, in a
    subprocess: this script runs under the system python)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError:
        return False  # nothing listens: no need to start a python
    url = f"postgres://postgres@{host}:{port}/postgres"
    code = f"import psycopg; psycopg.connect({url!r}, connect_timeout={max(1, int(timeout))}).close()"
    try:
        done = subprocess.run(
            [str(python), "-c", code],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout + 10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def probe_redis(host: str, port: int, *, timeout: float = 1.0) -> bool:
    """True if a Redis at host:port answers PING with +PONG (without a password)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            answer = b""
            while not answer.endswith(b"\r\n") and len(answer) < 256:
                chunk = s.recv(256)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return False
    return answer.startswith(b"+PONG")


def use_local_services(
    env: dict[str, str],
    *,
    postgres: tuple[str, int] = LOCAL_POSTGRES,
    redis: tuple[str, int] = LOCAL_REDIS,
    python: Path = PY,
) -> list[str]:
    """Decide the test run's DATABASE_URL and REDIS_URL in `env` (changed in place) and return the lines that say
    what was decided. A variable that is set is kept as it is (CI sets both), except the opt-outs DATABASE_URL=sqlite
    and REDIS_URL=none, which are removed (the settings then use SQLite / the embedded broker). An unset one is set
    to the local server if that answers."""
    lines: list[str] = []
    where = f"{postgres[0]}:{postgres[1]}"
    if env.get("DATABASE_URL") == NO_POSTGRES:
        del env["DATABASE_URL"]
        lines.append("using SQLite (DATABASE_URL=sqlite); the tests that need PostgreSQL skip")
    elif "DATABASE_URL" in env:
        lines.append("using the database in DATABASE_URL")
    elif probe_postgres(*postgres, python=python):
        env["DATABASE_URL"] = f"postgres://postgres@{where}/portal"
        lines.append(
            f"using PostgreSQL at {where} (found there; set DATABASE_URL to choose another, "
            "or DATABASE_URL=sqlite to use SQLite)"
        )
    else:
        lines.append(
            f"no PostgreSQL at {where} (user postgres, no password): using SQLite; the tests that need "
            "PostgreSQL skip (set DATABASE_URL to use one)"
        )
    where = f"{redis[0]}:{redis[1]}"
    if env.get("REDIS_URL") == NO_REDIS:
        del env["REDIS_URL"]
        lines.append("no Redis (REDIS_URL=none); the tests that need Redis or a real Celery worker skip")
    elif "REDIS_URL" in env:
        lines.append("using the Redis in REDIS_URL")
    elif probe_redis(*redis):
        env["REDIS_URL"] = f"redis://{where}/0"
        lines.append(
            f"using Redis at {where} (found there; set REDIS_URL to choose another, or REDIS_URL=none to go "
            "without)"
        )
    else:
        lines.append(
            f"no Redis at {where}: the tests that need Redis or a real Celery worker skip (set REDIS_URL to use one)"
        )
    return lines


def test(extra: list[str]) -> int:
    ensure_venv("requirements-dev.txt")
    env = dict(os.environ)
    for line in use_local_services(env):
        log(line)
    ensure_axe()
    ensure_azurite()
    for check in (["check"], ["format", "--check"]):
        log("ruff " + " ".join(check))
        lint = subprocess.run([str(VENV / "bin" / "ruff"), *check, "."], cwd=ROOT, env=env)
        if lint.returncode:
            return lint.returncode
    log("lint-imports (the layers: pyproject.toml, docs/ARCHITECTURE.md)")
    layers = subprocess.run(
        [str(VENV / "bin" / "lint-imports"), "--no-cache"], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}
    )
    if layers.returncode:
        return layers.returncode
    # mypy's Django plugin imports the settings: a development environment, as the tests have
    log("mypy --strict (pyproject.toml; the Django and DRF plugins)")
    types = subprocess.run([str(VENV / "bin" / "mypy")], cwd=ROOT, env={**env, "DEBUG": "1"})
    if types.returncode:
        return types.returncode
    args = extra or ["-n", os.environ.get("PYTEST_WORKERS", "auto"), "-q"]
    log("pytest " + " ".join(args))
    return subprocess.run([str(PY), "-m", "pytest", *args], cwd=ROOT, env=env).returncode


def screenshots(extra: list[str]) -> int:
    """docs/img/*.png for docs/USER_GUIDE.md: against `--url`, or a fresh demo (its own port, SQLite and emulator
    state in a temporary folder) started here and stopped after."""
    ensure_venv("requirements-dev.txt")
    script = [str(PY), str(ROOT / "docs" / "screenshots.py")]
    if "--url" in extra:
        return subprocess.run([*script, *extra], cwd=ROOT).returncode
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="kv-screenshots-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
        env.update(PORT=str(port), PORTAL_VAR_DIR=tmp)
        log(f"starting a fresh demo on port {port} (state in {tmp})")
        demo = subprocess.Popen(
            [sys.executable, str(ROOT / "dev.py"), "run"], cwd=ROOT, env=env, start_new_session=True
        )
        try:
            wait_for_http(port, timeout=300)
            return subprocess.run([*script, "--url", f"http://127.0.0.1:{port}"], cwd=ROOT).returncode
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(demo.pid, signal.SIGTERM)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in {"run", "test", "screenshots"}:
        print(__doc__)
        return 2
    if sys.argv[1] == "run":
        return run()
    if sys.argv[1] == "screenshots":
        return screenshots(sys.argv[2:])
    return test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
