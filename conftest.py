"""Root conftest: shared fixtures, the rule that a CI run (REQUIRE_SERVICES/REQUIRE_BROWSER) skips nothing, and the
run's last lines: the random order's seed, and which suite skipped tests and why (`Skipped: portal/tests (5: Redis (REDIS_URL) not
available)` or `Skipped: none`)."""

from __future__ import annotations

import os

from portal.testing.services import skip_reason, skip_summary

# Playwright's sync API runs an event loop in the test thread; Django must still allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = ["portal.testing.fixtures"]

_skipped: list[str] = []
_skips: list[tuple[str, str]] = []  # (nodeid, reason) of each skipped test, for the last line
_ran = False  # the session ran tests (not --collect-only, not a usage or internal error)


def pytest_runtest_logreport(report):
    # Under pytest-xdist the workers' reports reach the controller's hook too; only the controller prints.
    if report.skipped:
        _skipped.append(
            f"{report.nodeid}: {report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr}"
        )
        if not hasattr(report, "wasxfail"):
            _skips.append((report.nodeid, skip_reason(report.longrepr)))


def pytest_sessionfinish(session, exitstatus):
    global _ran
    _ran = (
        not session.config.option.collectonly
        and session.testscollected > 0
        and int(exitstatus) in (0, 1, 2)  # ok, tests failed, interrupted (-x, Ctrl-C)
    )
    strict = os.environ.get("REQUIRE_SERVICES") == "1" or os.environ.get("REQUIRE_BROWSER") == "1"
    if strict and _skipped and not hasattr(session.config, "workerinput"):
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_line("")
            tr.write_line(
                f"FAILED: {len(_skipped)} test(s) skipped under REQUIRE_SERVICES/REQUIRE_BROWSER:", red=True
            )
            for line in _skipped:
                tr.write_line(f"  {line}", red=True)
        session.exitstatus = 1


def pytest_unconfigure(config):
    # After pytest's own summary and its "N passed, M skipped" line, so that it is the run's very last line (a
    # pytest_terminal_summary hook would print before pytest's counts).
    if not _ran or hasattr(config, "workerinput"):
        return
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        seed = getattr(config.option, "randomly_seed", None)
        if isinstance(seed, int):  # pytest-randomly's order (pass -p no:randomly to run in file order)
            tr.write_line(
                f"Random order: --randomly-seed={seed} (reproduce without xdist: -p no:xdist --randomly-seed={seed})"
            )
        tr.write_line(skip_summary(_skips), yellow=bool(_skips))
