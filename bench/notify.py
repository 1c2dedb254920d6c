#!/usr/bin/env python
"""Notifications under a burst: 10,000 new alerts for 50 recipients, against a real SMTP server (aiosmtpd).

    .venv/bin/python -m bench.notify [--alerts 10000] [--recipients 50] [--pg postgres://...]

Target: the burst is handled in ≤ 60 s and sends ≤ 2 mails per recipient (one at once, one digest when the window
reopens). The digest is sent by the periodic task on a clock moved to the window's end (12 h later for Medium).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from datetime import timedelta

if not __package__:  # run by its path, not as `python -m bench.<name>`: start again that way
    import _as_module

    _as_module.rerun(__file__)

from bench._common import DEFAULT_PG, drop_database, fresh_database, setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--recipients", type=int, default=50)
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", DEFAULT_PG))
    args = parser.parse_args()
    db_url = fresh_database(args.pg, "bench_notify")
    try:
        from aiosmtpd.controller import Controller

        received: list[tuple[str, int]] = []

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                received.append((envelope.rcpt_tos[0], len(envelope.content)))
                return "250 OK"

        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        smtp = Controller(Handler(), hostname="127.0.0.1", port=port)
        smtp.start()
        setup_django(
            {
                "DATABASE_URL": db_url,
                "DEBUG": "1",
                "LOG_LEVEL": "WARNING",
                "EMAIL_URL": f"smtp://127.0.0.1:{port}",
            }
        )
        os.environ.pop("REDIS_URL", None)
        from django.core.management import call_command
        from django.utils import timezone

        call_command("migrate", verbosity=0)
        from notifications.models import Notification, SecurityContact
        from notifications.services import plan_notifications, send_alert_mail, send_due
        from portal.testing.factories import alert_item, make_subscription, make_vault

        sub = make_subscription(display_name="Burst")
        vault = make_vault(sub, name="kv-burst")
        emails = [f"analyst{i}@soc.example" for i in range(args.recipients)]
        SecurityContact.objects.create(
            subscription=sub, emails=";".join(emails), minimal_severity="Medium", notify_by_role=False
        )
        from alerts.sync import upsert_page
        from portal.inventory.services import vault_index

        ids: list[int] = []
        for start in range(0, args.alerts, 1000):
            items = [
                alert_item(sub, vault=vault, n=start + i, severity="Medium")
                for i in range(min(1000, args.alerts - start))
            ]
            ids += upsert_page(
                subscription_pk=sub.pk,
                subscription_id=sub.subscription_id,
                items=items,
                vault_index=vault_index(sub),
                now=timezone.now(),
            ).new_ids
        print(f"{len(ids):,} new Medium alerts, {len(emails)} recipients, SMTP on 127.0.0.1:{port}")

        from django.core.mail import get_connection

        now = timezone.now()
        t0 = time.perf_counter()
        to_send = plan_notifications(
            alert_ids=ids, now=now
        )  # what the notify task does for one sync's new alerts
        t1 = time.perf_counter()
        connection = get_connection()
        sent_now = sum(send_alert_mail(pk, connection=connection, now=now) for pk in to_send)
        connection.close()
        t2 = time.perf_counter()
        queued = Notification.objects.filter(kind="digest", state="queued").count()
        digests = send_due(now=now + timedelta(hours=12))
        t3 = time.perf_counter()
        per_recipient = Counter(r for r, _ in received)
        print(f"\nplan (log rows for {len(ids) * len(emails):,} alert x recipient pairs): {t1 - t0:.1f} s")
        print(f"immediate mails: {sent_now} in {t2 - t1:.1f} s")
        print(f"burst handled (plan + immediate mails): {t2 - t0:.1f} s")
        print(
            f"digest rows queued: {queued:,}; digests sent when the window reopened: {digests} in {t3 - t2:.1f} s"
        )
        print(
            f"mails per recipient: max {max(per_recipient.values())}, min {min(per_recipient.values())} "
            f"(total {len(received)}, largest {max(size for _, size in received) / 1024:.0f} KiB)"
        )
        smtp.stop()
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        drop_database(args.pg, db_url)


if __name__ == "__main__":
    main()
