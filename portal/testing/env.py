"""The test run's environment, set before Django reads its settings (a pytest plugin: `-p portal.testing.env` in
pyproject's addopts, loaded before pytest-django sets Django up).

The settings have no test switch: a test run is a development run (DEBUG=1) whose differences are ordinary
configuration, stated here. Each pytest-xdist worker gets its own cache and Celery queue; subprocesses the tests
start (a Celery worker, a web server) inherit all of it.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# One run's cache is its own: a rate-limit counter or a cached menu of an earlier run (same user ids, as each run
# creates its test database afresh) must not leak into this one. xdist gives its workers the run's id.
RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID", "")[:8] or os.environ.setdefault(
    "PORTAL_TEST_RUN", uuid.uuid4().hex[:8]
)
CACHE_ROOT = ROOT / "var" / "cache-test"

TEST_ENV = {
    "DEBUG": "1",  # a development run: the production guard (SECRET_KEY, PostgreSQL) does not apply
    "ALLOWED_HOSTS": "*",  # Django's test client says "testserver"; live servers listen on loopback
    "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",  # fast; never outside tests
    "CACHE_KEY_PREFIX": f"portal-test-{RUN}-{WORKER}",
    "CACHE_DIR": str(CACHE_ROOT / f"{RUN}-{WORKER}"),
    "CELERY_DEFAULT_QUEUE": f"test-{WORKER}",
}


def without_test_env(environ: dict[str, str]) -> dict[str, str]:
    """`environ` without what this module set: for a subprocess that must boot as a real deployment would."""
    return {k: v for k, v in environ.items() if k not in TEST_ENV}


os.environ.update(TEST_ENV)

# file caches of runs older than a day go (Redis keys expire by themselves)
if CACHE_ROOT.is_dir():
    for old in CACHE_ROOT.iterdir():
        if old.is_dir() and time.time() - old.stat().st_mtime > 86400:
            shutil.rmtree(old, ignore_errors=True)
