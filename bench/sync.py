#!/usr/bin/env python
"""Sync speed: the emulator (scale preset) over HTTPS -> the real SDK pipeline -> PostgreSQL.

    .venv/bin/python bench/sync.py --alerts 100000 [--pg postgres://postgres@127.0.0.1:5432/postgres]

Prints, in one run: first sync and unchanged re-sync (alerts/s end to end, with fetch+parse vs upsert), writes to
the alert table during the re-sync (from pg_stat_user_tables), the worker's peak RSS, ARM calls for alerts vs
pages, and, for comparison, the time to merely list the same alerts with the SDK's model objects.
Each sync runs in its own process (`manage.py sync_azure`), as a Celery worker would.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import (
    DEFAULT_PG,
    PY,
    ROOT,
    control,
    drop_database,
    fresh_database,
    setup_django,
    start_emulator,
)


def run_worker(env: dict[str, str], subscription_id: str) -> tuple[float, int, str]:
    """One sync in a child process: (wall seconds, peak RSS in MB, output)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [PY, "manage.py", "sync_azure", "--subscription", subscription_id],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"sync failed:\n{out}")
    return wall, usage.ru_maxrss // 1024, out


def alert_table_writes() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = 'alerts_alert'"
        )
        return int(cursor.fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_PG", DEFAULT_PG), help="an admin URL of PostgreSQL"
    )
    parser.add_argument("--skip-sdk", action="store_true")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    emulator, emu_env = start_emulator(tmp / "emulator", "--preset", "scale", "--alerts", str(args.alerts))
    db_url = fresh_database(args.pg, "bench_sync")
    env = {
        **os.environ,
        **emu_env,
        "DATABASE_URL": db_url,
        "DEBUG": "1",
        "PORTAL_VAR_DIR": str(tmp / "var"),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    try:
        setup_django(env)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from portal.inventory.models import SyncRun
        from portal.inventory.services import connections_load_file
        from portal.inventory.sync import discover

        connections = connections_load_file(
            path=tmp / "emulator" / "connections.json",
            arm_endpoint=emu_env["AZURE_ARM_ENDPOINT"],
            authority_host=emu_env["AZURE_AUTHORITY_HOST"],
        )
        state = control(emu_env, "GET", "state")
        counts = {s["subscription_id"].lower(): s["alerts"] for s in state["subscriptions"]}  # type: ignore[index]
        subscriptions = [s for c in connections for s in discover(c) if counts.get(s.subscription_id)]
        target = max(subscriptions, key=lambda s: counts[s.subscription_id])
        total = counts[target.subscription_id]
        page_size = state["page_size"]  # type: ignore[index]
        print(f"emulator: {total} alerts in subscription {target.subscription_id}, page size {page_size}")

        results = {}
        for label in ("first sync", "unchanged re-sync"):
            control(emu_env, "DELETE", "requests")
            writes_before = alert_table_writes()
            wall, rss, _ = run_worker(env, target.subscription_id)
            time.sleep(0.6)  # PostgreSQL flushes a backend's table statistics when it goes away
            writes = alert_table_writes() - writes_before
            run = SyncRun.objects.filter(subscription=target).order_by("-started_at").first()
            log = control(emu_env, "GET", "requests")["requests"]  # type: ignore[index]
            alert_calls = sum(1 for r in log if r.get("op") == "alerts.list")
            duration = run.duration_seconds or 0
            results[label] = {
                "alerts": total,
                "sync_seconds": round(duration, 2),
                "alerts_per_s": round(total / duration),
                "process_wall_seconds": round(wall, 2),
                "fetch_parse_seconds": round(run.fetch_seconds, 2),
                "upsert_seconds": round(run.store_seconds, 2),
                "pages": run.pages,
                "alert_list_calls": alert_calls,
                "arm_calls": run.arm_calls,
                "new": run.alerts_new,
                "unchanged": run.alerts_unchanged,
                "alert_table_writes": writes,
                "peak_rss_mb": rss,
            }
        if not args.skip_sdk:
            from azure.identity import ClientSecretCredential
            from azure.mgmt.security import SecurityCenter

            cred = ClientSecretCredential(
                emu_env["AZURE_TENANT_ID"],
                emu_env["AZURE_CLIENT_ID"],
                emu_env["AZURE_CLIENT_SECRET"],
                authority=emu_env["AZURE_AUTHORITY_HOST"],
                disable_instance_discovery=True,
            )
            client = SecurityCenter(
                cred,
                target.subscription_id,
                base_url=emu_env["AZURE_ARM_ENDPOINT"],
                profile={None: "2024-01-01", "alerts": "2022-01-01"},
            )
            t0 = time.perf_counter()
            listed = len(list(client.alerts.list()))
            sdk = time.perf_counter() - t0
            results["SDK list() with model objects (no storage)"] = {
                "alerts": listed,
                "seconds": round(sdk, 2),
                "alerts_per_s": round(listed / sdk),
                "peak_rss_mb_this_process": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
            }
    finally:
        emulator.terminate()
        emulator.wait(timeout=20)
        from django.db import connections as dbs

        dbs.close_all()
        drop_database(args.pg, db_url)

    for label, figures in results.items():
        print(f"\n{label}:")
        for key, value in figures.items():
            print(f"  {key:<28} {value}")
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sync.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
