#!/usr/bin/env python
"""The Security alerts list over 1,000,000 alerts in PostgreSQL: server time per view, in one run.

    .venv/bin/python -m bench.list_page [--alerts 1000000] [--repeat 30] [--reuse] [--pg postgres://...]

Loads N alerts of the emulator's scale preset (generated in-process, stored through the sync's own upsert) into a
PostgreSQL database `bench_list_<N>` (kept with --reuse), then times each view through Django's test client
(the whole request: middleware, queries, template): p50/p95 and query counts for the default view, each filter,
three filters, free text, page 100 via the cursor, the alert detail page, and the Django admin changelist of the
same table. Also streams a CSV export of every alert and reports the process's peak RSS.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import os
import re
import resource
import statistics
import time

if not __package__:  # run by its path, not as `python -m bench.<name>`: start again that way
    import _as_module

    _as_module.rerun(__file__)

from bench._common import DEFAULT_PG, setup_django


def ensure_database(admin_url: str, name: str, reuse: bool) -> tuple[str, bool]:
    import psycopg

    url = admin_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not reuse:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    return url, bool(exists)


def load(n: int) -> None:
    """N scale-preset alerts, through the sync's upsert (so rollup, vault links, search text are the real ones)."""
    import orjson
    from django.utils import timezone

    from alerts.sync import relaxed_commits, upsert_page
    from emulator.presets import build_scale
    from emulator.state import EmulatorState
    from emulator.util import Clock
    from portal.inventory.models import AzureConnection, KeyVault, Subscription
    from portal.inventory.services import vault_index

    state = EmulatorState(preset="scale", seed=1, page_size=100, clock=Clock())
    anchor = dt.datetime.now(dt.UTC)
    build_scale(state, anchor, n)
    ((sid, sub_model),) = state.subscriptions.items()
    conn = AzureConnection.objects.create(name="bench", tenant_id=sub_model.tenant_id, client_id="bench")
    sub = Subscription.objects.create(
        connection=conn, subscription_id=sid, display_name=sub_model.display_name
    )
    for v in state.vaults[sid]:
        KeyVault.objects.create(
            subscription=sub,
            arm_id=v.id.lower(),
            name=v.name,
            resource_group=v.resource_group,
            location=v.location,
            sku="standard",
        )
    index = vault_index(sub)
    store = state.alerts[sid]
    started = time.perf_counter()
    with relaxed_commits():
        for start in range(0, n, 1000):
            items = [orjson.loads(store.raw_at(i)) for i in range(start, min(n, start + 1000))]
            upsert_page(
                subscription_pk=sub.pk,
                subscription_id=sid,
                items=items,
                vault_index=index,
                now=timezone.now(),
            )
            if start and start % 100_000 == 0:
                print(
                    f"  loaded {start:,} alerts ({start / (time.perf_counter() - started):,.0f}/s)",
                    flush=True,
                )
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE alerts_alert")
        cursor.execute("VACUUM ANALYZE alerts_alertrollup")


def timed(client, url: str, repeat: int, *, headers: dict | None = None, marker: bytes = b"") -> dict:
    """p50/p95 of the whole request. `marker`: bytes the answer must hold (the run did the work)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, headers=headers)  # warm
    times = []
    queries = 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            response = client.get(url, headers=headers)
            times.append((time.perf_counter() - t0) * 1000)
        queries = len(ctx.captured_queries)
        assert response.status_code == 200, (url, response.status_code)
        assert marker in response.content, (url, "the answer lacks", marker)
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[max(0, int(len(times) * 0.95) - 1)],
        "queries": queries,
        "rows": response.content.count(b"data-row-url="),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="keep and reuse the loaded database")
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", DEFAULT_PG))
    args = parser.parse_args()
    db_url, existed = ensure_database(args.pg, f"bench_list_{args.alerts}", args.reuse)
    setup_django(
        {"DATABASE_URL": db_url, "DEBUG": "1", "LOG_LEVEL": "WARNING", "ALLOWED_HOSTS": "testserver"}
    )
    os.environ.pop("REDIS_URL", None)
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    from alerts.models import Alert

    if not existed or Alert.objects.count() < args.alerts:
        print(f"loading {args.alerts:,} alerts into {db_url.rsplit('/', 1)[1]} ...", flush=True)
        t0 = time.perf_counter()
        load(args.alerts)
        print(f"loaded in {time.perf_counter() - t0:.0f} s", flush=True)
    from django.db import connection

    with connection.cursor() as cursor:  # fresh planner statistics (a migration may have added columns)
        cursor.execute("ANALYZE alerts_alert")
    from django.contrib.auth.models import User
    from django.test import Client

    from portal.accounts.models import Role, RoleAssignment
    from portal.inventory.models import KeyVault, Subscription

    sub = Subscription.objects.get()
    user, _ = User.objects.get_or_create(username="bench-analyst", defaults={"is_staff": True})
    RoleAssignment.objects.get_or_create(subscription=sub, user=user, defaults={"role": Role.SECURITY_ADMIN})
    client = Client()
    client.force_login(user)
    total = Alert.objects.count()
    vault = KeyVault.objects.filter(subscription=sub).order_by("pk").first()
    sample = Alert.objects.filter(vault=vault).order_by("-time_generated").first()
    ip = sample.caller_ip
    print(f"\n{total:,} alerts; {args.repeat} timed requests per view (Django test client, whole request)\n")

    scenarios = [
        ("default view (Active + In progress, newest first)", "/alerts/"),
        ("filter: severity=Low", "/alerts/?severity=Low"),
        ("filter: severity=High (no match)", "/alerts/?severity=High"),
        ("filter: status=Resolved", "/alerts/?status=Resolved"),
        ("filter: last 24 hours", "/alerts/?range=24h"),
        ("filter: alert type", "/alerts/?type=KV_PutGetAnomaly"),
        ("filter: plan", "/alerts/?plan=KeyVaults"),
        ("filter: key vault", f"/alerts/?vault={vault.pk}"),
        ("filter: subscription", f"/alerts/?subscription={sub.pk}"),
        ("sort by severity", "/alerts/?sort=severity"),
        (
            "three filters: severity + type + vault",
            f"/alerts/?severity=Medium&type=KV_AppAnomaly&vault={vault.pk}",
        ),
        ("free text: an IP address", f"/alerts/?q={ip}"),
        ("free text: a word in titles", "/alerts/?q=tor+exit"),
    ]
    results = []
    for label, url in scenarios:
        results.append((label, timed(client, url, args.repeat)))
    # page 100 through the cursor
    url = "/alerts/"
    for _ in range(99):
        response = client.get(url)
        url = html.unescape(re.search(r'href="([^"]+)"[^>]*rel="next"', response.content.decode()).group(1))
    results.append(("page 100 via the cursor", timed(client, url, args.repeat)))
    detail = timed(client, f"/alerts/{sample.pk}/", args.repeat)
    results.append(("alert detail page", detail))
    # the filter bar's pill counts load after the rows (target: p95 <= 100 ms at 1,000,000 alerts)
    for label, url in (
        ("pill counts (lazy): default view", "/alerts/counters/"),
        ("pill counts: severity=Low + key vault", f"/alerts/counters/?severity=Low&vault={vault.pk}"),
        ("pill counts: free text (capped, from the table)", f"/alerts/counters/?q={ip}"),
    ):
        results.append((label, timed(client, url, args.repeat, marker=b'id="facet-status-Active"')))
    results.append(
        ("30-day chart (lazy, when opened)", timed(client, "/alerts/chart/", args.repeat, marker=b"<svg"))
    )
    results.append(
        (
            "side pane of an alert (htmx)",
            timed(
                client,
                f"/alerts/{sample.pk}/pane/",
                args.repeat,
                headers={"HX-Request": "true"},
                marker=b"data-pane-pk",
            ),
        )
    )
    admin = timed(client, "/admin/alerts/alert/", max(5, args.repeat // 3))
    results.append(("Django admin changelist of the same table", admin))

    print(f"{'view':<52} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8} {'rows':>6}")
    for label, r in results:
        print(f"{label:<52} {r['p50']:8.1f} {r['p95']:8.1f} {r['queries']:8d} {r['rows'] or '':>6}")
    default = results[0][1]
    print(f"\nadmin changelist / default list view (p50): {admin['p50'] / default['p50']:.1f}x")

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    t0 = time.perf_counter()
    response = client.get(
        "/alerts/export.csv?status=Active&status=InProgress&status=Resolved&status=Dismissed"
    )
    size = rows = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        rows += chunk.count(b"\n")
    elapsed = time.perf_counter() - t0
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"\nCSV export of every alert: {rows - 1:,} rows, {size / 1e6:.0f} MB in {elapsed:.0f} s "
        f"({(rows - 1) / elapsed:,.0f} rows/s); peak RSS {rss_before} MB before, {rss_after} MB after"
    )


if __name__ == "__main__":
    main()
