"""`dev.py test`: with DATABASE_URL / REDIS_URL unset it uses PostgreSQL and Redis at their usual local addresses when
they answer (and says so), leaves set variables alone (CI), and the run ends with one line naming each suite that
skipped tests and why. The probes run against local fakes and a port where nothing listens: these tests do not
depend on whether the real services run on this machine."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import dev
from portal.testing.services import skip_reason, skip_summary, suite_of


@pytest.fixture
def closed_port() -> Iterator[tuple[str, int]]:
    """A local port that is bound but does not listen: a connect is refused for as long as the test runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield "127.0.0.1", s.getsockname()[1]


def serve(answer: bytes | None) -> Iterator[tuple[str, int]]:
    """A one-thread TCP server that reads a request and sends `answer` (or hangs up at once when None)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                if answer is not None:
                    conn.settimeout(5)
                    with contextlib.suppress(OSError):
                        conn.recv(256)
                        conn.sendall(answer)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[:2]
    finally:
        stop.set()
        thread.join(timeout=10)
        server.close()


@pytest.fixture
def fake_redis() -> Iterator[tuple[str, int]]:
    yield from serve(b"+PONG\r\n")


@pytest.fixture
def not_redis() -> Iterator[tuple[str, int]]:
    yield from serve(b"-NOAUTH Authentication required.\r\n")


@pytest.fixture
def hangs_up() -> Iterator[tuple[str, int]]:
    yield from serve(None)


# --- the probes ------------------------------------------------------------------------------------------------


def test_redis_probe_wants_pong(fake_redis, not_redis, hangs_up, closed_port):
    assert dev.probe_redis(*fake_redis)
    assert not dev.probe_redis(*not_redis)  # a Redis that wants a password is not used
    assert not dev.probe_redis(*hangs_up)
    assert not dev.probe_redis(*closed_port)


def test_postgres_probe_needs_a_server_that_lets_postgres_in(hangs_up, closed_port):
    assert not dev.probe_postgres(*closed_port, python=Path(sys.executable))
    assert not dev.probe_postgres(*hangs_up, python=Path(sys.executable), timeout=2)


def test_postgres_probe_connects_as_postgres_to_the_postgres_database(monkeypatch, fake_redis):
    """Anything listens (the fake Redis port); the connect itself runs in the venv's python with a timeout."""
    calls: list[list[str]] = []

    def run(cmd, **kw):
        calls.append(cmd)
        assert kw["timeout"] > 0
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(dev.subprocess, "run", run)
    host, port = fake_redis
    assert dev.probe_postgres(host, port, python=Path("/venv/bin/python"))
    [cmd] = calls
    assert cmd[:2] == ["/venv/bin/python", "-c"]
    assert f"postgres://postgres@{host}:{port}/postgres" in cmd[2]
    assert "connect_timeout=" in cmd[2]


# --- the decision ----------------------------------------------------------------------------------------------


@pytest.fixture
def probes(monkeypatch):
    """Replace both probes; `answers` says which answer. Records the addresses probed."""
    state = {"answers": set(), "probed": []}

    def probe(kind):
        def fake(host, port, **_kw):
            state["probed"].append((kind, host, port))
            return kind in state["answers"]

        return fake

    monkeypatch.setattr(dev, "probe_postgres", probe("postgres"))
    monkeypatch.setattr(dev, "probe_redis", probe("redis"))
    return state


def test_set_variables_are_left_alone_and_nothing_is_probed(probes):
    probes["answers"] = {"postgres", "redis"}
    env = {"DATABASE_URL": "postgres://ci@db:5432/portal", "REDIS_URL": "redis://cache:6379/3", "X": "1"}
    before = dict(env)
    lines = dev.use_local_services(env)
    assert env == before
    assert probes["probed"] == []
    assert lines == ["using the database in DATABASE_URL", "using the Redis in REDIS_URL"]


def test_unset_variables_are_set_to_the_local_services_that_answer_and_announced(probes):
    probes["answers"] = {"postgres", "redis"}
    env: dict[str, str] = {}
    lines = dev.use_local_services(env)
    assert env == {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/portal",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    assert probes["probed"] == [("postgres", "127.0.0.1", 5432), ("redis", "127.0.0.1", 6379)]
    assert lines[0].startswith("using PostgreSQL at 127.0.0.1:5432 (found there;")
    assert "DATABASE_URL=sqlite" in lines[0]
    assert lines[1].startswith("using Redis at 127.0.0.1:6379 (found there;")
    assert "REDIS_URL=none" in lines[1]


def test_unset_variables_stay_unset_when_nothing_listens(closed_port):
    """The real probes, against a port where nothing listens."""
    env: dict[str, str] = {}
    lines = dev.use_local_services(env, postgres=closed_port, redis=closed_port, python=Path(sys.executable))
    assert env == {}
    where = f"{closed_port[0]}:{closed_port[1]}"
    assert lines[0].startswith(f"no PostgreSQL at {where}")
    assert "using SQLite" in lines[0]
    assert lines[1].startswith(f"no Redis at {where}")


def test_one_service_found_the_other_not(probes):
    probes["answers"] = {"redis"}
    env: dict[str, str] = {}
    lines = dev.use_local_services(env)
    assert env == {"REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert lines[0].startswith("no PostgreSQL at 127.0.0.1:5432")


def test_the_opt_outs_are_removed_and_nothing_is_probed(probes):
    probes["answers"] = {"postgres", "redis"}
    env = {"DATABASE_URL": "sqlite", "REDIS_URL": "none"}
    lines = dev.use_local_services(env)
    assert env == {}  # the settings then use SQLite under var/ and the embedded broker
    assert probes["probed"] == []
    assert lines[0].startswith("using SQLite (DATABASE_URL=sqlite)")
    assert lines[1].startswith("no Redis (REDIS_URL=none)")


def test_the_test_command_announces_first_and_passes_the_decision_to_pytest(monkeypatch, probes, capsys):
    probes["answers"] = {"postgres", "redis"}
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    order: list[str] = []
    monkeypatch.setattr(dev, "ensure_venv", lambda requirements: order.append("venv"))
    monkeypatch.setattr(dev, "ensure_axe", lambda: order.append("axe"))
    monkeypatch.setattr(dev, "ensure_azurite", lambda: order.append("azurite"))
    runs: list[tuple[list[str], dict[str, str]]] = []

    def run(cmd, *, cwd, env):
        runs.append((cmd, env))
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(dev.subprocess, "run", run)
    assert dev.test(["-q", "tests/test_x.py"]) == 0
    assert order == ["venv", "axe", "azurite"]
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("[dev] using PostgreSQL at 127.0.0.1:5432")
    assert out[1].startswith("[dev] using Redis at 127.0.0.1:6379")
    pytest_cmd, pytest_env = runs[-1]
    assert pytest_cmd[1:] == ["-m", "pytest", "-q", "tests/test_x.py"]
    assert pytest_env["DATABASE_URL"] == "postgres://postgres@127.0.0.1:5432/portal"
    assert pytest_env["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert all(e["DATABASE_URL"] == pytest_env["DATABASE_URL"] for _cmd, e in runs)  # ruff saw the same


# --- the last line ---------------------------------------------------------------------------------------------


def test_suite_is_the_test_directory():
    assert suite_of("sync/tests/test_sync.py::test_x[a/b]") == "sync/tests"
    assert suite_of("portal/api/tests/test_api.py::TestA::test_b") == "portal/api/tests"
    assert suite_of("tests/security/test_xss.py::test_page") == "tests/security"
    assert suite_of("tests/test_dev_supervisor.py::test_a") == "tests"


def test_skip_reason_drops_pytests_prefix():
    assert skip_reason(("/x/services.py", 41, "Skipped: Redis (REDIS_URL) not available")) == (
        "Redis (REDIS_URL) not available"
    )
    assert skip_reason(["/x/services.py", 41, "Skipped: Chromium not available"]) == "Chromium not available"
    assert skip_reason("Skipped: odd") == "odd"


def test_summary_line_names_each_suite_with_its_reasons_and_counts():
    redis, chromium, pg = (
        "Redis (REDIS_URL) not available",
        "Chromium not available",
        "PostgreSQL not available",
    )
    skips = [
        ("portal/tests/test_worker.py::test_a", redis),
        ("alerts/tests/test_blade.py::test_a", chromium),
        ("portal/tests/test_worker.py::test_b", redis),
        ("portal/tests/test_settings.py::test_pg", pg),
        ("alerts/tests/test_blade.py::test_b", chromium),
        ("portal/tests/test_compose.py::test_c", redis),
    ]
    assert skip_summary(skips) == (
        "Skipped: alerts/tests (2: Chromium not available), "
        "portal/tests (3: Redis (REDIS_URL) not available; 1: PostgreSQL not available)"
    )


def test_summary_line_when_nothing_skipped():
    assert skip_summary([]) == "Skipped: none"


def test_skips_when_asked():
    """Passes in a normal run; skips in the pytest run below, which sets DEV_TEST_COMMAND_SKIP."""
    if os.environ.get("DEV_TEST_COMMAND_SKIP") == "1":
        pytest.skip("asked to")


def test_a_parallel_run_ends_with_the_summary_line_once(tmp_path):
    """Under pytest-xdist the workers' skips reach the controller, which alone prints the line, after pytest's own
    counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "REQUIRE_"))}
    env.update({"DEV_TEST_COMMAND_SKIP": "1", "PORTAL_VAR_DIR": str(tmp_path)})
    here = Path(__file__).relative_to(dev.ROOT)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "2",
            f"{here}::test_skips_when_asked",
            f"{here}::test_suite_is_the_test_directory",
        ],
        cwd=dev.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines[-1] == "Skipped: tests (1: asked to)", done.stdout
    assert sum(line.startswith("Skipped:") for line in lines) == 1
    assert lines[-2].startswith("Random order: --randomly-seed=")  # the seed that reproduces this order
    assert "1 passed, 1 skipped" in lines[-3]
