"""Which real services this test run has, and what to do when one is missing.

Locally a test that needs PostgreSQL, Redis, a Celery worker or Chromium skips when it is absent. With
REQUIRE_SERVICES=1 / REQUIRE_BROWSER=1 (as .ci/run sets them) it fails instead, and any skip at all fails the run
(see the conftest's sessionfinish hook), so CI cannot silently test less than it claims. Every run ends with one line
naming the suites that skipped tests and why (`skip_summary`).
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]


def require_services() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def require_browser() -> bool:
    return os.environ.get("REQUIRE_BROWSER") == "1"


def missing(what: str, *, browser: bool = False) -> None:
    """Skip, or fail when the run requires the service."""
    if (browser and require_browser()) or (not browser and require_services()):
        pytest.fail(
            f"{what} is required by this run (REQUIRE_{'BROWSER' if browser else 'SERVICES'}=1) but missing"
        )
    pytest.skip(f"{what} not available")


def tcp_open(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "")


def need_redis() -> str:
    url = redis_url()
    if not url or not tcp_open(url, 6379):
        missing("Redis (REDIS_URL)")
    return url


def need_postgres() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        missing("PostgreSQL (DATABASE_URL)")


def need_chromium() -> str:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        missing(f"Chromium at {CHROMIUM}", browser=True)
    return CHROMIUM if os.path.exists(CHROMIUM) else str(shutil.which("chromium"))


def specs_dir() -> Path:
    """The Azure REST spec example payloads: a copy of the shared azure-specs folder kept with the tests (any clone
    has it), or AZURE_SPECS_DIR."""
    candidates = [os.environ.get("AZURE_SPECS_DIR", ""), str(ROOT / "tests" / "reference" / "azure-specs")]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    missing("the Azure REST spec examples (AZURE_SPECS_DIR)")
    raise AssertionError("unreachable")


def suite_of(nodeid: str) -> str:
    """The suite of a test: its directory (`portal/tests`, `tests/security`, `tests` for `tests/test_x.py`)."""
    path = nodeid.split("::", 1)[0]
    return path.rsplit("/", 1)[0] if "/" in path else "."


def skip_reason(longrepr: object) -> str:
    """The reason of a skipped test's report ("Redis (REDIS_URL) not available")."""
    text = str(longrepr[2] if isinstance(longrepr, tuple | list) and len(longrepr) == 3 else longrepr)
    return text.removeprefix("Skipped: ")


def skip_summary(skips: list[tuple[str, str]]) -> str:
    """One line from (nodeid, reason) pairs: each suite with skips, by name, and per reason how many, most first.

    `Skipped: alerts/tests (2: Chromium not available), portal/tests (5: Redis (REDIS_URL) not available; 1: ...)`
    """
    if not skips:
        return "Skipped: none"
    counts: dict[str, dict[str, int]] = {}
    for nodeid, reason in skips:
        per_reason = counts.setdefault(suite_of(nodeid), {})
        per_reason[reason] = per_reason.get(reason, 0) + 1
    parts = []
    for suite in sorted(counts):
        reasons = sorted(counts[suite].items(), key=lambda item: (-item[1], item[0]))
        parts.append(f"{suite} ({'; '.join(f'{n}: {reason}' for reason, n in reasons)})")
    return "Skipped: " + ", ".join(parts)
