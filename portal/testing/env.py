"""The test run's environment, set before Django reads its settings (a pytest plugin: `-p portal.testing.env` in
pyproject's addopts, loaded before pytest-django sets Django up).

The settings have no test switch: a test run is a development run (DEBUG=1) whose differences are ordinary
configuration, stated here. Each pytest-xdist worker gets its own cache and Celery queue; subprocesses the tests
start (a Celery worker, a web server) inherit all of it.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")

TEST_ENV = {
    "DEBUG": "1",  # a development run: the production guard (SECRET_KEY, PostgreSQL) does not apply
    "ALLOWED_HOSTS": "*",  # Django's test client says "testserver"; live servers listen on loopback
    "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",  # fast; never outside tests
    "CACHE_KEY_PREFIX": f"portal-test-{WORKER}",
    "CACHE_DIR": str(ROOT / "var" / f"cache-test-{WORKER}"),
    "CELERY_DEFAULT_QUEUE": f"test-{WORKER}",
}


def without_test_env(environ: dict[str, str]) -> dict[str, str]:
    """`environ` without what this module set: for a subprocess that must boot as a real deployment would."""
    return {k: v for k, v in environ.items() if k not in TEST_ENV}


os.environ.update(TEST_ENV)
