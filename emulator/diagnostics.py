"""Microsoft.Insights diagnostic settings on key vaults (2021-05-01-preview shape): where Azure Monitor sends a
vault's resource logs. A setting with an enabled `AuditEvent` log (category, or category group `audit` /
`allLogs`) and a `storageAccountId` makes the access-log writer (accesslogs.py) append AuditEvent records to that
account's `insights-logs-auditevent` container.

Refusals, as Azure answers them: unknown vault 404 `ResourceNotFound`; body not JSON or without `properties` 400;
no destination 400 `BadRequest`; a category or category group Key Vault does not have 400; storage account id
malformed or not found 400 `LinkedResourceNotFound`; in a subscription the caller cannot reach 403
`LinkedAuthorizationFailed`; in another region than the vault 400; a sixth setting 400; the same storage account
and category as another setting of the vault 409 `Conflict`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from .routing import RG, SUB, Ctx, route
from .state import Vault
from .util import ArmRefusal
from .web import Response, empty, error_response, json_response

MAX_SETTINGS = 5
CATEGORIES = {"auditevent": "AuditEvent", "azurepolicyevaluationdetails": "AzurePolicyEvaluationDetails"}
CATEGORY_GROUPS = {"audit": "audit", "alllogs": "allLogs"}
_COVERS = {  # what a category or category group collects, for the same-sink conflict
    "AuditEvent": {"AuditEvent"},
    "AzurePolicyEvaluationDetails": {"AzurePolicyEvaluationDetails"},
    "audit": {"AuditEvent"},
    "allLogs": {"AuditEvent", "AzurePolicyEvaluationDetails"},
}
_DESTINATIONS = ("storageAccountId", "workspaceId", "eventHubAuthorizationRuleId", "marketplacePartnerId")
_STORAGE_ID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)"
    r"/providers/Microsoft\.Storage/storageAccounts/(?P<name>[a-z0-9]{3,24})$",
    re.IGNORECASE,
)
VAULT = SUB + RG + r"/providers/Microsoft\.KeyVault/vaults/(?P<vault>[^/]+)"
SETTINGS = VAULT + r"/providers/Microsoft\.Insights/diagnosticSettings"


@dataclass
class DiagnosticSetting:
    name: str
    vault_id: str  # the vault's ARM id as the vault carries it
    storage_account_id: str | None = None
    workspace_id: str | None = None
    event_hub_authorization_rule_id: str | None = None
    event_hub_name: str | None = None
    marketplace_partner_id: str | None = None
    log_analytics_destination_type: str | None = None
    logs: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)

    def covered(self) -> set[str]:
        """The log categories this setting collects (enabled logs only)."""
        out: set[str] = set()
        for log in self.logs:
            if log.get("enabled"):
                out |= _COVERS[log.get("category") or log.get("categoryGroup") or ""]
        return out

    @property
    def sends_audit_events_to_storage(self) -> bool:
        return self.storage_account_id is not None and "AuditEvent" in self.covered()

    def render(self) -> dict[str, Any]:
        return {
            "id": f"{self.vault_id}/providers/microsoft.insights/diagnosticSettings/{self.name}",
            "name": self.name,
            "type": "Microsoft.Insights/diagnosticSettings",
            "properties": {
                "storageAccountId": self.storage_account_id,
                "workspaceId": self.workspace_id,
                "eventHubAuthorizationRuleId": self.event_hub_authorization_rule_id,
                "eventHubName": self.event_hub_name,
                "marketplacePartnerId": self.marketplace_partner_id,
                "logAnalyticsDestinationType": self.log_analytics_destination_type,
                "logs": self.logs,
                "metrics": self.metrics,
            },
        }


def _bad(message: str, code: str = "BadRequest") -> ArmRefusal:
    return ArmRefusal(400, code, message)


def _optional_str(props: dict[str, Any], key: str) -> str | None:
    value = props.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad(f"'{key}' must be a string.")
    return value


def _logs(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
        raise _bad("'logs' must be a list of objects.")
    out = []
    for item in raw:
        category = item.get("category")
        group = item.get("categoryGroup")
        if category and group:
            raise _bad("A log setting has either a 'category' or a 'categoryGroup', not both.")
        if category:
            if not isinstance(category, str) or category.lower() not in CATEGORIES:
                raise _bad(f"Category '{category}' is not supported.")
            category, group = CATEGORIES[category.lower()], None
        elif group:
            if not isinstance(group, str) or group.lower() not in CATEGORY_GROUPS:
                raise _bad(f"Category group '{group}' is not supported.")
            category, group = None, CATEGORY_GROUPS[group.lower()]
        else:
            raise _bad("A log setting needs a 'category' or a 'categoryGroup'.")
        enabled = item.get("enabled")
        if not isinstance(enabled, bool):
            raise _bad("'enabled' (true or false) is required for each log setting.")
        retention = item.get("retentionPolicy") or {"enabled": False, "days": 0}
        if not isinstance(retention, dict):
            raise _bad("'retentionPolicy' must be an object.")
        out.append(
            {
                "category": category,
                "categoryGroup": group,
                "enabled": enabled,
                "retentionPolicy": {
                    "enabled": bool(retention.get("enabled", False)),
                    "days": int(retention.get("days") or 0),
                },
            }
        )
    return out


def parse(ctx: Ctx, vault: Vault, name: str) -> DiagnosticSetting:
    """The setting a PUT body describes, checked as Azure checks it (raises ArmRefusal)."""
    try:
        body = ctx.req.json()
    except orjson.JSONDecodeError:
        raise _bad("The request content was not valid JSON.", "InvalidRequestContent") from None
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise _bad("The request content must be an object with 'properties'.", "InvalidRequestContent")
    props = body["properties"]
    metrics = props.get("metrics") or []
    if not isinstance(metrics, list) or not all(isinstance(x, dict) for x in metrics):
        raise _bad("'metrics' must be a list of objects.")
    setting = DiagnosticSetting(
        name=name,
        vault_id=vault.id,
        storage_account_id=_optional_str(props, "storageAccountId"),
        workspace_id=_optional_str(props, "workspaceId"),
        event_hub_authorization_rule_id=_optional_str(props, "eventHubAuthorizationRuleId"),
        event_hub_name=_optional_str(props, "eventHubName"),
        marketplace_partner_id=_optional_str(props, "marketplacePartnerId"),
        log_analytics_destination_type=_optional_str(props, "logAnalyticsDestinationType"),
        logs=_logs(props.get("logs")),
        metrics=metrics,
    )
    if not any(props.get(key) for key in _DESTINATIONS):
        raise _bad(
            "At least one destination should be specified (storage account, workspace, event hub or partner)."
        )
    if not setting.logs and not setting.metrics:
        raise _bad("At least one log or metric category should be specified.")
    if setting.storage_account_id is not None:
        setting.storage_account_id = _check_storage(ctx, vault, setting.storage_account_id)
    return setting


def _check_storage(ctx: Ctx, vault: Vault, arm_id: str) -> str:
    assert ctx.principal is not None
    m = _STORAGE_ID.match(arm_id.strip().rstrip("/"))
    if m is None:
        raise _bad(
            f"The storage account id '{arm_id}' is not a valid storage account resource id "
            "(/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}).",
            "LinkedInvalidPropertyId",
        )
    state = ctx.rt.state
    sub = state.subscription(m["sub"])
    if sub is None or not state.can_access(sub, ctx.principal.tenant_id):
        raise ArmRefusal(
            403,
            "LinkedAuthorizationFailed",
            f"The client '{ctx.principal.object_id}' with object id '{ctx.principal.object_id}' has permission to "
            f"perform action 'Microsoft.Insights/diagnosticSettings/write' on scope '{vault.id}'; however, it does "
            f"not have permission to perform action 'Microsoft.Storage/storageAccounts/listkeys/action' on the "
            f"linked scope(s) '{arm_id}' or the linked scope(s) are invalid.",
        )
    account = state.storage_account_by_id(arm_id)
    if account is None:
        raise _bad(f"The storage account '{arm_id}' could not be found.", "LinkedResourceNotFound")
    if account.location.lower() != vault.location.lower():
        raise _bad(
            f"The storage account '{arm_id}' is in region '{account.location}', the resource '{vault.id}' in "
            f"'{vault.location}': the storage account must be in the same region as the resource."
        )
    return account.id


def _vault(ctx: Ctx, m: re.Match[str]) -> Vault:
    assert ctx.sub is not None
    for v in ctx.rt.state.vaults.get(ctx.sub.subscription_id.lower(), []):
        if v.resource_group.lower() == m["rg"].lower() and v.name.lower() == m["vault"].lower():
            return v
    raise ArmRefusal(
        404,
        "ResourceNotFound",
        f"The Resource 'Microsoft.KeyVault/vaults/{m['vault']}' under resource group '{m['rg']}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def settings_of(ctx: Ctx, vault: Vault) -> dict[str, DiagnosticSetting]:
    return ctx.rt.state.diagnostic_settings.get(vault.id.lower(), {})


def _refusal(exc: ArmRefusal) -> Response:
    return error_response(exc.status, exc.code, exc.message)


@route("GET", SETTINGS, "diagnosticSettings.list")
def diagnostic_settings_list(ctx: Ctx, m: re.Match[str]) -> Response:
    try:
        vault = _vault(ctx, m)
    except ArmRefusal as exc:
        return _refusal(exc)
    with ctx.rt.state.lock:
        items = [s.render() for s in settings_of(ctx, vault).values()]
    return json_response(200, {"value": items})


@route("GET", SETTINGS + r"/(?P<name>[^/]+)", "diagnosticSettings.get")
def diagnostic_settings_get(ctx: Ctx, m: re.Match[str]) -> Response:
    try:
        vault = _vault(ctx, m)
    except ArmRefusal as exc:
        return _refusal(exc)
    setting = settings_of(ctx, vault).get(m["name"].lower())
    if setting is None:
        return error_response(404, "ResourceNotFound", f"The diagnostic setting '{m['name']}' doesn't exist.")
    return json_response(200, setting.render())


@route("PUT", SETTINGS + r"/(?P<name>[^/]+)", "diagnosticSettings.createOrUpdate", kind="writes")
def diagnostic_settings_put(ctx: Ctx, m: re.Match[str]) -> Response:
    try:
        vault = _vault(ctx, m)
        setting = parse(ctx, vault, m["name"])
        state = ctx.rt.state
        with state.lock:
            existing = state.diagnostic_settings.setdefault(vault.id.lower(), {})
            key = setting.name.lower()
            if key in existing:
                setting.name = existing[key].name  # ARM keeps the name as first created
            elif len(existing) >= MAX_SETTINGS:
                raise _bad(
                    f"Maximum number of diagnostic settings is {MAX_SETTINGS} per resource; '{vault.name}' has "
                    f"{len(existing)}: delete one first."
                )
            if setting.storage_account_id is not None:
                for other in existing.values():
                    if other.name.lower() == key or other.storage_account_id is None:
                        continue
                    shared = setting.covered() & other.covered()
                    if other.storage_account_id.lower() == setting.storage_account_id.lower() and shared:
                        raise ArmRefusal(
                            409,
                            "Conflict",
                            f"Data sink '{setting.storage_account_id}' is already used in diagnostic setting "
                            f"'{other.name}' for category '{sorted(shared)[0]}'. Data sinks can't be reused in "
                            "different settings on the same category for the same resource.",
                        )
            existing[key] = setting
    except ArmRefusal as exc:
        return _refusal(exc)
    return json_response(200, setting.render())


@route("DELETE", SETTINGS + r"/(?P<name>[^/]+)", "diagnosticSettings.delete", kind="deletes")
def diagnostic_settings_delete(ctx: Ctx, m: re.Match[str]) -> Response:
    try:
        vault = _vault(ctx, m)
    except ArmRefusal as exc:
        return _refusal(exc)
    state = ctx.rt.state
    with state.lock:
        existing = state.diagnostic_settings.get(vault.id.lower(), {})
        removed = existing.pop(m["name"].lower(), None)
        if not existing:
            state.diagnostic_settings.pop(vault.id.lower(), None)
    if removed is None:
        return empty(204)
    return empty(200)
