"""A real Celery worker process on Redis runs a task and writes to the shared database."""

from __future__ import annotations

import pytest

from portal.celery import ping


@pytest.mark.services
def test_task_round_trip_through_a_real_worker(celery_worker):
    result = ping.delay("hello")
    assert result.get(timeout=30) == "hello"
    assert celery_worker.running()


@pytest.mark.services
def test_the_session_worker_stops_and_starts_consuming_between_worker_tests(celery_worker):
    """What the fixture does after each worker test, so that tasks a later test queues wait for the next worker
    test instead of writing while a database is flushed."""
    import time

    from celery.exceptions import TimeoutError as CeleryTimeout

    from portal.testing.fixtures import _consuming

    _consuming(False)
    waiting = ping.delay("queued while not consuming")
    with pytest.raises(CeleryTimeout):
        waiting.get(timeout=2)
    started = time.monotonic()
    _consuming(True)
    assert waiting.get(timeout=30) == "queued while not consuming"
    assert time.monotonic() - started < 30
