"""Load: N concurrent analysts (list, filter, detail, status change, feedback) against gunicorn + PostgreSQL + a
Celery worker writing status back to the emulator, while a sync runs again and again.

    .venv/bin/python -m bench.load [--analysts 50] [--seconds 120] [--gunicorn-workers 4] [--pg postgres://...]
    .venv/bin/python -m bench.load --analysts 10 --seconds 15 --check      # the short form CI runs

Everything is started here and stopped at the end: the emulator (demo preset, its own process), a throwaway
PostgreSQL database, gunicorn in production mode (DEBUG=0, collected static files), a Celery worker on a Redis
database of its own (index 11, emptied before and after), and a loop of `manage.py sync_azure`. Analysts are
threads with their own session (created server-side: the sign-in form's throttling is not what is measured) and
their own CSRF token. Prints p50/p95 per page and every error; `--check` exits 1 if any request failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

if not __package__:  # run by its path, not as `python -m bench.<name>`: start again that way
    import _as_module

    _as_module.rerun(__file__)

from bench._common import DEFAULT_PG, PY, ROOT, drop_database, free_port, fresh_database, start_emulator
from dev import worker_command

REDIS = "redis://127.0.0.1:6379/11"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


SETUP = """
import json, sys
import django
django.setup()
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
from portal.accounts.models import Role, RoleAssignment
from portal.inventory.models import Subscription
from alerts.models import Alert
n = int(sys.argv[1])
subs = list(Subscription.objects.all())
sessions = []
for i in range(n):
    user, _ = User.objects.get_or_create(username=f"analyst{i:02d}")
    for sub in subs:
        RoleAssignment.objects.get_or_create(subscription=sub, user=user, defaults={"role": Role.SECURITY_ADMIN})
    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    store["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    store["_auth_user_hash"] = user.get_session_auth_hash()
    store.create()
    sessions.append(store.session_key)
ids = list(Alert.objects.order_by("-time_generated").values_list("pk", flat=True)[:2000])
types = sorted(set(Alert.objects.filter(alert_type__startswith="KV_").values_list("alert_type", flat=True)[:5000]))
print(json.dumps({"sessions": sessions, "alerts": ids, "types": types, "cookie": settings.SESSION_COOKIE_NAME}))
"""


class Analyst(threading.Thread):
    def __init__(
        self,
        base: str,
        session: str,
        cookie: str,
        world: dict,
        deadline: float,
        results: dict,
        errors: list[str],
        seed: int,
    ) -> None:
        super().__init__(daemon=True)
        from http.cookiejar import DefaultCookiePolicy

        import requests

        self.http = requests.Session()
        # Production cookies are Secure and this client speaks plain HTTP to gunicorn (a TLS proxy's job): the
        # cookies are sent by hand, and the jar keeps none.
        self.http.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.session_cookie = f"{cookie}={session}"
        self.http.headers["Cookie"] = self.session_cookie
        # Production mode behind a TLS proxy: the proxy's header makes the request secure for Django.
        self.http.headers.update(
            {"X-Forwarded-Proto": "https", "Referer": base.replace("http://", "https://") + "/"}
        )
        self.base, self.world, self.deadline = base, world, deadline
        self.results, self.errors = results, errors
        self.random = random.Random(seed)
        self.csrf = ""

    def timed(self, page: str, method: str, path: str, **kw: object) -> object:
        t0 = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, timeout=60, allow_redirects=False, **kw)
        except Exception as exc:
            self.errors.append(f"{page} {path}: {type(exc).__name__}: {exc}")
            return None
        elapsed = (time.perf_counter() - t0) * 1000
        self.results[page].append(elapsed)
        if response.status_code >= 400:
            text = re.sub(
                r"\s+", " ", re.sub(r"<(style|script)[^>]*>.*?</\1>|<[^>]+>", " ", response.text, flags=re.S)
            )
            self.errors.append(f"{page} {method} {path}: HTTP {response.status_code} {text.strip()[:300]!r}")
        return response

    def run(self) -> None:
        r = self.random
        first = self.timed("list (default)", "GET", "/alerts/")
        if first is not None:
            # the CSRF cookie is Secure (production): this plain-HTTP client sends it back by hand
            found_cookie = re.search(r"csrftoken=([^;]+)", first.headers.get("Set-Cookie", ""))
            cookie = found_cookie.group(1) if found_cookie else ""
            self.http.headers["Cookie"] = f"{self.session_cookie}; csrftoken={cookie}"
            found = re.search(r'"X-CSRFToken": "([^"]+)"', first.text)
            self.csrf = found.group(1) if found else cookie
        while time.monotonic() < self.deadline:
            action = r.random()
            alert = r.choice(self.world["alerts"])
            if action < 0.25:
                self.timed("list (default)", "GET", "/alerts/")
            elif action < 0.5:
                choice = r.choice(
                    [
                        f"severity={r.choice(['High', 'Medium', 'Low'])}",
                        f"type={r.choice(self.world['types'])}",
                        "status=Active&status=InProgress&status=Resolved&status=Dismissed&sort=severity",
                        f"q={r.choice(['tor', '203.0.113', 'alice', 'secret'])}",
                    ]
                )
                self.timed("list (filtered)", "GET", f"/alerts/?{choice}")
            elif action < 0.8:
                self.timed("alert detail", "GET", f"/alerts/{alert}/")
            elif action < 0.93:
                status = r.choice(["InProgress", "Active"])
                self.timed(
                    "status change (POST)",
                    "POST",
                    f"/alerts/{alert}/status/",
                    data={"status": status},
                    headers={"X-CSRFToken": self.csrf, "HX-Request": "true"},
                )
            else:
                self.timed(
                    "feedback (POST)",
                    "POST",
                    f"/feedback/alerts/{alert}/",
                    data={"useful": "no", "reason": "NotRelevant", "text": "load test"},
                    headers={"X-CSRFToken": self.csrf, "HX-Request": "true"},
                )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--analysts", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", DEFAULT_PG))
    parser.add_argument("--check", action="store_true", help="exit 1 if any request failed")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="kv-load-"))
    emulator, emulator_env = start_emulator(tmp / "emulator", "--preset", "demo")
    db_url = fresh_database(args.pg, "bench_load")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({k: v for k, v in emulator_env.items() if not k.startswith(("AZURE_TENANT", "AZURE_CLIENT"))})
    env.update(
        {
            "DATABASE_URL": db_url,
            "REDIS_URL": REDIS,
            "DEBUG": os.environ.get("LOAD_DEBUG", "0"),
            "SECRET_KEY": secrets.token_urlsafe(40),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "STATIC_ROOT": str(tmp / "static"),
            "LOG_LEVEL": "WARNING",
            "PORTAL_BASE_URL": f"http://127.0.0.1:{port}",
            "PORTAL_VAR_DIR": str(tmp / "var"),
            "CELERY_DEFAULT_QUEUE": "bench-load",
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
        }
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        import redis

        redis.Redis.from_url(REDIS).flushdb()
        manage(env, "migrate", "--no-input", "-v0")
        manage(env, "collectstatic", "--no-input", "-v0")
        manage(env, "load_connections", str(tmp / "emulator" / "connections.json"))
        t0 = time.perf_counter()
        manage(env, "sync_azure")
        print(f"first sync of the emulator's demo tenants: {time.perf_counter() - t0:.1f} s", flush=True)
        made = subprocess.run(
            [PY, "-c", SETUP, str(args.analysts)], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if made.returncode:
            raise SystemExit(f"setting up the analysts failed:\n{made.stderr}")
        world = json.loads(made.stdout.strip().splitlines()[-1])
        print(f"{len(world['alerts'])} alerts to open; {args.analysts} analysts", flush=True)
        log = open(tmp / "servers.log", "wb")  # noqa: SIM115 - closed with the processes
        procs.append(
            subprocess.Popen(
                [
                    PY,
                    "-m",
                    "gunicorn",
                    "portal.wsgi",
                    "-w",
                    str(args.gunicorn_workers),
                    "-b",
                    f"127.0.0.1:{port}",
                    "--timeout",
                    "60",
                    "--access-logfile",
                    "-",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        )
        procs.append(
            subprocess.Popen(
                worker_command(PY, "--loglevel=WARNING", "-Q", "bench-load"),
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
            )
        )
        import requests

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not answer")

        stop = threading.Event()
        syncs = [0]

        def sync_loop() -> None:
            while not stop.is_set():
                subprocess.run([PY, "manage.py", "sync_azure"], cwd=ROOT, env=env, capture_output=True)
                syncs[0] += 1

        syncer = threading.Thread(target=sync_loop, daemon=True)
        syncer.start()
        results: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []
        end = time.monotonic() + args.seconds
        analysts = [
            Analyst(f"http://127.0.0.1:{port}", s, world["cookie"], world, end, results, errors, seed=i)
            for i, s in enumerate(world["sessions"])
        ]
        started = time.perf_counter()
        for a in analysts:
            a.start()
        for a in analysts:
            a.join()
        wall = time.perf_counter() - started
        stop.set()
        syncer.join(timeout=120)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        emulator.terminate()
        drop_database(args.pg, db_url)
        try:
            import redis

            redis.Redis.from_url(REDIS).flushdb()
        except Exception:  # noqa: S110 - best effort
            pass

    total = sum(len(v) for v in results.values())
    print(
        f"\n{args.analysts} analysts for {args.seconds} s ({wall:.0f} s wall), gunicorn -w {args.gunicorn_workers}, "
        f"{syncs[0]} syncs ran meanwhile; {total} requests ({total / wall:.0f}/s), {len(errors)} errors\n"
    )
    print(f"{'page':28} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    figures = {}
    for page in sorted(results):
        values = results[page]
        figures[page] = {
            "n": len(values),
            "p50": round(statistics.median(values), 1),
            "p95": round(percentile(values, 0.95), 1),
            "max": round(max(values), 1),
        }
        f = figures[page]
        print(f"{page:28} {f['n']:>9} {f['p50']:>8} {f['p95']:>8} {f['max']:>8}")
    for line in errors[:20]:
        print("ERROR", line)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "analysts": args.analysts,
                    "seconds": args.seconds,
                    "errors": errors,
                    "pages": figures,
                    "syncs": syncs[0],
                },
                indent=1,
            )
        )
    return 1 if args.check and (errors or not total) else 0


if __name__ == "__main__":
    sys.exit(main())
