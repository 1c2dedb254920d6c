"""Microsoft.Storage storage accounts (read only): the destinations a vault's diagnostic setting may name.

The accounts are seeded (presets.py: one per region a subscription has vaults in, in the demo one more in a region
without vaults). Each is also an Azurite account of the same name and key (accesslogs.py), so its blob endpoint is
Azurite's path-style URL `https://127.0.0.1:<azurite port>/<name>/`; when Azurite does not run, the URL names
Azurite's default port 10000 and nothing answers there.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from .routing import RG, SUB, Ctx, route
from .state import StorageAccount
from .web import Response, error_response, json_response

PROVIDER = r"/providers/Microsoft\.Storage/storageAccounts"


def render(ctx: Ctx, account: StorageAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "type": "Microsoft.Storage/storageAccounts",
        "location": account.location,
        "tags": {},
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "properties": {
            "primaryEndpoints": {"blob": ctx.rt.access_logs.blob_endpoint(account.name)},
            "primaryLocation": account.location,
            "statusOfPrimary": "available",
            "provisioningState": "Succeeded",
            "accessTier": "Hot",
            "supportsHttpsTrafficOnly": True,
            "minimumTlsVersion": "TLS1_2",
        },
    }


def _accounts(ctx: Ctx, rg: str | None = None) -> list[StorageAccount]:
    assert ctx.sub is not None
    accounts = ctx.rt.state.storage_accounts.get(ctx.sub.subscription_id.lower(), [])
    if rg is not None:
        accounts = [a for a in accounts if a.resource_group.lower() == rg.lower()]
    return accounts


def _list(ctx: Ctx, accounts: list[StorageAccount]) -> Response:
    items = [orjson.dumps(render(ctx, a)) for a in accounts]
    return Response(200, b'{"value":[' + b",".join(items) + b"]}")


@route("GET", SUB + PROVIDER, "storageAccounts.list")
def storage_accounts_list(ctx: Ctx, m: re.Match[str]) -> Response:
    return _list(ctx, _accounts(ctx))


@route("GET", SUB + RG + PROVIDER, "storageAccounts.list_by_resource_group")
def storage_accounts_list_rg(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    if not ctx.rt.known_resource_group(ctx.sub.subscription_id, m["rg"]):
        return error_response(404, "ResourceGroupNotFound", f"Resource group '{m['rg']}' could not be found.")
    return _list(ctx, _accounts(ctx, m["rg"]))


@route("GET", SUB + RG + PROVIDER + r"/(?P<name>[^/]+)", "storageAccounts.get")
def storage_accounts_get(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.sub is not None
    if not ctx.rt.known_resource_group(ctx.sub.subscription_id, m["rg"]):
        return error_response(404, "ResourceGroupNotFound", f"Resource group '{m['rg']}' could not be found.")
    for a in _accounts(ctx, m["rg"]):
        if a.name.lower() == m["name"].lower():
            return json_response(200, render(ctx, a))
    return error_response(
        404,
        "ResourceNotFound",
        f"The Resource 'Microsoft.Storage/storageAccounts/{m['name']}' under resource group '{m['rg']}' was not "
        "found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )
