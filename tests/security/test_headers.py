"""Headers and cookies in production mode (a subprocess with DEBUG=0), `check --deploy` clean, and the strict CSP
in every mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from portal.testing.env import without_test_env

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "prod-" + "k3y-" * 16,
    "DATABASE_URL": "postgres://nobody@127.0.0.1:5432/not_used",
    "ALLOWED_HOSTS": "portal.contoso.com",
}
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="portal.contoso.com")
login = client.get("/accounts/login/", secure=True)
plain = client.get("/accounts/login/")
cookie = login.cookies.get(settings.CSRF_COOKIE_NAME)
print(json.dumps({
    "status": login.status_code,
    "headers": {k.lower(): v for k, v in login.items()},
    "plain_status": plain.status_code, "plain_location": plain.get("Location", ""),
    "csrf_cookie": {"secure": bool(cookie["secure"]), "samesite": cookie["samesite"]} if cookie else None,
    "session": {"secure": settings.SESSION_COOKIE_SECURE, "httponly": settings.SESSION_COOKIE_HTTPONLY,
                "samesite": settings.SESSION_COOKIE_SAMESITE, "age": settings.SESSION_COOKIE_AGE,
                "browser_close": settings.SESSION_EXPIRE_AT_BROWSER_CLOSE},
}))
"""


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    drop = {
        "DATABASE_URL",
        "REDIS_URL",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    }  # the last: Playwright's
    base = {k: v for k, v in without_test_env(dict(os.environ)).items() if k not in drop}
    base.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PORTAL_VAR_DIR": str(ROOT / "var" / "prod-test"),
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_in_production_settings():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_headers_and_cookies(tmp_path):
    env = {
        **PRODUCTION,
        "STATIC_ROOT": str(tmp_path / "static"),
    }  # production serves hashed assets: collect them
    collected = _run(["manage.py", "collectstatic", "--noinput"], env)
    assert collected.returncode == 0, collected.stderr
    result = _run(["-c", PROBE], env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    h = data["headers"]
    assert data["status"] == 200
    assert (
        h["strict-transport-security"].startswith("max-age=31536000")
        and "includeSubDomains" in h["strict-transport-security"]
    )
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "same-origin"
    assert h["x-content-type-options"] == "nosniff"
    assert h["cross-origin-opener-policy"] == "same-origin"
    csp = h["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert data["plain_status"] == 301 and data["plain_location"].startswith("https://")  # HTTP goes to HTTPS
    assert data["csrf_cookie"] == {"secure": True, "samesite": "Lax"}
    assert data["session"] == {
        "secure": True,
        "httponly": True,
        "samesite": "Lax",
        "age": 8 * 3600,
        "browser_close": True,
    }


@pytest.mark.django_db
def test_every_html_page_carries_the_strict_csp(client, personas):
    client.force_login(personas.owner)
    for url in ("/", "/alerts/", "/account/preferences/", "/api/docs/", "/admin/"):
        response = client.get(url)
        csp = response["Content-Security-Policy"]
        assert "'unsafe-inline'" not in csp and "script-src 'self'" in csp, url
