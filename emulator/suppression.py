"""Alert suppression rules (api 2019-01-01-preview): validation, rendering and matching (DOMAIN.md §5).

Enabled, unexpired rules dismiss matching NEW alerts when they are created: the alert type equals the
rule's (or the rule says `*`) and every `suppressionAlertsScope.allOf` condition matches one of the
alert's entities. A field `entities.<type>.<property>` names an entity type (compared without `-` and
case-insensitively, so `azureresource` matches `azure-resource`) and a property (case-insensitive key);
`in` is equals-any, `contains` is a substring test, both case-insensitive.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from .util import ArmRefusal, azure_time_us, parse_time

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,49}$")
STATES = {"enabled": "Enabled", "disabled": "Disabled", "expired": "Expired"}
FIELD_RE = re.compile(r"^entities\.[A-Za-z-]+\.[A-Za-z0-9_.$-]+$")


class RuleError(ArmRefusal):
    pass


@dataclass
class Rule:
    name: str
    alert_type: str
    reason: str
    state: str
    last_modified: dt.datetime
    comment: str | None = None
    expiration: dt.datetime | None = None
    conditions: list[dict[str, Any]] = field(default_factory=list)

    def effective_state(self, now: dt.datetime) -> str:
        if self.state == "Enabled" and self.expiration is not None and self.expiration <= now:
            return "Expired"
        return self.state

    def active(self, now: dt.datetime) -> bool:
        return self.effective_state(now) == "Enabled"


def render(rule: Rule, subscription_id: str, now: dt.datetime) -> dict[str, Any]:
    props: dict[str, Any] = {
        "alertType": rule.alert_type,
        "lastModifiedUtc": azure_time_us(rule.last_modified),
    }
    if rule.expiration is not None:
        props["expirationDateUtc"] = azure_time_us(rule.expiration)
    props["state"] = rule.effective_state(now)
    props["reason"] = rule.reason
    if rule.comment is not None:
        props["comment"] = rule.comment
    if rule.conditions:
        props["suppressionAlertsScope"] = {"allOf": [dict(c) for c in rule.conditions]}
    return {
        "id": f"/subscriptions/{subscription_id}/providers/Microsoft.Security/alertsSuppressionRules/{rule.name}",
        "name": rule.name,
        "type": "Microsoft.Security/alertsSuppressionRules",
        "properties": props,
    }


def _bad(message: str) -> RuleError:
    return RuleError(400, "InvalidInputError", message)


def validate_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise _bad(
            f"The rule name '{name}' is invalid: use 2-50 letters, digits, '-' or '_', "
            "starting with a letter or a digit."
        )


def _conditions(scope: Any) -> list[dict[str, Any]]:
    if scope is None:
        return []
    if not isinstance(scope, dict) or not isinstance(scope.get("allOf"), list):
        raise _bad("'suppressionAlertsScope' must be an object with an 'allOf' list.")
    out: list[dict[str, Any]] = []
    for cond in scope["allOf"]:
        if not isinstance(cond, dict) or not isinstance(cond.get("field"), str):
            raise _bad("Each 'allOf' element needs a 'field'.")
        fld = cond["field"].strip()
        if not FIELD_RE.match(fld):
            raise _bad(
                f"'{fld}' is not a supported field; use an entity field such as 'entities.ip.address'."
            )
        ops = [k for k in cond if k != "field"]
        if ops == ["in"]:
            values = cond["in"]
            if (
                not isinstance(values, list)
                or not values
                or not all(isinstance(v, str | int) for v in values)
            ):
                raise _bad(f"'in' for field '{fld}' must be a non-empty list of values.")
            out.append({"field": fld, "in": [str(v) for v in values]})
        elif ops == ["contains"]:
            if not isinstance(cond["contains"], str) or not cond["contains"]:
                raise _bad(f"'contains' for field '{fld}' must be a non-empty string.")
            out.append({"field": fld, "contains": cond["contains"]})
        else:
            raise _bad(f"Each condition on '{fld}' needs exactly one operator: 'in' or 'contains'.")
    return out


def parse(name: str, body: Any, now: dt.datetime) -> Rule:
    validate_name(name)
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise RuleError(
            400, "InvalidRequestContent", "The request content was invalid: 'properties' is required."
        )
    props = body["properties"]
    missing = [k for k in ("alertType", "reason", "state") if not props.get(k)]
    if missing:
        raise _bad(f"Missing required properties: {', '.join(missing)}.")
    state_raw = str(props["state"]).strip().lower()
    if state_raw not in ("enabled", "disabled"):
        raise _bad(f"'{props['state']}' is not a valid state; use 'Enabled' or 'Disabled'.")
    expiration = None
    exp_raw = props.get("expirationDateUtc", props.get("expirationDateUTC"))
    if exp_raw:
        try:
            expiration = parse_time(str(exp_raw))
        except ValueError as exc:
            raise _bad(f"'{exp_raw}' is not a valid expirationDateUtc.") from exc
        if expiration <= now:
            raise _bad("The expiration date must be in the future.")
    comment = props.get("comment")
    return Rule(
        name=name,
        alert_type=str(props["alertType"]).strip(),
        reason=str(props["reason"]).strip(),
        state=STATES[state_raw],
        last_modified=now,
        comment=None if comment is None else str(comment),
        expiration=expiration,
        conditions=_conditions(props.get("suppressionAlertsScope")),
    )


def _entity_values(alert: dict[str, Any], entity_type: str, prop: str) -> list[str]:
    out: list[str] = []
    for ent in alert.get("properties", {}).get("entities") or []:
        if not isinstance(ent, dict):
            continue
        etype = next((v for k, v in ent.items() if k.lower() == "type"), None)
        if not isinstance(etype, str) or etype.replace("-", "").lower() != entity_type:
            continue
        for key, value in ent.items():
            if key.lower() == prop and value is not None and not isinstance(value, dict | list):
                out.append(str(value).lower())
    return out


def condition_matches(alert: dict[str, Any], cond: dict[str, Any]) -> bool:
    _, etype, prop = cond["field"].split(".", 2)
    values = _entity_values(alert, etype.replace("-", "").lower(), prop.lower())
    if "in" in cond:
        wanted = {str(v).lower() for v in cond["in"]}
        return any(v in wanted for v in values)
    needle = str(cond["contains"]).lower()
    return any(needle in v for v in values)


def rule_matches(rule: Rule, alert: dict[str, Any]) -> bool:
    alert_type = str(alert.get("properties", {}).get("alertType", ""))
    if rule.alert_type != "*" and rule.alert_type.lower() != alert_type.lower():
        return False
    return all(condition_matches(alert, c) for c in rule.conditions)


def first_match(rules: list[Rule], alert: dict[str, Any], now: dt.datetime) -> Rule | None:
    for rule in rules:
        if rule.active(now) and rule_matches(rule, alert):
            return rule
    return None
