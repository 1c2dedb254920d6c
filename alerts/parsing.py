"""ARM alert JSON (api 2022-01-01) -> the values of an Alert row. Pure functions, no database.

Tested against the REST spec examples and the emulator's output. Anything that does not have the shape of an
alert raises MalformedAlertError; the caller stores such an element with its raw JSON and the error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from portal.hashing import content_hash, sorted_json
from portal.plans import plan_for_alert

SEVERITIES = {"high": "High", "medium": "Medium", "low": "Low", "informational": "Informational"}
SEVERITY_RANK = {"High": 4, "Medium": 3, "Low": 2, "Informational": 1}
STATUSES = {"active": "Active", "inprogress": "InProgress", "resolved": "Resolved", "dismissed": "Dismissed"}

# Properties mapped to their own columns; anything else under `properties` is kept in `extra`.
MAPPED = {
    "version",
    "alertType",
    "systemAlertId",
    "productComponentName",
    "alertDisplayName",
    "description",
    "severity",
    "intent",
    "startTimeUtc",
    "endTimeUtc",
    "resourceIdentifiers",
    "remediationSteps",
    "vendorName",
    "status",
    "extendedLinks",
    "alertUri",
    "timeGeneratedUtc",
    "productName",
    "processingEndTimeUtc",
    "entities",
    "isIncident",
    "correlationKey",
    "extendedProperties",
    "compromisedEntity",
    "techniques",
    "subTechniques",
    "supportingEvidence",
}
# Entity keys whose values analysts search for (IPs, UPNs, object ids, app ids, hosts...), compared lower-cased.
SEARCH_KEYS = {
    "address",
    "name",
    "upnsuffix",
    "aaduserid",
    "objectguid",
    "displayname",
    "appid",
    "applicationid",
    "hostname",
    "resourceid",
    "azureid",
    "userprincipalname",
    "upn",
    "ntdomain",
    "dnsdomain",
    "url",
    "value",
    "filename",
    "commandline",
    "useragent",
}
SEARCH_TEXT_LIMIT = 4000


class MalformedAlertError(ValueError):
    pass


@dataclass
class ParsedAlert:
    arm_id: str  # lower-cased
    fields: dict[str, Any]
    resource_ids: list[str]  # lower-cased ARM ids of affected Azure resources (to find the vault)
    content_hash: str


def strip_nul(value: Any) -> Any:
    """NUL characters (JSON "\\u0000", attacker-controlled in a user agent, say) removed from every string and key:
    PostgreSQL refuses them in text and jsonb, and one would fail the whole page."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [strip_nul(v) for v in value]
    if isinstance(value, dict):
        return {strip_nul(k) if isinstance(k, str) else k: strip_nul(v) for k, v in value.items()}
    return value


def parse_time(value: Any, field: str, *, required: bool = False) -> datetime | None:
    if value in (None, ""):
        if required:
            raise MalformedAlertError(f"{field} is missing")
        return None
    if not isinstance(value, str):
        raise MalformedAlertError(f"{field} is not a date-time string: {value!r:.80}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedAlertError(f"{field} is not an ISO-8601 date-time: {value!r:.80}") from exc
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _str(value: Any, field: str, limit: int | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedAlertError(f"{field} is not a string: {type(value).__name__}")
    text = str(value)
    return text[:limit] if limit else text


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedAlertError(f"{field} is not a list")
    return value


def _str_list(value: Any, field: str) -> list[str]:
    return [_str(v, field) for v in _list(value, field) if v is not None]


def entity_value(entity: dict[str, Any], key: str) -> Any:
    """Entity keys vary in case in the wild (`address`, `Address`): look them up case-insensitively."""
    if key in entity:
        return entity[key]
    lower = key.lower()
    for k, v in entity.items():
        if k.lower() == lower:
            return v
    return None


def entity_type(entity: dict[str, Any]) -> str:
    value = entity_value(entity, "type")
    return value.lower() if isinstance(value, str) else ""


def _resource_names(value: str) -> str:
    """An ARM resource id as the words an analyst would search for: its resource group and resource names (the
    rest is the subscription, which is a filter, and the provider path; the id itself is matched exactly)."""
    parts = [p for p in value.split("/") if p]
    names = [parts[i + 1] for i, p in enumerate(parts[:-1]) if p.lower() == "resourcegroups"]
    if len(parts) > 2 and parts[-2].lower() not in ("subscriptions", "resourcegroups"):
        names.append(parts[-1])
    return " ".join(names)


def _search_terms(entities: list[Any], extended: dict[str, str], *extra: str) -> str:
    """The text the free-text search matches (trigram-indexed on PostgreSQL, whose upkeep is most of the cost of
    storing an alert: every distinct trigram is an index entry). Resource ids are reduced to their names."""
    terms: list[str] = [e for e in extra if e]
    for entity in entities:
        if not isinstance(entity, dict):
            continue
        for key, value in entity.items():
            if key.lower() in SEARCH_KEYS and isinstance(value, str | int) and not isinstance(value, bool):
                terms.append(str(value))
            elif key.lower() == "location" and isinstance(value, dict):
                terms.extend(str(v) for k, v in value.items() if k in ("city", "countryCode", "asn") and v)
    terms.extend(v for v in extended.values() if len(v) <= 300)
    seen: dict[str, None] = {}
    for term in terms:
        if term[:15].lower() == "/subscriptions/":
            term = _resource_names(term)
        if term:
            seen.setdefault(term.lower(), None)
    return " ".join(seen)[:SEARCH_TEXT_LIMIT]


def account_upn(entity: dict[str, Any]) -> str:
    """An account entity's UPN: `name`, with `@upnSuffix` when the name lacks one ("" when there is no name)."""
    name, suffix = entity_value(entity, "name"), entity_value(entity, "upnSuffix")
    if not isinstance(name, str) or not name:
        return ""
    return f"{name}@{suffix}" if isinstance(suffix, str) and suffix and "@" not in name else name


def account_object_id(entity: dict[str, Any]) -> Any:
    """An account entity's Entra object id (`aadUserId`, else `objectGuid`), as the entity holds it."""
    return entity_value(entity, "aadUserId") or entity_value(entity, "objectGuid")


def identity_of(entities: list[Any], extended: dict[str, str]) -> tuple[str, str]:
    """(the identity behind the activity: UPN, else application, else object id; the caller's IP)."""
    upn = app = object_id = ip = ""
    for entity in entities:
        kind = entity_type(entity)
        if kind == "account":
            upn = upn or account_upn(entity)
            oid = account_object_id(entity)
            if isinstance(oid, str) and not object_id:
                object_id = oid
        elif kind in ("cloud-application", "cloudapplication") and not app:
            value = entity_value(entity, "name") or entity_value(entity, "appId")
            app = value if isinstance(value, str) else ""
        elif kind == "ip" and not ip:
            value = entity_value(entity, "address")
            ip = value if isinstance(value, str) else ""
    upn = upn or extended.get("UPN", "")
    app = app or extended.get("Application name", "") or extended.get("Application ID", "")
    object_id = object_id or extended.get("Object ID", "")
    ip = ip or extended.get("Client IP", "")
    # For an application, its name is the identity even if an account entity carries the service principal.
    identity = app if app and not extended.get("UPN") else (upn or app or object_id)
    return identity[:300], ip[:64]


def resource_ids(props: dict[str, Any], entities: list[Any]) -> list[str]:
    ids: list[str] = []
    for ident in props.get("resourceIdentifiers") or []:
        if isinstance(ident, dict):
            rid = entity_value(ident, "azureResourceId")
            if isinstance(rid, str):
                ids.append(rid.lower())
    for entity in entities:
        if isinstance(entity, dict) and entity_type(entity) in ("azure-resource", "azureresource"):
            rid = entity_value(entity, "resourceId")
            if isinstance(rid, str):
                ids.append(rid.lower())
    return ids


def parse_alert(item: Any, *, item_hash: str | None = None, has_nul: bool | None = None) -> ParsedAlert:
    """`item_hash` and `has_nul`: what `hash_item` found, when the caller has it already."""
    if not isinstance(item, dict):
        raise MalformedAlertError(f"an alert must be a JSON object, not {type(item).__name__}")
    if has_nul is None:
        has_nul = b"\\u0000" in sorted_json(item)
    if has_nul:
        item = strip_nul(item)
    arm_id = item.get("id")
    if not isinstance(arm_id, str) or "/providers/microsoft.security/locations/" not in arm_id.lower():
        raise MalformedAlertError(f"not an alert resource id: {arm_id!r:.200}")
    if "/alerts/" not in arm_id.lower() or not arm_id.lower().startswith("/subscriptions/"):
        raise MalformedAlertError(f"not an alert resource id: {arm_id!r:.200}")
    props = item.get("properties")
    if not isinstance(props, dict):
        raise MalformedAlertError("properties is missing or not an object")

    alert_type = _str(props.get("alertType"), "alertType", 200)
    if not alert_type:
        raise MalformedAlertError("alertType is missing")
    raw_severity = _str(props.get("severity"), "severity")
    severity = SEVERITIES.get(raw_severity.lower())
    if severity is None:
        raise MalformedAlertError(f"unknown severity {raw_severity!r:.40}")
    raw_status = _str(props.get("status"), "status") or "Active"
    status = STATUSES.get(raw_status.lower())
    if status is None:
        raise MalformedAlertError(f"unknown status {raw_status!r:.40}")

    start = parse_time(props.get("startTimeUtc"), "startTimeUtc")
    generated = parse_time(props.get("timeGeneratedUtc"), "timeGeneratedUtc") or start
    if generated is None:
        raise MalformedAlertError("neither timeGeneratedUtc nor startTimeUtc is present")

    entities = [e for e in _list(props.get("entities"), "entities") if isinstance(e, dict)]
    extended_raw = props.get("extendedProperties") or {}
    if not isinstance(extended_raw, dict):
        raise MalformedAlertError("extendedProperties is not an object")
    extended = {str(k): v if isinstance(v, str) else sorted_json(v).decode() for k, v in extended_raw.items()}
    evidence = props.get("supportingEvidence")
    if evidence is not None and not isinstance(evidence, dict):
        raise MalformedAlertError("supportingEvidence is not an object")
    links = [link for link in _list(props.get("extendedLinks"), "extendedLinks") if isinstance(link, dict)]
    product_component = _str(props.get("productComponentName"), "productComponentName", 100)
    title = _str(props.get("alertDisplayName"), "alertDisplayName")
    compromised = _str(props.get("compromisedEntity"), "compromisedEntity", 500)
    name = _str(item.get("name"), "name", 300)
    system_alert_id = _str(props.get("systemAlertId"), "systemAlertId", 300)

    identity, caller_ip = identity_of(entities, extended)
    fields: dict[str, Any] = {
        "azure_id": arm_id,
        "identity": identity,
        "caller_ip": caller_ip,
        "name": name,
        "system_alert_id": system_alert_id,
        "alert_type": alert_type,
        "title": title,
        "description": _str(props.get("description"), "description"),
        "severity": severity,
        "severity_rank": SEVERITY_RANK[severity],
        "azure_status": status,
        "intent": _str(props.get("intent"), "intent", 200),
        "plan": plan_for_alert(product_component, alert_type),
        "product_component_name": product_component,
        "product_name": _str(props.get("productName"), "productName", 200),
        "vendor_name": _str(props.get("vendorName"), "vendorName", 100),
        "start_time": start,
        "end_time": parse_time(props.get("endTimeUtc"), "endTimeUtc"),
        "time_generated": generated,
        "processing_end_time": parse_time(props.get("processingEndTimeUtc"), "processingEndTimeUtc"),
        "compromised_entity": compromised,
        "correlation_key": _str(props.get("correlationKey"), "correlationKey", 300),
        "is_incident": bool(props.get("isIncident")),
        "alert_uri": _str(props.get("alertUri"), "alertUri"),
        "techniques": _str_list(props.get("techniques"), "techniques"),
        "sub_techniques": _str_list(props.get("subTechniques"), "subTechniques"),
        "entities": entities,
        "extended_properties": extended,
        "supporting_evidence": evidence,
        "resource_identifiers": _list(props.get("resourceIdentifiers"), "resourceIdentifiers"),
        "remediation_steps": _str_list(props.get("remediationSteps"), "remediationSteps"),
        "extended_links": links,
        "extra": {k: v for k, v in props.items() if k not in MAPPED},
        "search_text": _search_terms(
            entities, extended, title.lower(), compromised, name, system_alert_id, alert_type
        ),
    }
    return ParsedAlert(
        arm_id=arm_id.lower(),
        fields=fields,
        resource_ids=resource_ids(props, entities),
        content_hash=item_hash or content_hash(item),
    )
