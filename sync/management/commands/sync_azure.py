"""Run one sync in the foreground (for operators and tests) and print what it did."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.arm import errors
from portal.inventory.models import AzureConnection, Subscription
from portal.inventory.services import connection_from_environment
from sync import orchestrator as sync


class Command(BaseCommand):
    help = "Sync subscriptions, key vaults, plans, contacts, suppression rules and alerts from Azure now."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--subscription", help="Subscription ID (GUID) to sync; default: all")
        parser.add_argument(
            "--discover", action="store_true", help="Only discover subscriptions (no full sync)"
        )

    def handle(self, *args: Any, subscription: str | None, discover: bool, **options: Any) -> None:
        connection_from_environment()
        connections = list(AzureConnection.objects.filter(is_enabled=True))
        if not connections:
            raise CommandError("No Azure connection is configured (admin, or manage.py load_connections).")
        only = [subscription.lower()] if subscription else (settings.AZURE_SUBSCRIPTION_IDS or None)

        def failed_listing(connection: AzureConnection, exc: errors.ArmError) -> None:
            self.stderr.write(f"{connection}: cannot list subscriptions: {exc}")

        found = sync.discover_all(only=only, on_error=failed_listing)
        for connection in connections:
            count = sum(1 for _, seen_by in found if connection in seen_by)
            self.stdout.write(f"{connection}: {count} subscription(s)")
        targets: list[Subscription] = []
        for target, seen_by in found:
            targets.append(target)
            if len(seen_by) > 1:
                self.stdout.write(
                    f"{target} ({target.subscription_id}) is visible through {', '.join(map(str, seen_by))}: "
                    f"synced once, through {target.connection}"
                )
        if subscription and not targets:
            raise CommandError(f"Subscription {subscription} is not visible to any connection.")
        if discover:
            return
        failed = 0
        for target in targets:
            try:
                run = sync.sync_subscription(target.pk, trigger="command")
            except sync.SyncFailed as exc:
                failed += 1
                self.stderr.write(f"{target} ({target.subscription_id}): FAILED: {exc.error}")
                continue
            if run is None:
                self.stdout.write(f"{target}: skipped, another worker is syncing it")
                continue
            self.stdout.write(
                f"{target} ({target.subscription_id}): {run.status} in {run.duration_seconds:.1f}s: "
                f"{run.vaults} vault changes, {run.pages} pages, {run.arm_calls} ARM calls, "
                f"{run.alerts_new} new / {run.alerts_changed} changed / {run.alerts_unchanged} unchanged alerts, "
                f"{run.alerts_malformed} malformed, {run.alerts_gone} no longer in Azure"
            )
        if failed:
            raise CommandError(f"{failed} subscription(s) failed")
