"""bench/sync.py reports only what it measured: a figure comes from the one run that did the work, or the bench
fails (a first sync once read 30x too fast because the bench reported a second, empty pass)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench import sync as bench


def _run(pk, new=0, changed=0, unchanged=0, status="succeeded"):
    return SimpleNamespace(
        pk=pk,
        alerts_new=new,
        alerts_changed=changed,
        alerts_unchanged=unchanged,
        alerts_malformed=0,
        status=status,
        errors=[],
    )


@pytest.fixture(autouse=True)
def _fresh_failures(monkeypatch):
    monkeypatch.setattr(bench, "FAILURES", [])


def test_one_run_that_stored_every_alert_passes():
    run = _run(1, new=1000)
    assert bench.check_runs("first sync", [run], bench.Expect(1000, new=1000, changed=0, unchanged=0)) is run
    assert bench.FAILURES == []


def test_a_second_empty_pass_fails_and_the_figures_are_the_first_pass():
    """What d4054a3's command did: the subscription synced through two connections, the second pass found all
    alerts unchanged; the old bench read that one."""
    stored, empty = _run(1, new=1000), _run(2, unchanged=1000)
    reported = bench.check_runs(
        "first sync", [empty, stored], bench.Expect(1000, new=1000, changed=0, unchanged=0)
    )
    assert reported is stored
    assert len(bench.FAILURES) == 1 and "made 2 runs" in bench.FAILURES[0]


@pytest.mark.parametrize(
    ("run", "why"),
    [
        (_run(1, new=600, unchanged=400), "stored new/changed/unchanged = (600, 0, 400)"),
        (_run(1, new=1000, status="failed"), "ended failed"),
    ],
)
def test_a_run_that_did_not_do_the_work_fails(run, why):
    bench.check_runs("first sync", [run], bench.Expect(1000, new=1000, changed=0, unchanged=0))
    assert any(why in f for f in bench.FAILURES), bench.FAILURES


def test_no_run_at_all_is_an_error():
    with pytest.raises(bench.BenchFailed):
        bench.check_runs("first sync", [], bench.Expect(1000, new=1000, changed=0, unchanged=0))


def test_the_generated_count_lists_exactly_what_was_asked_once_one_in_100_is_held_back():
    for alerts in (1, 99, 100, 20_000, 100_000):
        total = bench.listed_for(alerts)
        assert total - total // bench.HOLD_BACK_EVERY == alerts
