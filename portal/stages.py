"""Where a sync's time goes: seconds and SQL statements per named stage, recorded while a run is being measured.

    with stages.recording() as recorder:          # the sync orchestrator, around one run
        with stages.stage("incidents"):           # any code on the sync's path, at any depth
            ...
    recorder.as_dict()  # {"incidents": {"seconds": 0.8, "statements": 3000, "calls": 1000}, ...}

Stages nest: time spent in an inner stage is counted there only (the outer one pauses), and every statement the
default database connection runs is counted in the innermost stage open at the time (statements outside any stage
go to "other"). Outside `recording()`, `stage()` costs a context-variable read and nothing else, so code may mark
its stages unconditionally. A new step on the sync's path shows up here (and in `bench/sync.py`) the day it is added.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.db import connection


@dataclass
class _Figures:
    seconds: float = 0.0
    statements: int = 0
    calls: int = 0


class StageRecorder:
    """Figures per stage. Several threads may record into one recorder (the sync's writer thread): each has its own
    stack of open stages, so their times add up to more than the wall time when they overlap."""

    def __init__(self) -> None:
        self.figures: dict[str, _Figures] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def _stack(self) -> list[tuple[str, float]]:
        stack: list[tuple[str, float]] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def _get(self, name: str) -> _Figures:
        figures = self.figures.get(name)
        if figures is None:
            figures = self.figures[name] = _Figures()
        return figures

    def enter(self, name: str) -> None:
        now = time.perf_counter()
        stack = self._stack()
        with self._lock:
            if stack:
                outer, since = stack[-1]
                self._get(outer).seconds += now - since
            self._get(name).calls += 1
        stack.append((name, now))

    def leave(self) -> None:
        now = time.perf_counter()
        stack = self._stack()
        name, since = stack.pop()
        with self._lock:
            self._get(name).seconds += now - since
        if stack:
            outer, _ = stack[-1]
            stack[-1] = (outer, now)

    def count_statement(self) -> None:
        stack = self._stack()
        with self._lock:
            self._get(stack[-1][0] if stack else "other").statements += 1

    def as_dict(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                name: {"seconds": round(f.seconds, 4), "statements": f.statements, "calls": f.calls}
                for name, f in self.figures.items()
            }


_current: ContextVar[StageRecorder | None] = ContextVar("sync_stage_recorder", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    recorder = _current.get()
    if recorder is None:
        yield
        return
    recorder.enter(name)
    try:
        yield
    finally:
        recorder.leave()


@contextmanager
def recording(initial: dict[str, dict[str, Any]] | None = None) -> Iterator[StageRecorder]:
    """Record stages (and count the default connection's statements) until the block ends. `initial`: figures
    recorded before (an earlier attempt of the same run, as `as_dict()` gave them) to add to."""
    recorder = StageRecorder()
    for name, values in (initial or {}).items():
        if isinstance(values, dict):
            recorder.figures[name] = _Figures(
                seconds=float(values.get("seconds") or 0),
                statements=int(values.get("statements") or 0),
                calls=int(values.get("calls") or 0),
            )
    with attach(recorder):
        yield recorder


@contextmanager
def attach(recorder: StageRecorder) -> Iterator[None]:
    """Record into `recorder` from this thread too (stages, and the statements of this thread's connection)."""
    token = _current.set(recorder)

    def counter(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        recorder.count_statement()
        return execute(sql, params, many, context)

    try:
        with connection.execute_wrapper(counter):
            yield
    finally:
        _current.reset(token)


def current() -> StageRecorder | None:
    return _current.get()


def count_statements(n: int = 1) -> None:
    """Statements run outside Django's cursor wrappers (psycopg's COPY), counted by hand."""
    recorder = _current.get()
    if recorder is not None:
        for _ in range(n):
            recorder.count_statement()
