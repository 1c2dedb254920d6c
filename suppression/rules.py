"""Alert suppression rules: matching, applying to new alerts, Simulate, and the sync with Azure's rules.

A rule mirrors Microsoft.Security/alertsSuppressionRules (2019-01-01-preview): an alert type (or `*`), conditions
that must all match (`{"field": "entities.ip.address", "in": [...]}` = Equals, `{"field": ..., "contains": "x"}`
= Contains), a reason, a comment, an optional expiration date and a state. Matching is case-insensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from alerts.parsing import account_object_id, account_upn, entity_type, entity_value, parse_time
from suppression.models import SuppressionRule

# Entity fields a condition can use: Azure's own (DOMAIN §5), then the ones Key Vault alerts carry that Azure's list
# lacks (local-only: a rule using one is applied by the portal, not created in Azure).
AZURE_FIELDS: list[tuple[str, str]] = [
    ("entities.ip.address", "IP address"),
    ("entities.account.name", "User account – name"),
    ("entities.account.aaduserid", "User account – AAD user ID"),
    ("entities.account.upnsuffix", "User account – UPN suffix"),
    ("entities.azureresource.resourceid", "Azure resource ID"),
    ("entities.file.name", "File – name"),
    ("entities.file.directory", "File – directory"),
    ("entities.filehash.value", "File hash"),
    ("entities.host.hostname", "Host – name"),
    ("entities.host.azureid", "Host – Azure ID"),
    ("entities.host.dnsdomain", "Host – DNS domain"),
    ("entities.host.omsagentid", "Host – OMS agent ID"),
    ("entities.malware.name", "Malware – name"),
    ("entities.malware.category", "Malware – category"),
    ("entities.process.commandline", "Process – command line"),
]
LOCAL_FIELDS: list[tuple[str, str]] = [
    ("entities.account.upn", "User account – UPN (portal only)"),
    ("entities.account.objectid", "User account – object ID (portal only)"),
    ("entities.cloudapplication.appid", "Application – application ID (portal only)"),
    ("entities.cloudapplication.name", "Application – name (portal only)"),
]
ALL_FIELDS = dict(AZURE_FIELDS + LOCAL_FIELDS)
AZURE_FIELD_NAMES = {f for f, _ in AZURE_FIELDS}
REASONS = [
    ("AlertSeverityTooHigh", "The severity of the alert should be lower"),
    ("FalsePositive", "The alert detecting too many normal activities"),
    ("Noise", "The alert is too noisy - hitting on the same resources too many times"),
    ("NotRelevant", "The resource isn't relevant for me to monitor"),
    ("SpecificEntityFalsePositive", "The alert detecting normal activity on specific entity"),
    ("Unclear", "The alert isn't actionable - not clear how to investigate the threat"),
    ("Other", "Other"),
]
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,49}$")
ENTITY_TYPE_ALIASES = {"azureresource": "azure-resource", "cloudapplication": "cloud-application"}


def entity_values(entities: list[Any], field: str) -> list[str]:
    """The values an alert's entities hold for a rule field, lower-cased (entity keys vary in case)."""
    parts = field.lower().split(".")
    if len(parts) != 3 or parts[0] != "entities":
        return []
    kind = ENTITY_TYPE_ALIASES.get(parts[1], parts[1])
    prop = parts[2]
    values: list[str] = []
    for entity in entities:
        if not isinstance(entity, dict) or entity_type(entity).replace("_", "-") != kind:
            continue
        if kind == "account" and prop == "upn":
            if upn := account_upn(entity):
                values.append(upn)
            continue
        if kind == "account" and prop == "objectid":
            value = account_object_id(entity)
        else:
            value = entity_value(entity, prop)
        if isinstance(value, str | int) and not isinstance(value, bool):
            values.append(str(value))
    return [v.lower() for v in values]


def condition_matches(condition: dict[str, Any], entities: list[Any]) -> bool:
    field = condition.get("field")
    if not isinstance(field, str):
        return False
    values = entity_values(entities, field)
    if "in" in condition:
        wanted = {str(v).lower() for v in condition.get("in") or []}
        return any(v in wanted for v in values)
    if "contains" in condition:
        needle = str(condition.get("contains") or "").lower()
        return bool(needle) and any(needle in v for v in values)
    return False


def rule_matches(
    rule: SuppressionRule, alert_type: str, entities: list[Any], *, now: datetime | None = None
) -> bool:
    if rule.state != SuppressionRule.State.ENABLED:
        return False
    if rule.expiration_date is not None and rule.expiration_date <= (now or timezone.now()):
        return False
    if rule.alert_type != "*" and rule.alert_type.lower() != alert_type.lower():
        return False
    return all(condition_matches(c, entities) for c in rule.conditions)


def uses_local_fields(conditions: list[dict[str, Any]]) -> bool:
    return any(str(c.get("field", "")).lower() not in AZURE_FIELD_NAMES for c in conditions)


@dataclass
class RuleWarnings:
    all_types: bool
    no_conditions: bool
    no_expiration: bool
    local_fields: bool

    def messages(self) -> list[str]:
        out = []
        if self.all_types:
            out.append("It applies to every alert type (*): new kinds of attack would be dismissed too.")
        if self.no_conditions:
            out.append("It has no entity condition: it dismisses every such alert in the subscription.")
        if self.no_expiration:
            out.append("It never expires: review it regularly, or set an expiration date.")
        if self.local_fields:
            out.append("It uses a field Azure does not know: the rule stays in this portal (local-only).")
        return out


def warnings_for(
    alert_type: str, conditions: list[dict[str, Any]], expiration: datetime | None
) -> RuleWarnings:
    return RuleWarnings(alert_type == "*", not conditions, expiration is None, uses_local_fields(conditions))


# --- from and to Azure -------------------------------------------------------------------------------------------


def rule_fields(item: dict[str, Any]) -> dict[str, Any]:
    props = item.get("properties") or {}
    scope = props.get("suppressionAlertsScope") or {}
    state = str(props.get("state") or "Enabled").capitalize()
    return {
        "alert_type": str(props.get("alertType") or "*")[:200],
        "reason": str(props.get("reason") or "")[:100],
        "state": state if state in SuppressionRule.State.values else SuppressionRule.State.DISABLED,
        "comment": str(props.get("comment") or ""),
        "expiration_date": parse_time(props.get("expirationDateUtc"), "expirationDateUtc"),
        "last_modified_utc": parse_time(props.get("lastModifiedUtc"), "lastModifiedUtc"),
        "conditions": [c for c in scope.get("allOf") or [] if isinstance(c, dict)],
    }


def rule_properties(rule: SuppressionRule) -> dict[str, Any]:
    """The rule as the PUT body's properties (schema spelling: expirationDateUtc)."""
    props: dict[str, Any] = {
        "alertType": rule.alert_type,
        "reason": rule.reason,
        "state": rule.state,
        "comment": rule.comment,
    }
    if rule.expiration_date:
        props["expirationDateUtc"] = rule.expiration_date.isoformat().replace("+00:00", "Z")
    if rule.conditions:
        props["suppressionAlertsScope"] = {"allOf": rule.conditions}
    return props
