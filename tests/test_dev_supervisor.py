"""`dev.py run`'s supervisor, on a fake clock and fake processes: a worker that exits is started again (backing off
while it keeps exiting soon after starting); any other child that exits stops the run. .ci/smoke_run.py kills the
real worker under `dev.py run` and waits for the new one to be ready."""

from __future__ import annotations

import itertools

import pytest

import dev


class FakeProc:
    pids = itertools.count(5_000_000)  # above Linux's pid_max: never a real process

    def __init__(self, cmd: list[str], **_kw: object) -> None:
        self.cmd, self.pid, self.returncode = cmd, next(self.pids), None

    def poll(self) -> int | None:
        return self.returncode


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def killed(monkeypatch):
    groups: list[int] = []
    monkeypatch.setattr(dev, "log", lambda message: None)
    monkeypatch.setattr(dev.os, "killpg", lambda pgid, sig: groups.append(pgid))
    return groups


@pytest.fixture
def sup(clock, killed):
    return dev.Supervisor(clock=clock, popen=FakeProc)


def proc_of(sup: dev.Supervisor, name: str) -> FakeProc:
    return dict(sup.children)[name]


def pause_before_restart(sup: dev.Supervisor, clock: Clock, name: str, *, ran: float) -> float:
    """Let `name` run `ran` seconds and exit; step the clock by 1/8 s (exact in binary) until check() starts it
    again; return how long it waited."""
    clock.now += ran
    old = proc_of(sup, name)
    old.returncode = 1
    exited = clock.now
    while proc_of(sup, name) is old:
        assert sup.check() is None
        clock.now += 0.125
        assert clock.now - exited < 100, "never started again"
    return clock.now - 0.125 - exited


def test_a_child_that_keeps_exiting_is_started_again_after_growing_pauses(sup, clock):
    sup.start("worker", ["celery", "worker"], {}, restart=True)
    pauses = [pause_before_restart(sup, clock, "worker", ran=0.5) for _ in range(7)]
    assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert proc_of(sup, "worker").cmd == ["celery", "worker"]
    assert len(sup.children) == 1  # the exited processes are no longer tracked


def test_a_child_that_ran_a_while_is_started_again_at_once_and_its_backoff_resets(sup, clock):
    sup.start("worker", ["celery", "worker"], {}, restart=True)
    assert [pause_before_restart(sup, clock, "worker", ran=0.5) for _ in range(3)] == [1.0, 2.0, 4.0]
    assert pause_before_restart(sup, clock, "worker", ran=dev.Supervisor.STABLE_AFTER) == 0.0
    assert pause_before_restart(sup, clock, "worker", ran=0.5) == 1.0


def test_a_restart_clears_the_old_process_group(sup, clock, killed):
    sup.start("worker", ["celery", "worker"], {}, restart=True)
    old = proc_of(sup, "worker").pid
    pause_before_restart(sup, clock, "worker", ran=120)
    assert killed == [old]
    assert sup.restarts == ["worker (exit code 1)"]  # what the drills report


def test_any_other_child_that_exits_stops_the_run(sup, clock):
    sup.start("worker", ["celery", "worker"], {}, restart=True)
    sup.start("web", ["runserver"], {})
    assert sup.check() is None
    proc_of(sup, "web").returncode = 1
    assert sup.check() == "web"


def test_ctrl_c_while_a_child_starts_waits_until_it_is_recorded(clock, killed):
    def popen(cmd: list[str], **kw: object) -> FakeProc:
        sup.interrupt()  # the signal arrives in the middle of starting
        return FakeProc(cmd)

    sup = dev.Supervisor(clock=clock, popen=popen)
    with pytest.raises(KeyboardInterrupt):
        sup.start("worker", ["celery", "worker"], {}, restart=True)
    assert [name for name, _ in sup.children] == ["worker"]  # stop() will stop it
    with pytest.raises(KeyboardInterrupt):
        sup.interrupt()


def test_a_worker_that_does_no_work_is_restarted(clock, killed, tmp_path):
    """After a Redis restart a worker can stay up and consume nothing: beat's portal.worker_alive then stops
    touching its file, and the supervisor restarts it (not before it has run LIVENESS_MAX_AGE)."""
    wall = Clock()
    wall.now = 1_000_000.0
    sup = dev.Supervisor(clock=clock, popen=FakeProc, wall=wall)
    alive = tmp_path / "worker-alive"
    sup.start("worker", ["celery", "worker"], {}, restart=True)
    sup.watch("worker", alive)
    first = proc_of(sup, "worker")
    clock.now += 60
    wall.now += 60
    assert sup.check() is None and proc_of(sup, "worker") is first  # still starting up: no file yet is fine
    alive.touch()
    import os

    os.utime(alive, (wall.now, wall.now))
    clock.now += 60
    wall.now += 60
    assert sup.check() is None and proc_of(sup, "worker") is first  # touched 60 s ago: working
    clock.now += 40
    wall.now += 40
    assert sup.check() is None
    assert proc_of(sup, "worker") is not first and killed == [first.pid]  # 100 s without work: restarted
    assert sup.restarts == ["worker (no work for 100 s)"]
    clock.now += 30
    wall.now += 30
    assert sup.check() is None and len(sup.restarts) == 1  # the new one gets its grace period
