"""Configuration only from the environment; production mode refuses to start without its secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from portal.testing.env import without_test_env

ROOT = Path(__file__).resolve().parents[2]
BOOT = "import django; django.setup(); from django.conf import settings; print(settings.DATABASES['default']['ENGINE'], settings.DEBUG)"


def _boot(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in without_test_env(dict(os.environ)).items()
        if k not in {"DATABASE_URL", "SECRET_KEY", "DEBUG", "REDIS_URL"}
    }
    base.update(
        {"DJANGO_SETTINGS_MODULE": "portal.settings", "PORTAL_VAR_DIR": str(ROOT / "var" / "boot-test")}
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "-c", BOOT], cwd=ROOT, env=base, capture_output=True, text=True, timeout=60
    )


def test_development_mode_boots_on_embedded_defaults():
    result = _boot({"DEBUG": "1"})
    assert result.returncode == 0, result.stderr
    assert "sqlite3 True" in result.stdout


def test_production_mode_refuses_without_secret_key_and_database():
    result = _boot({"DEBUG": "0"})
    assert result.returncode != 0
    assert "refuses to start without SECRET_KEY, DATABASE_URL" in result.stderr
    result = _boot({"DEBUG": "0", "SECRET_KEY": "x" * 50, "DATABASE_URL": "sqlite:///tmp/x.db"})
    assert "needs a real DATABASE_URL" in result.stderr
    result = _boot({"DEBUG": "0", "SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://u@127.0.0.1/db"})
    assert result.returncode == 0, result.stderr


def test_bad_values_get_a_clear_error():
    result = _boot({"DEBUG": "maybe"})
    assert "DEBUG='maybe' is not a boolean" in result.stderr
    result = _boot({"DEBUG": "1", "EMAIL_URL": "gopher://x"})
    assert "EMAIL_URL scheme 'gopher' is not supported" in result.stderr


def test_email_url_parsing():
    from portal.settings import _email_from_url

    cfg = _email_from_url("smtp+tls://user%40x:p%3Ass@mail.example:2525")
    assert cfg["EMAIL_HOST"] == "mail.example" and cfg["EMAIL_PORT"] == 2525
    assert (
        cfg["EMAIL_HOST_USER"] == "user@x" and cfg["EMAIL_HOST_PASSWORD"] == "p:ss" and cfg["EMAIL_USE_TLS"]
    )
    assert _email_from_url("smtps://h")["EMAIL_PORT"] == 465


def test_ci_runs_on_postgresql_when_required(db):
    """Under REQUIRE_SERVICES the suite must really be on PostgreSQL (not silently on SQLite)."""
    from django.db import connection

    from portal.testing.services import need_postgres

    need_postgres()
    assert connection.vendor == "postgresql"
