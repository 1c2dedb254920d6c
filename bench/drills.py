"""Reliability drills: restarts and outages under real work, then a check that nothing was lost or duplicated.

    .venv/bin/python -m bench.drills            # the full form (outage 180 s, 5,000 alerts)
    .venv/bin/python -m bench.drills --short    # the form CI runs (outage 20 s, 1,500 alerts)

Everything runs on its own: a throwaway PostgreSQL cluster (initdb as the `postgres` user, a spare port, fsync off),
a throwaway Redis (spare port, no persistence: a restart loses every queued message), the emulator (scale preset,
its own process), a real SMTP server (aiosmtpd), a Celery worker and Celery beat, supervised as in production (a
process that exits is started again, and the drill says so: a Redis restart ends the worker now and then, see
bench/broker_restart.py). The instances the test suite uses are never touched. Each drill prints what it did and what it checked; the exit code is 1 if any check failed.

1. PostgreSQL restarted during a sync: the next sync completes; every upstream alert is present exactly once.
2. Redis restarted during status write-back (queued pushes lost): every pending status ends confirmed by Azure or
   visibly failed, and Azure's statuses equal the portal's.
3. Redis restarted while notifications are being sent: every notification ends sent or visibly failed, no email is
   received twice, none that was logged as sent is missing.
4. The emulator unreachable (frozen with SIGSTOP: connections hang, then time out): syncs fail visibly, status
   changes wait; after it answers again, everything is in step.
5. A worker killed (SIGKILL) in the middle of a sync: a new worker finishes it once the lease expires.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

if not __package__:  # run by its path, not as `python -m bench.<name>`: start again that way
    import _as_module

    _as_module.rerun(__file__)

from bench._common import PY, ROOT, ThrowawayRedis, control, free_port, setup_django, start_emulator
from dev import Supervisor, worker_command

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), Path("/usr/lib/postgresql/15/bin"))
FAILURES: list[str] = []


def say(text: str) -> None:
    print(text, flush=True)


def check(ok: bool, what: str) -> None:
    say(f"  {'ok  ' if ok else 'FAIL'} {what}")
    if not ok:
        FAILURES.append(what)


def wait(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class Postgres:
    def __init__(self, base: Path) -> None:
        self.dir, self.port = base / "pg", free_port()
        base.chmod(0o755)
        self.dir.mkdir()
        subprocess.run(["chown", "postgres:postgres", str(self.dir)], check=True)
        self.as_pg(
            [str(PG_BIN / "initdb"), "-D", str(self.dir), "-U", "postgres", "-A", "trust", "--no-sync"]
        )
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/portal"

    def as_pg(self, cmd: list[str]) -> None:
        runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*runner, *cmd], check=True, capture_output=True, text=True)

    def ctl(self, action: str) -> None:
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off"
        self.as_pg(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.dir),
                "-o",
                opts,
                "-l",
                str(self.dir / "log"),
                "-m",
                "fast",
                "-w",
                action,
            ]
        )

    def createdb(self) -> None:
        import psycopg

        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE portal")


class Celery:
    """The worker and beat under `dev.py run`'s supervisor (production: compose's restart policy): a process that
    exits is started again, and the drills report it (`restarts`). Only `kill_worker` ends the worker on purpose."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.out = open(log, "ab")  # noqa: SIM115 - the processes write to it until stop()
        self.sup = Supervisor()
        self.lock = threading.Lock()
        self.stopping = False
        threading.Thread(target=self._supervise, daemon=True).start()

    @property
    def restarts(self) -> list[str]:
        return self.sup.restarts

    def _supervise(self) -> None:
        while not self.stopping:
            time.sleep(0.5)
            with self.lock:
                if self.stopping:
                    return
                try:
                    self.sup.check()
                except Exception as exc:  # reported with the restarts; the checks then fail
                    self.sup.restarts.append(f"the supervisor could not start a process: {exc!r}")

    def start_worker(self) -> None:
        cmd = worker_command(PY, "--loglevel=INFO", "-n", f"drill-{time.time_ns()}@%h")
        self.sup.start("worker", cmd, self.env, restart=True, stdout=self.out, stderr=self.out)
        self.sup.watch("worker", Path(self.env["PORTAL_VAR_DIR"]) / "worker-alive")

    def start_beat(self, schedule: Path) -> None:
        cmd = [PY, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO", "-s", str(schedule)]
        self.sup.start("beat", cmd, self.env, restart=True, stdout=self.out, stderr=self.out)

    def kill_worker(self) -> None:
        """SIGKILL the worker and start a new one (its supervisor's part, done here at once)."""
        with self.lock:
            worker = dict(self.sup.children)["worker"]
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            self.start_worker()

    def restarted_since(self, seen: int, now: int) -> str:
        """What the supervisor started again between restart `seen` and restart `now` (for the drill's report)."""
        return ", ".join(self.restarts[seen:now])

    def stop(self) -> None:
        with self.lock:
            self.stopping = True
        self.sup.stop()
        self.out.close()


def requeued(base: Path) -> int:
    import re

    text = (base / "celery.log").read_text(errors="replace")
    return sum(
        int(n) for n in re.findall(r"portal\.requeue_stale\[[^]]+\] succeeded in [0-9.]+s: (\d+)", text)
    )


def main() -> int:
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's chatter
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--short", action="store_true", help="the CI form: 1,500 alerts, a 20 s outage")
    args = parser.parse_args()
    alerts = 1500 if args.short else 5000
    outage = 20 if args.short else 180

    base = Path(tempfile.mkdtemp(prefix="kv-drills-"))
    pg, redis_server = Postgres(base), ThrowawayRedis()
    pg.ctl("start")
    pg.createdb()
    redis_server.start()
    emulator, emu_env = start_emulator(
        base / "emulator", "--preset", "scale", "--alerts", str(alerts), "--page-size", "100"
    )
    from aiosmtpd.controller import Controller

    received: list[str] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            import email

            message = email.message_from_bytes(envelope.content)
            for rcpt in envelope.rcpt_tos:
                received.append(f"{rcpt} {message['Message-ID']}")
            return "250 OK"

    smtp = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({k: v for k, v in emu_env.items() if not k.startswith(("AZURE_TENANT", "AZURE_CLIENT"))})
    env.update(
        {
            "DATABASE_URL": pg.url,
            "REDIS_URL": redis_server.url,
            "DEBUG": "1",
            "LOG_LEVEL": "INFO",
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}",
            "PORTAL_VAR_DIR": str(base / "var"),
            "SYNC_INTERVAL_SECONDS": "3600",
            "SYNC_LEASE_SECONDS": "8",
            "SYNC_BATCH_ALERTS": "200",
            "STALE_PUSH_SECONDS": "10",
            "NOTIFY_DUE_SECONDS": "5",
            "NOTIFY_STUCK_SECONDS": "15",
            "ARM_RETRY_TOTAL": "2",
            "ARM_RETRY_BACKOFF": "0.2",
            "ARM_WRITES_PER_SECOND": "8",
            "CELERY_DEFAULT_QUEUE": "drills",
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "PYTHONUNBUFFERED": "1",
            "ARM_TIMEOUT_SECONDS": "5",
        }
    )
    subprocess.run([PY, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run(
        [PY, "manage.py", "load_connections", str(base / "emulator" / "connections.json")],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    setup_django(env)
    from django.db import connection, transaction

    from alerts.models import Alert
    from alerts.status import alert_set_status
    from notifications.contact_services import contact_save
    from notifications.models import Notification
    from portal.inventory.models import AzureConnection, Subscription
    from sync.models import SyncRun
    from sync.orchestrator import discover
    from sync.tasks import sync_subscription as sync_task

    for conn in AzureConnection.objects.all():
        discover(conn)
    summary = control(emu_env, "GET", "state")
    biggest = max(summary["subscriptions"], key=lambda s: s["alerts"])
    sub = Subscription.objects.get(subscription_id=biggest["subscription_id"])
    celery = Celery(env, base / "celery.log")
    celery.start_worker()
    celery.start_beat(base / "beat-schedule")
    say(
        f"throwaway PostgreSQL :{pg.port}, Redis :{redis_server.port}, emulator with {alerts} alerts; "
        f"drilling on {sub.display_name} ({biggest['alerts']} alerts)"
    )

    def upstream() -> dict[str, Any]:
        state = control(emu_env, "GET", "state")
        return next(s for s in state["subscriptions"] if s["subscription_id"] == sub.subscription_id)

    def sync_until_succeeded(timeout: float) -> SyncRun:
        last = [time.monotonic()]

        def done() -> SyncRun | None:
            connection.close()
            run = SyncRun.objects.filter(subscription=sub).order_by("-id").first()
            if (
                run
                and run.status == SyncRun.Status.SUCCEEDED
                and run.finished_at
                and run.finished_at > started
            ):
                return run
            if time.monotonic() - last[0] > 20:  # what beat's schedule does (every SYNC_INTERVAL_SECONDS)
                sync_task.delay(sub.pk, trigger="drill")
                last[0] = time.monotonic()
            return None

        started = __import__("django.utils.timezone", fromlist=["now"]).now()
        sync_task.delay(sub.pk, trigger="drill")
        return wait(done, timeout, "a successful sync", interval=3)

    def exactly_once() -> None:
        connection.close()
        up = upstream()
        ours = Alert.objects.filter(subscription=sub, in_azure=True).count()
        check(
            ours == up["alerts"],
            f"every upstream alert present: {ours} in the portal, {up['alerts']} in Azure",
        )
        dupes = (
            Alert.objects.filter(subscription=sub)
            .values("arm_id")
            .annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("id"))
            .filter(n__gt=1)
            .count()
        )
        check(dupes == 0, "no alert stored twice")

    seen = [0]

    def supervised() -> None:
        """Say what the supervisor started again since the last call (a worker a broker failure ended, say)."""
        now = len(celery.restarts)
        if now > seen[0]:
            say(f"  exited, and started again by the supervisor: {celery.restarted_since(seen[0], now)}")
            seen[0] = now

    def section(title: str) -> None:
        supervised()
        say(title)

    try:
        # 1 ---------------------------------------------------------------------------------------------------
        section("\n1. PostgreSQL restarted during a sync")
        # Slow the alert pages down (0.3 s each) so the run is certainly caught mid-way: a first sync of 1,500
        # alerts takes 0.7 s here, faster than the 0.5 s poll below can be sure to see it running.
        control(
            emu_env,
            "POST",
            "faults",
            json={"operation": "alerts.list", "kind": "latency", "latency_ms": 300, "times": 30},
        )
        sync_task.delay(sub.pk, trigger="drill")
        wait(
            lambda: (
                connection.close(),
                SyncRun.objects.filter(subscription=sub, status="running", pages__gte=3).exists(),
            )[1],
            120,
            "a sync under way",
        )
        pg.ctl("restart")
        say("  PostgreSQL restarted mid-sync")
        connection.close()
        run = sync_until_succeeded(300)
        say(f"  sync run {run.pk} succeeded ({run.pages} pages)")
        exactly_once()

        # 2 ---------------------------------------------------------------------------------------------------
        section("\n2. Redis restarted during status write-back")
        targets = list(Alert.objects.filter(subscription=sub, status="Active").order_by("pk")[:120])
        with transaction.atomic():
            for alert in targets:
                alert_set_status(user=None, alert=alert, status="InProgress", source="drill")
        time.sleep(2)
        redis_server.restart()
        say(f"  {len(targets)} status changes queued; Redis restarted after 2 s (queued messages lost)")

        def settled() -> bool:
            connection.close()
            return (
                not Alert.objects.filter(pk__in=[a.pk for a in targets], pending_failed=False)
                .exclude(pending_status="")
                .exists()
            )

        wait(settled, 240, "every write-back confirmed or failed", interval=2)
        rows = Alert.objects.filter(pk__in=[a.pk for a in targets])
        confirmed = rows.filter(pending_status="", azure_status="InProgress").count()
        failed = rows.filter(pending_failed=True).count()
        check(
            confirmed + failed == len(targets),
            f"{confirmed} confirmed by Azure, {failed} visibly failed, of {len(targets)}",
        )
        check(
            upstream()["alerts_by_status"].get("InProgress", 0) >= confirmed,
            "Azure has every confirmed status",
        )
        say(f"  the sweep re-queued {requeued(base)} lost write-back(s)")

        # 3 ---------------------------------------------------------------------------------------------------
        section("\n3. Redis restarted while notifications are sent")
        contact_save(
            user=None,
            subscription=sub,
            data={
                "emails": "soc@contoso.com;lead@contoso.com",
                "notify_by_role": False,
                "roles": [],
                "minimal_severity": "Low",
                "alert_notifications": True,
                "portal_notifications": True,
            },
        )
        control(
            emu_env,
            "POST",
            "alerts",
            json={"subscription_id": sub.subscription_id, "count": 20, "alert_type": "KV_TORAccess"},
        )
        received.clear()
        sync_until_succeeded(180)
        time.sleep(1)
        redis_server.restart()
        say("  20 new alerts synced, notifications queued; Redis restarted")

        from django.utils import timezone as tz

        from notifications.models import NotificationBatch

        def mails_settled() -> bool:
            connection.close()
            rows = Notification.objects.filter(subscription=sub)
            waiting = rows.filter(state="queued", due_at__lte=tz.now()) | rows.filter(state="sending")
            return rows.exists() and not NotificationBatch.objects.exists() and not waiting.exists()

        wait(
            mails_settled, 300, "every notification sent, failed or waiting for its digest window", interval=2
        )
        later = Notification.objects.filter(subscription=sub, state="queued").count()
        say(f"  {later} notification(s) wait for their digest window (the throttle), as they should")
        sent = list(
            Notification.objects.filter(subscription=sub, state="sent").values_list("recipient", "message_id")
        )
        got = Counter(received)
        check(all(n == 1 for n in got.values()), f"no email received twice ({len(received)} received)")
        missing = [f"{r} {m}" for r, m in sent if f"{r} {m}" not in got]
        check(
            not missing, f"every email logged as sent was received ({len(sent)} sent; {len(missing)} missing)"
        )
        check(Notification.objects.filter(subscription=sub, state="failed").count() == 0, "none failed")

        # 4 ---------------------------------------------------------------------------------------------------
        section(f"\n4. The emulator unreachable for {outage} s")
        emulator.send_signal(signal.SIGSTOP)
        more = list(Alert.objects.filter(subscription=sub, status="Active").order_by("pk")[:20])
        with transaction.atomic():
            for alert in more:
                alert_set_status(user=None, alert=alert, status="InProgress", source="drill")
        from django.utils import timezone

        outage_start = timezone.now()
        sync_task.delay(sub.pk, trigger="drill-outage")
        time.sleep(outage)
        connection.close()
        check(
            not SyncRun.objects.filter(
                subscription=sub, status="succeeded", finished_at__gt=outage_start
            ).exists(),
            "no sync claims success while Azure does not answer",
        )
        failed_runs = SyncRun.objects.filter(subscription=sub, status="failed", started_at__gte=outage_start)
        say(
            f"  during the outage: {failed_runs.count()} sync run(s) failed visibly"
            f"{' (' + str(failed_runs.first().errors)[:160] + ')' if failed_runs.exists() else ''}; pending status "
            f"changes: {Alert.objects.filter(pk__in=[a.pk for a in more]).exclude(pending_status='').count()}"
        )
        emulator.send_signal(signal.SIGCONT)
        say("  the emulator answers again")
        sync_until_succeeded(300)
        wait(
            lambda: (
                connection.close(),
                not Alert.objects.filter(pk__in=[a.pk for a in more], pending_failed=False)
                .exclude(pending_status="")
                .exists(),
            )[1],
            300,
            "the waiting status changes",
            interval=2,
        )
        rows = Alert.objects.filter(pk__in=[a.pk for a in more])
        check(
            rows.filter(pending_status="", azure_status="InProgress").count()
            + rows.filter(pending_failed=True).count()
            == len(more),
            "every status change made during the outage is confirmed or visibly failed",
        )
        exactly_once()

        # 5 ---------------------------------------------------------------------------------------------------
        section("\n5. A worker killed in the middle of a sync")
        control(emu_env, "POST", "alerts", json={"subscription_id": sub.subscription_id, "count": 200})
        # Slow the alert pages down (0.5 s each) so the run is certainly caught mid-way, however fast this
        # machine is; and send the task again while a leftover retry from drill 4 still holds the lease (that
        # run is skipped, as it should be).
        control(
            emu_env,
            "POST",
            "faults",
            json={"operation": "alerts.list", "kind": "latency", "latency_ms": 500, "times": 40},
        )
        kill_from = timezone.now()
        resend = [0.0]

        def running() -> bool:
            connection.close()
            if SyncRun.objects.filter(subscription=sub, status="running", started_at__gte=kill_from).exists():
                return True
            if time.monotonic() - resend[0] > 10:
                sync_task.delay(sub.pk, trigger="drill-kill")
                resend[0] = time.monotonic()
            return False

        wait(running, 120, "the sync to start", interval=0.2)
        celery.kill_worker()
        say("  worker SIGKILLed mid-sync; a new one starts")
        run = sync_until_succeeded(300)
        say(f"  sync run {run.pk} succeeded")
        exactly_once()
        supervised()
    except TimeoutError as exc:
        check(False, str(exc))
        supervised()
        say((base / "celery.log").read_text(errors="replace")[-3000:])
    finally:
        celery.stop()
        smtp.stop()
        emulator.send_signal(signal.SIGCONT)
        emulator.terminate()
        redis_server.stop()
        try:
            connection.close()
            pg.ctl("stop")
        except Exception:  # noqa: S110 - best effort
            pass
    say(f"\n{'ALL CHECKS PASSED' if not FAILURES else f'{len(FAILURES)} CHECK(S) FAILED'}  (logs: {base})")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
