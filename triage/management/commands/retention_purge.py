"""Purge alerts closed more than N days ago: a dry-run count by default, `--apply` to delete (in batches, audited)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from triage.services import retention_purge


class Command(BaseCommand):
    help = "Count (default) or delete (--apply) the alerts resolved or dismissed more than --days days ago."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=settings.RETENTION_CLOSED_DAYS or None,
            help="Closed more than this many days ago (default: RETENTION_CLOSED_DAYS).",
        )
        parser.add_argument("--apply", action="store_true", help="Delete them (without it: only count).")
        parser.add_argument("--batch", type=int, default=1000)

    def handle(self, *args: Any, days: int | None, apply: bool, batch: int, **options: Any) -> None:
        if not days:
            raise CommandError("Give --days N (or set RETENTION_CLOSED_DAYS).")
        try:
            count = retention_purge(actor=None, days=days, dry_run=True)
            self.stdout.write(f"{count} alert(s) closed more than {days} days ago.")
            if apply and count:
                deleted = retention_purge(actor=None, days=days, dry_run=False, batch=batch)
                self.stdout.write(self.style.SUCCESS(f"Deleted {deleted} alert(s)."))
            elif count:
                self.stdout.write("Dry run: nothing deleted. Add --apply to delete them.")
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
