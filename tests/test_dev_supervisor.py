"""`dev.py run`'s supervisor: a worker that exits is started again (backing off if it keeps exiting); any other
child that exits stops the run. (.ci/smoke_run.py kills the real worker under `dev.py run` and sees it come back.)"""

from __future__ import annotations

import itertools
import sys
import time

import pytest

import dev

EXIT_AT_ONCE = [sys.executable, "-c", "raise SystemExit(3)"]
RUN_FOR_A_WHILE = [sys.executable, "-c", "import time; time.sleep(30)"]


@pytest.fixture
def sup(monkeypatch):
    monkeypatch.setattr(dev, "log", lambda message: None)
    supervisor = dev.Supervisor()
    supervisor.RESTART_BACKOFF_FIRST = 0.1
    supervisor.RESTART_BACKOFF_MAX = 0.4
    yield supervisor
    supervisor.stop()


def starts_of(sup: dev.Supervisor, name: str, seconds: float) -> list[float]:
    """Call check() for `seconds`; return when `name` was started again (relative to the call)."""
    begin = time.monotonic()
    starts: list[float] = []
    pid = dict(sup.children)[name].pid
    while time.monotonic() - begin < seconds:
        assert sup.check() is None
        now_pid = dict(sup.children)[name].pid
        if now_pid != pid:
            starts.append(time.monotonic() - begin)
            pid = now_pid
        time.sleep(0.01)
    return starts


def test_a_child_that_keeps_exiting_is_started_again_with_growing_pauses(sup):
    sup.start("worker", EXIT_AT_ONCE, {}, restart=True)
    starts = starts_of(sup, "worker", 2.2)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(starts) >= 4, starts
    # 0.1, 0.2, 0.4, then capped at 0.4 (plus the child's own start-up time)
    assert gaps[0] >= 0.2 - 0.02 and gaps[1] >= 0.4 - 0.02, gaps
    assert all(gap < 0.4 + 0.5 for gap in gaps), gaps


def test_a_child_that_ran_a_while_is_started_again_at_once(sup):
    sup.STABLE_AFTER = 0.3
    sup.start("worker", RUN_FOR_A_WHILE, {}, restart=True)
    time.sleep(0.4)
    dict(sup.children)["worker"].kill()
    dict(sup.children)["worker"].wait()
    first = dict(sup.children)["worker"].pid
    assert sup.check() is None
    assert dict(sup.children)["worker"].pid != first  # no pause
    assert len(sup.children) == 1  # the old process is no longer tracked


def test_any_other_child_that_exits_stops_the_run(sup):
    sup.start("worker", RUN_FOR_A_WHILE, {}, restart=True)
    sup.start("web", EXIT_AT_ONCE, {})
    deadline = time.monotonic() + 10
    while (exited := sup.check()) is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert exited == "web"
