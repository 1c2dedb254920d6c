#!/usr/bin/env python
"""Sync at scale: 200 subscriptions × N alerts across 10 tenants, ARM throttling on, 1/2/4 Celery worker processes.

    .venv/bin/python -m bench.scale_out [--alerts 500] [--workers 1,2,4] [--pg postgres://...] [--redis redis://...]

The emulator runs the `fleet` preset (10 tenants with a service principal each, 200 subscriptions, N lazily generated
alerts and 2 key vaults each) with ARM's token buckets answering 429 when empty (reads 250, refill 25/s per
subscription and principal). For each worker count, a fresh PostgreSQL database, the tenants loaded as connections
and their subscriptions discovered, then one round queued as sync_all queues it (due soonest first, tenants
interleaved) to `celery worker --pool prefork --concurrency W` (as docker compose runs it) on Redis; timed until
every subscription has a finished run. Reported: wall time, alerts/s, ARM calls and 429s (the emulator's request log),
the per-stage seconds summed over runs, and the checks that the run did the work: every subscription synced exactly
once (one run each, none overlapping another of the same subscription) and every alert stored once.

Then, on the last database: one round over the 200 subscriptions after 5% of them got new alerts and another 5%
a status-only change of an old alert (outside the new-alert window), through the Resource Graph path and through full
listing, in that order: calls and wall time of each, and the full listing must find nothing left to change (the two
paths end with identical databases).

Throttled variant (`--variant throttled`; `both`, the default, runs it after the above in a process of its own):
the emulator's `lighthouse` preset, 2,000 subscriptions with 3 alerts each in 10 customer tenants, all delegated
through Azure Lighthouse to one managing tenant whose one service principal syncs them (so every worker spends one
Resource Graph quota: 15 queries per 5 s). A template database is synced once in full, then 20 subscriptions get new
alerts and 20 others a status-only change of an old alert. Then, per mode and worker count, a copy of the template
and one real round: `sync_all` through the worker (discovery, 20 plan_group tasks of 100 subscriptions with 2
queries each, the syncs they queue), timed until every subscription has this round's decision and every listed one
a finished run. The naive pool (RESOURCE_GRAPH_SHARED_BUDGET=0: each worker calls when it likes, the SDK retrying
429s with its backoff) against the scheduler (the shared budget in Redis, fed by the quota headers). Reported: wall
time, Resource Graph queries and 429s, subscriptions listed and why; checked: the scheduler lists exactly the 40
changed, every round lists at least them, every run succeeded, none ran twice. The target (issue 23): at 4 workers
the scheduler meets at most a tenth of the naive pool's 429s, and its rounds are no slower; the naive pool's 429s
must be above zero or the variant proves nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # run by its path, not as `python -m bench.<name>`: start again that way
    import _as_module

    _as_module.rerun(__file__)

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

SUBSCRIPTIONS = 200


def wait_runs(expected: int, since_pk: int, timeout: float) -> list[object]:
    from sync.models import SyncRun

    deadline = time.monotonic() + timeout
    while True:
        runs = list(SyncRun.objects.filter(pk__gt=since_pk).exclude(status="running"))
        if len({r.subscription_id for r in runs}) >= expected:
            return runs
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(runs)} of {expected} subscriptions synced in {timeout:.0f} s")
        time.sleep(0.2)


def request_log(env: dict[str, str], since: int) -> tuple[list[dict], int]:
    answer = control(env, "GET", f"requests?since={since}")
    assert isinstance(answer, dict)
    return answer["requests"], answer["last_seq"]


def start_worker(env: dict[str, str], workers: int, queue: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            PY,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=prefork",
            f"--concurrency={workers}",
            "-Q",
            queue,
            "-n",
            f"{queue}@%h",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env={**os.environ, **env, "CELERY_DEFAULT_QUEUE": queue},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def queue_round(subscriptions: list[object]) -> None:
    from sync.tasks import queue_order, sync_subscription

    groups: dict[int, list[object]] = {}
    for sub in subscriptions:
        groups.setdefault(sub.connection_id, []).append(sub)  # type: ignore[attr-defined]
    for sub in queue_order(list(groups.values())):  # type: ignore[arg-type]
        sync_subscription.delay(sub.pk, trigger="bench")  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=500, help="alerts per subscription")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", DEFAULT_PG))
    parser.add_argument("--redis", default=os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/9"))
    parser.add_argument("--variant", choices=("fleet", "throttled", "both"), default="both")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    if args.variant == "throttled":
        throttled(args, counts, tmp)
        return
    fleet(args, counts, tmp)
    if (
        args.variant == "both"
    ):  # Django is set up on the fleet's database here: the variant gets its own process
        print(flush=True)
        variant = [
            "--variant",
            "throttled",
            "--workers",
            args.workers,
            "--pg",
            args.pg,
            "--redis",
            args.redis,
        ]
        subprocess.run([PY, "-m", "bench.scale_out", *variant], cwd=ROOT, check=True)


def fleet(args: argparse.Namespace, counts: list[int], tmp: Path) -> None:
    emulator, emu_env = start_emulator(
        tmp / "emulator",
        "--preset",
        "fleet",
        "--alerts",
        str(args.alerts),
        "--page-size",
        "100",
        "--throttle",
    )
    total_alerts = SUBSCRIPTIONS * args.alerts
    print(
        f"emulator: fleet preset, {SUBSCRIPTIONS} subscriptions × {args.alerts} alerts in 10 tenants "
        f"({total_alerts:,} alerts), ARM throttling on",
        flush=True,
    )
    db = fresh_database(args.pg, "bench_scale")
    queue = f"bench-scale-{os.getpid()}"
    env = {
        **emu_env,
        "CELERY_DEFAULT_QUEUE": queue,
        "DATABASE_URL": db,
        "REDIS_URL": args.redis,
        "LOG_LEVEL": "WARNING",
        "DEBUG": "1",
        "AZURE_ARM_ENDPOINT": emu_env["AZURE_ARM_ENDPOINT"],
        "RESOURCE_GRAPH_THRESHOLD": "10",
    }
    for key in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        env.pop(key, None)
    setup_django(env)
    from django.core.management import call_command
    from django.db import connection

    from alerts.models import Alert
    from portal.inventory.models import Subscription
    from sync.models import SyncRun

    call_command("migrate", verbosity=0)
    results = []
    try:
        for workers in counts:
            call_command("flush", "--no-input", verbosity=0)
            call_command("load_connections", str(tmp / "emulator" / "connections.json"), stdout=io.StringIO())
            from sync.orchestrator import discover_all

            found = discover_all()
            subs = [s for s, _ in found]
            assert len(subs) == SUBSCRIPTIONS, len(subs)
            worker = start_worker(env, workers, queue)
            try:
                time.sleep(3)  # the worker's processes fork and connect (not timed: the round starts below)
                _, seq = request_log(emu_env, 0)
                start_pk = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
                t0 = time.perf_counter()
                queue_round(subs)
                runs = wait_runs(SUBSCRIPTIONS, start_pk, timeout=1800)
                wall = time.perf_counter() - t0
            finally:
                worker.terminate()
                worker.wait(60)
            log, _ = request_log(emu_env, seq)
            ok = [r for r in runs if r.status == "succeeded"]
            per_sub: dict[int, list[object]] = {}
            for r in runs:
                per_sub.setdefault(r.subscription_id, []).append(r)
            twice = [s for s, rs in per_sub.items() if len(rs) > 1]
            stored = Alert.objects.count()
            distinct = Alert.objects.values("arm_id").distinct().count()
            stages: dict[str, float] = {}
            for r in runs:
                for name, figures in (r.stages or {}).items():
                    stages[name] = stages.get(name, 0.0) + float(figures.get("seconds", 0))
            results.append(
                (
                    workers,
                    wall,
                    len(ok),
                    len(log),
                    sum(1 for e in log if e["status"] == 429),
                    twice,
                    stored,
                    distinct,
                    stages,
                    sum(r.fetch_seconds for r in runs),
                    sum(r.store_seconds for r in runs),
                )
            )
            assert len(ok) == SUBSCRIPTIONS, f"{SUBSCRIPTIONS - len(ok)} runs failed"
            assert not twice, f"subscriptions synced twice: {twice[:5]}"
            assert stored == distinct == total_alerts, (stored, distinct, total_alerts)
            print(
                f"  {workers} worker process(es): {wall:.1f} s, {total_alerts / wall:,.0f} alerts/s, "
                f"{len(log):,} ARM calls, {results[-1][4]} × 429",
                flush=True,
            )

        print("\nworkers  wall s  alerts/s  ARM calls  429s  runs  fetch s (sum)  store s (sum)")
        for w, wall, ok_n, calls, n429, _t, _s, _d, _st, fetch, store in results:
            print(
                f"{w:>7}  {wall:6.1f}  {total_alerts / wall:8,.0f}  {calls:9,}  {n429:4}  {ok_n:4}  "
                f"{fetch:13.1f}  {store:13.1f}"
            )
        print("\nper stage, seconds summed over the runs of the last worker count:")
        for name, seconds in sorted(results[-1][8].items(), key=lambda kv: -kv[1]):
            print(f"  {name:<24} {seconds:8.1f}")
        print("every subscription synced once, every alert stored once, in each run above")

        # --- Resource Graph path versus full listing, one round after changes -------------------------------------
        rng = random.Random(7)
        subs = list(Subscription.objects.order_by("subscription_id"))
        picked = rng.sample(subs, 20)
        with_new, with_status = picked[:10], picked[10:]
        for sub in with_new:
            control(emu_env, "POST", "alerts", json={"subscription_id": sub.subscription_id, "count": 3})
        for sub in with_status:
            old = (
                Alert.objects.filter(subscription=sub, azure_status="Active")
                .order_by("time_generated")
                .first()
            )
            control(
                emu_env, "PATCH", "alerts", json={"id": old.azure_id, "properties": {"status": "Dismissed"}}
            )
        from sync import graph

        worker = start_worker(env, counts[-1], queue)
        try:
            time.sleep(3)
            _, seq = request_log(emu_env, 0)
            start_pk = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            t0 = time.perf_counter()
            listed: list[object] = []
            for conn_subs in _by_connection(subs).values():
                plan = graph.plan_listing(conn_subs[0].connection, conn_subs)
                assert not plan.fallback, plan.fallback
                listed += [s for s in conn_subs if s.pk in plan.listed]
            plan_wall = time.perf_counter() - t0
            queue_round(listed)
            wait_runs(len(listed), start_pk, timeout=600)
            graph_wall = time.perf_counter() - t0
            graph_log, seq = request_log(emu_env, seq)
            graph_ms = sum(e["duration_ms"] for e in graph_log if e["op"] == "resourcegraph.query")
            assert {s.pk for s in listed} == {s.pk for s in picked}, (
                "the plan did not name exactly the changed ones"
            )
            start_pk = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            t0 = time.perf_counter()
            queue_round(subs)
            full_runs = wait_runs(SUBSCRIPTIONS, start_pk, timeout=1800)
            full_wall = time.perf_counter() - t0
            full_log, _ = request_log(emu_env, seq)
        finally:
            worker.terminate()
            worker.wait(60)
        left = sum(r.alerts_new + r.alerts_changed for r in full_runs)
        print(
            f"\none round after changes in 10 + 10 of {SUBSCRIPTIONS} subscriptions ({counts[-1]} worker processes):"
        )
        print(
            f"  Resource Graph path: {len(listed)} subscriptions listed, {len(graph_log):,} calls "
            f"({sum(1 for e in graph_log if e['op'] == 'resourcegraph.query')} Resource Graph), {graph_wall:.1f} s, "
            f"of which {plan_wall:.1f} s deciding ({graph_ms / 1000:.1f} s of it inside the emulator's Resource Graph, "
            "which scans every alert of a group per query)"
        )
        print(
            f"  full listing:        {SUBSCRIPTIONS} subscriptions listed, {len(full_log):,} calls, {full_wall:.1f} s"
        )
        print(
            f"  the full listing afterwards found {left} new or changed alerts (0: the databases are identical)"
        )
        assert left == 0
    finally:
        connection.close()
        drop_database(args.pg, db)
        emulator.terminate()
        emulator.wait(30)


CHANGED = 20  # subscriptions with new alerts, and as many others with a status-only change of an old alert


def _clone(admin_url: str, template: str, prefix: str) -> str:
    import psycopg

    name = f"{prefix}_{os.getpid()}_{time.monotonic_ns() % 1_000_000}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.rsplit("/", 1)[1]}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _use_database(url: str) -> None:
    """Point this process's Django at another database of the same server (no connection may stay open on a
    template that is being copied)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = url.rsplit("/", 1)[1]


def throttled(args: argparse.Namespace, counts: list[int], tmp: Path) -> None:
    import json

    emulator, emu_env = start_emulator(
        tmp / "emulator-lighthouse",
        "--preset",
        "lighthouse",
        "--alerts",
        "3",
        "--page-size",
        "100",
        "--throttle",
    )
    connections = json.loads((tmp / "emulator-lighthouse" / "connections.json").read_text())
    soc = [c for c in connections if c["name"] == "Fleet SOC"]
    assert len(soc) == 1, [c["name"] for c in connections]
    (tmp / "soc.json").write_text(json.dumps(soc))
    template = fresh_database(args.pg, "bench_lighthouse")
    queue = f"bench-throttled-{os.getpid()}"
    env = {
        **emu_env,
        "CELERY_DEFAULT_QUEUE": queue,
        "DATABASE_URL": template,
        "REDIS_URL": args.redis,
        "LOG_LEVEL": "WARNING",
        "DEBUG": "1",
        "RESOURCE_GRAPH_THRESHOLD": "50",
        "RESOURCE_GRAPH_GROUP_SIZE": "100",
    }
    for key in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"):
        env.pop(key, None)
    setup_django(env)
    from django.core.management import call_command

    from alerts.models import Alert
    from portal.inventory.models import AzureConnection, Subscription
    from sync import budget, graph
    from sync.models import SyncRun
    from sync.orchestrator import discover_all

    print(
        "throttled variant: lighthouse preset, 2,000 subscriptions × 3 alerts in 10 customer tenants, delegated to "
        "one managing tenant's principal; Resource Graph quota 15 queries / 5 s; groups of 100",
        flush=True,
    )
    clones: list[str] = []
    try:
        call_command("migrate", verbosity=0)
        call_command("load_connections", str(tmp / "soc.json"), stdout=io.StringIO())
        subs = [s for s, _ in discover_all()]
        assert len(subs) == 2000, len(subs)
        worker = start_worker(env, max(counts), queue)
        try:
            time.sleep(3)
            t0 = time.perf_counter()
            queue_round(subs)
            wait_runs(len(subs), 0, timeout=1800)
            print(
                f"  template: 2,000 subscriptions synced in full in {time.perf_counter() - t0:.1f} s",
                flush=True,
            )
        finally:
            worker.terminate()
            worker.wait(60)
        assert not SyncRun.objects.exclude(status="succeeded").exists(), "a first sync failed"
        rng = random.Random(23)
        with_new = rng.sample(subs, CHANGED)
        rest = [s for s in subs if s not in with_new]
        rng.shuffle(rest)
        with_status: list[object] = []
        for sub in rest:
            old = (
                Alert.objects.filter(subscription=sub, azure_status="Active")
                .order_by("time_generated")
                .first()
            )
            if old is None:
                continue
            control(
                emu_env, "PATCH", "alerts", json={"id": old.azure_id, "properties": {"status": "Dismissed"}}
            )
            with_status.append(sub)
            if len(with_status) == CHANGED:
                break
        for sub in with_new:
            control(emu_env, "POST", "alerts", json={"subscription_id": sub.subscription_id, "count": 3})
        changed = {s.pk for s in with_new} | {s.pk for s in with_status}
        connection = AzureConnection.objects.get()
        principal = graph.principal_of(connection)
        _use_database(args.pg)  # nothing open on the template while it is copied

        rows = []
        for mode, shared in (("naive pool", "0"), ("scheduler", "1")):
            for workers in counts:
                db = _clone(args.pg, template, "bench_round")
                clones.append(db)
                _use_database(db)
                budget.forget(principal, "resourcegraph")
                control(emu_env, "POST", "resource-graph-quota", json={"limit": 15, "window_seconds": 5})
                worker = start_worker(
                    {**env, "DATABASE_URL": db, "RESOURCE_GRAPH_SHARED_BUDGET": shared}, workers, queue
                )
                try:
                    time.sleep(3)
                    _, seq = request_log(emu_env, 0)
                    start_pk = SyncRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
                    started = timezone_now()
                    t0 = time.perf_counter()
                    from sync.tasks import sync_all

                    sync_all.delay()
                    deadline = time.monotonic() + 1200
                    while True:
                        decided = dict(
                            Subscription.objects.filter(last_planned_at__gte=started).values_list(
                                "pk", "last_plan"
                            )
                        )
                        listed = {pk for pk, why in decided.items() if why.startswith("listed")}
                        runs = list(SyncRun.objects.filter(pk__gt=start_pk).exclude(status="running"))
                        if len(decided) == len(subs) and listed <= {r.subscription_id for r in runs}:
                            break
                        if time.monotonic() > deadline:
                            raise SystemExit(f"{mode}, {workers} workers: the round did not finish")
                        time.sleep(0.2)
                    wall = time.perf_counter() - t0
                finally:
                    worker.terminate()
                    worker.wait(60)
                log, _ = request_log(emu_env, seq)
                graph_calls = [e for e in log if e["op"] == "resourcegraph.query"]
                per_sub: dict[int, int] = {}
                for r in runs:
                    per_sub[r.subscription_id] = per_sub.get(r.subscription_id, 0) + 1
                failed = [r for r in runs if r.status != "succeeded"]
                reasons: dict[str, int] = {}
                for why in decided.values():
                    key = why.split(";")[0]
                    reasons[key] = reasons.get(key, 0) + 1
                row = {
                    "mode": mode,
                    "workers": workers,
                    "wall": wall,
                    "graph": len(graph_calls),
                    "graph_429": sum(1 for e in graph_calls if e["status"] == 429),
                    "calls": len(log),
                    "arm_429": sum(1 for e in log if e["status"] == 429 and e["op"] != "resourcegraph.query"),
                    "listed": len(listed),
                    "reasons": reasons,
                }
                rows.append(row)
                print(
                    f"  {mode}, {workers} worker process(es): {wall:.1f} s, {row['graph']} Resource Graph calls "
                    f"({row['graph_429']} × 429), {row['listed']} of 2,000 listed, {row['calls']:,} calls in all",
                    flush=True,
                )
                for why, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
                    print(f"      {n:5} {why}")
                assert changed <= listed, f"{mode}: a changed subscription was not listed"
                assert not failed, f"{mode}: {len(failed)} runs failed"
                assert all(n == 1 for n in per_sub.values()), f"{mode}: a subscription synced twice"
                if mode == "scheduler":
                    assert listed == changed, (
                        f"the scheduler listed {len(listed)}, not the {len(changed)} changed"
                    )
                _use_database(args.pg)

        print("\nmode        workers  round s  RG calls  RG 429s  listed  calls  ARM 429s")
        for r in rows:
            print(
                f"{r['mode']:<11} {r['workers']:>7}  {r['wall']:7.1f}  {r['graph']:8}  {r['graph_429']:7}  "
                f"{r['listed']:6}  {r['calls']:5,}  {r['arm_429']:8}"
            )
        naive = {r["workers"]: r for r in rows if r["mode"] == "naive pool"}
        sched = {r["workers"]: r for r in rows if r["mode"] == "scheduler"}
        top = max(counts)
        print(
            f"\nnaive pool's Resource Graph 429s above zero: {'yes' if naive[top]['graph_429'] > 0 else 'NO'}"
        )
        print(
            f"at {top} workers the scheduler met {sched[top]['graph_429']} 429s, the naive pool {naive[top]['graph_429']}"
            f" (target: at most a tenth): {'met' if sched[top]['graph_429'] * 10 <= naive[top]['graph_429'] else 'MISSED'}"
        )
        for w in counts:
            print(
                f"  {w} worker(s): scheduler round {sched[w]['wall']:.1f} s, naive {naive[w]['wall']:.1f} s: "
                f"{'no slower' if sched[w]['wall'] <= naive[w]['wall'] else 'SLOWER'}"
            )
    finally:
        _use_database(args.pg)
        for db in [*clones, template]:
            drop_database(args.pg, db)
        emulator.terminate()
        emulator.wait(30)


def timezone_now() -> object:
    from django.utils import timezone

    return timezone.now()


def _by_connection(subs: list[object]) -> dict[int, list[object]]:
    groups: dict[int, list[object]] = {}
    for sub in subs:
        groups.setdefault(sub.connection_id, []).append(sub)  # type: ignore[attr-defined]
    return groups


if __name__ == "__main__":
    sys.exit(main())
