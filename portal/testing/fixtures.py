"""Shared pytest fixtures: personas, a real Celery worker, a real SMTP server, headless Chromium.

Loaded by the root conftest (pytest_plugins). Known traps handled here:
- Playwright's sync API runs an event loop in the test thread: DJANGO_ALLOW_ASYNC_UNSAFE is set for tests.
- A real worker process cannot see a test's open transaction: tests that use it are transactional, and each
  xdist worker has its own database (pytest-django suffixes it) and its own Celery queue (settings).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from portal.testing import env as test_env
from portal.testing import services
from portal.testing.factories import Personas, make_personas

ROOT = Path(__file__).resolve().parents[2]


def wait_for(
    predicate: Any, *, timeout: float = 20.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    """Poll `predicate` until it returns something truthy (no fixed sleeps in tests)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def personas(db: Any) -> Personas:
    return make_personas()


# --- Real SMTP server ----------------------------------------------------------------------------------------


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[Any] = field(default_factory=list)
    controller: Any = None
    delay: float = 0.0  # seconds each message takes to be accepted (to test a crash mid-send)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def clear(self) -> None:
        self.messages.clear()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        server = self

        class Handler:
            async def handle_DATA(self, smtp_server: Any, session: Any, envelope: Any) -> str:
                import asyncio
                import email
                from email import policy

                if server.delay:
                    await asyncio.sleep(server.delay)

                message = email.message_from_bytes(envelope.content, policy=policy.default)
                server.messages.append(
                    {"envelope": envelope, "message": message, "rcpt": list(envelope.rcpt_tos)}
                )
                return "250 OK"

        self.controller = Controller(Handler(), hostname=self.host, port=self.port)
        self.controller.start()
        if not self.port:
            self.port = self.controller.server.sockets[0].getsockname()[1]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server_session() -> Iterator[SmtpServer]:
    server = SmtpServer("127.0.0.1", _free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server(smtp_server_session: SmtpServer, settings: Any) -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) that the Django mail API delivers to."""
    if smtp_server_session.controller is None:
        smtp_server_session.start()
    smtp_server_session.clear()
    smtp_server_session.delay = 0.0
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp_server_session.host
    settings.EMAIL_PORT = smtp_server_session.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    yield smtp_server_session
    if smtp_server_session.controller is None:  # a test took it down: bring it back for the next one
        smtp_server_session.start()


# --- Real Celery worker --------------------------------------------------------------------------------------


def database_url_for_subprocess() -> str:
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    if connection.vendor == "postgresql":
        auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
        return f"postgres://{auth}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"
    raise RuntimeError(f"unsupported database vendor {connection.vendor}")


class WorkerProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        cmd = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ]
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self, *, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.log.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url_for_subprocess(),
            "CELERY_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        }
    )
    env.update(extra or {})
    return env


def _purge_queue() -> None:
    from portal.celery import app

    with app.connection_for_write() as conn, contextlib.suppress(Exception):  # the queue may not exist yet
        conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


@pytest.fixture(scope="session")
def _worker_process(
    django_db_setup: Any, django_db_blocker: Any, smtp_server_session: SmtpServer, emulator_server: Any
) -> Iterator[WorkerProcess]:
    services.need_redis()
    with django_db_blocker.unblock():
        env = worker_env(
            {
                "EMAIL_URL": smtp_server_session.url,
                **{
                    k: v
                    for k, v in emulator_server.env.items()
                    if not k.startswith(("AZURE_TENANT", "AZURE_CLIENT"))
                },
                "ARM_RETRY_BACKOFF": "0.05",
                "SYNC_LEASE_SECONDS": "4",
                "SYNC_BATCH_ALERTS": "100",  # a page per transaction: a worker killed mid-run leaves pages
            }
        )
    _purge_queue()
    worker = WorkerProcess(env, Path(settings.VAR_DIR) / f"test-worker-{test_env.WORKER}.log")
    worker.start()
    yield worker
    worker.stop()


def _worker_node() -> str:
    import socket

    return f"{settings.CELERY_TASK_DEFAULT_QUEUE}@{socket.gethostname()}"


def _consuming(on: bool) -> None:
    """Start or stop the session's worker consuming this xdist worker's queue (remote control over the broker)."""
    from portal.celery import app

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    if on:
        app.control.add_consumer(queue, destination=[_worker_node()], reply=True, timeout=10)
    else:
        app.control.cancel_consumer(queue, destination=[_worker_node()], reply=True, timeout=10)


@pytest.fixture
def celery_worker(_worker_process: WorkerProcess, transactional_db: Any) -> Iterator[WorkerProcess]:
    """A real `celery worker` process on Redis, sharing this test's (committed) database.

    The process lives for the session but consumes its queue only during the tests that ask for it: a test without
    it may still queue tasks (a transactional test's on-commit hooks run at once), and a worker running them while
    that test's database is flushed deadlocks the flush's TRUNCATE. So: before the test, what is queued is dropped
    and the worker starts consuming; after it, what is still queued is dropped, the task under way finishes (a
    ping behind it on the solo pool answers), and the worker stops consuming."""
    from portal.celery import ping

    _purge_queue()
    if not _worker_process.running():
        _worker_process.start()
    else:
        _consuming(True)
    result = ping.delay("ready")
    try:
        assert result.get(timeout=60) == "ready"
    except Exception as exc:
        raise AssertionError(f"Celery worker did not answer: {exc}\n{_worker_process.logs()}") from exc
    yield _worker_process
    if _worker_process.running():
        _purge_queue()
        # a worker the test left stopped or broken: the next test starts one
        with contextlib.suppress(Exception):
            ping.delay("idle").get(timeout=60)
            _consuming(False)


# --- Headless Chromium (Debian's package, driven by Playwright; never a downloaded browser) -------------------

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = services.need_chromium()
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    chromium = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()
    pw.stop()


@dataclass
class BrowserEvents:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def assert_clean(self, *, expected_statuses: tuple[int, ...] = ()) -> None:
        """No dialog, no page error, no CSP violation, no console error (except the logs browsers write for
        responses with an `expected_statuses` code, e.g. 400 for a form sent back with its errors)."""
        assert not self.dialogs, f"a dialog opened (script ran?): {self.dialogs}"
        assert not self.page_errors, f"page errors: {self.page_errors}"
        assert not self.csp_violations, f"CSP violations: {self.csp_violations}"
        unexpected = [
            e for e in self.console_errors if not any(f"status of {code} " in e for code in expected_statuses)
        ]
        assert not unexpected, f"console errors: {unexpected}"


@pytest.fixture
def browser_events() -> BrowserEvents:
    return BrowserEvents()


@pytest.fixture
def page(browser: Any, live_server: Any, browser_events: BrowserEvents) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, timezone_id="Europe/Paris", locale="en-GB")
    pg = context.new_page()
    pg.set_default_timeout(15_000)

    def on_console(msg: Any) -> None:
        if msg.type == "error":
            text = msg.text
            (
                browser_events.csp_violations
                if "Content Security Policy" in text
                else browser_events.console_errors
            ).append(text)

    def on_dialog(dialog: Any) -> None:
        browser_events.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: browser_events.page_errors.append(str(exc)))
    pg.on("dialog", on_dialog)
    yield pg
    context.close()


def sign_in(page: Any, live_server: Any, user: Any) -> None:
    """Sign a browser in as `user` without the form (the sign-in form itself has its own test)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )


# --- The bundled Azure emulator, driven by the real SDK clients over HTTPS -----------------------------------


class EmulatorHandle:
    """The session's emulator, reset for each test, with helpers for its control API."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.base_url: str = server.base_url
        self.ca_path = str(server.ca_path)

    def control(self, method: str, path: str, json: Any = None, **params: Any) -> Any:
        import requests

        response = requests.request(
            method,
            f"{self.server.control_url}/{path.lstrip('/')}",
            json=json,
            params=params or None,
            headers={"Authorization": f"Bearer {self.server.control_token}"},
            verify=self.ca_path,
            timeout=30,
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        self.control("POST", "reset")

    def need_blob_storage(self) -> None:
        """Skip (or fail under REQUIRE_SERVICES) unless the emulator runs Azurite for access logs."""
        logs = self.server.access_logs
        if not logs.available:
            services.missing(f"Blob storage for access logs (Azurite): {logs.reason}")

    def append_log(self, vault: str, **body: Any) -> dict[str, Any]:
        """Append AuditEvent records to a vault's log now (`scenario`, or `lines` / `raw`)."""
        result: dict[str, Any] = self.control("POST", "accesslogs/append", json={"vault": vault, **body})
        return result

    def add_alerts(self, subscription_id: str, **body: Any) -> list[str]:
        result = self.control("POST", "alerts", json={"subscription_id": subscription_id, **body})
        return result["ids"] if isinstance(result, dict) else result

    def fault(self, operation: str, kind: str, **body: Any) -> None:
        self.control("POST", "faults", json={"operation": operation, "kind": kind, **body})

    def requests(self, **params: Any) -> list[dict[str, Any]]:
        result = self.control("GET", "requests", **params)
        return result["requests"] if isinstance(result, dict) else result

    def clear_requests(self) -> None:
        self.control("DELETE", "requests")

    @property
    def connections(self) -> list[dict[str, Any]]:
        return self.server.connections

    def load_connections(self) -> list[Any]:
        """The emulator's tenants as Azure connections in the portal's database (secrets stored encrypted)."""
        from portal.inventory.services import connection_save

        result = []
        for entry in self.connections:
            result.append(
                connection_save(
                    actor=None,
                    data={
                        "name": entry["name"],
                        "tenant_id": entry["tenant_id"],
                        "client_id": entry["client_id"],
                        "arm_endpoint": self.base_url,
                        "authority_host": self.base_url,
                    },
                    secret=entry["client_secret"],
                )
            )
        return result

    def discover(self) -> list[Any]:
        """Load connections and discover their subscriptions (what an operator's first sync does)."""
        from sync.orchestrator import discover_all

        self.load_connections()
        return sorted((s for s, _seen_by in discover_all()), key=lambda s: s.subscription_id)


@pytest.fixture(scope="session")
def emulator_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from emulator.server import EmulatorServer

    # storage "auto": Azurite (about a second to start) when Node.js and emulator/azurite are installed; the
    # access-log tests skip otherwise, or fail under REQUIRE_SERVICES (need_blob_storage)
    server = EmulatorServer(
        preset="demo", seed=7, port=0, data_dir=tmp_path_factory.mktemp("emulator"), storage="auto"
    )
    server.start()
    os.environ["REQUESTS_CA_BUNDLE"] = str(server.ca_path)  # the emulator's CA (loopback only in tests)
    yield server
    server.stop()


@pytest.fixture
def emulator(emulator_server: Any, settings: Any) -> Iterator[EmulatorHandle]:
    """The Azure emulator, reset to its seeded demo state; the portal's settings point at it."""
    from portal.arm import session as arm_session

    handle = EmulatorHandle(emulator_server)
    handle.reset()
    settings.AZURE_ARM_ENDPOINT = handle.base_url
    settings.AZURE_AUTHORITY_HOST = handle.base_url
    settings.ARM_RETRY_BACKOFF = 0.05
    arm_session._sessions.clear()
    yield handle
    arm_session._sessions.clear()
