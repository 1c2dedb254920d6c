"""Root conftest: shared fixtures, and the rule that a CI run (REQUIRE_SERVICES/REQUIRE_BROWSER) skips nothing."""

from __future__ import annotations

import os

# Playwright's sync API runs an event loop in the test thread; Django must still allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytest_plugins = ["portal.testing.fixtures"]

_skipped: list[str] = []


def pytest_runtest_logreport(report):  # type: ignore[no-untyped-def]
    if report.skipped:
        _skipped.append(
            f"{report.nodeid}: {report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr}"
        )


def pytest_sessionfinish(session, exitstatus):  # type: ignore[no-untyped-def]
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
