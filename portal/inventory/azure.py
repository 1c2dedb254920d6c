"""From an AzureConnection row to the Azure package's plain ConnectionConfig (the bridge to portal.arm)."""

from __future__ import annotations

import functools

from django.conf import settings

from portal.arm.session import ConnectionConfig
from portal.inventory.models import AzureConnection
from portal.inventory.services import connection_secret


def config_for(connection: AzureConnection) -> ConnectionConfig:
    return ConnectionConfig(
        key=f"conn-{connection.pk}",
        tenant_id=connection.tenant_id,
        client_id=connection.client_id,
        auth_method=connection.auth_method,
        arm_endpoint=(connection.arm_endpoint or settings.AZURE_ARM_ENDPOINT).rstrip("/"),
        authority_host=connection.authority_host or settings.AZURE_AUTHORITY_HOST,
        certificate_path=connection.certificate_path,
        get_secret=functools.partial(connection_secret, connection),
        retry_total=settings.ARM_RETRY_TOTAL,
        retry_backoff=settings.ARM_RETRY_BACKOFF,
    )
