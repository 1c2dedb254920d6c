"""Load Azure connections from a JSON file (the emulator writes one: tenant, client id, secret per tenant)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.inventory.services import connections_load_file


class Command(BaseCommand):
    help = "Create or update Azure connections from a connections.json file (secrets stored encrypted)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args: Any, path: Path, **options: Any) -> None:
        if not path.exists():
            raise CommandError(f"{path} does not exist")
        connections = connections_load_file(
            path=path, arm_endpoint=settings.AZURE_ARM_ENDPOINT, authority_host=settings.AZURE_AUTHORITY_HOST
        )
        for connection in connections:
            self.stdout.write(f"connection {connection.name}: tenant {connection.tenant_id}")
