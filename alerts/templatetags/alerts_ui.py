"""Template helpers for alerts. Everything from Azure is untrusted: escaped by Django, links only http(s)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django import forms, template
from django.forms import BoundField
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from alerts import labels
from alerts.parsing import entity_type, entity_value
from portal.plans import plan_label as _plan_label

register = template.Library()

ENTITY_LABELS = {
    "ip": "IP address",
    "account": "Account",
    "cloud-application": "Application",
    "azure-resource": "Azure resource",
    "host": "Host",
    "file": "File",
    "process": "Process",
    "filehash": "File hash",
    "malware": "Malware",
    "url": "URL",
    "dns": "DNS",
    "registry-key": "Registry key",
    "network-connection": "Network connection",
}
# The fields shown first for each entity type, with their labels; anything else follows generically.
ENTITY_FIELDS = {
    "ip": [("address", "Address")],
    "account": [
        ("name", "Name"),
        ("upnSuffix", "UPN suffix"),
        ("displayName", "Display name"),
        ("aadUserId", "Azure AD object ID"),
        ("objectGuid", "Object GUID"),
        ("aadTenantId", "Tenant ID"),
        ("ntDomain", "NT domain"),
    ],
    "cloud-application": [("name", "Name"), ("appId", "Application ID")],
    "azure-resource": [("resourceName", "Name"), ("resourceType", "Type"), ("resourceId", "Resource ID")],
    "host": [
        ("hostName", "Host name"),
        ("dnsDomain", "DNS domain"),
        ("azureID", "Azure ID"),
        ("omsAgentID", "OMS agent ID"),
        ("osFamily", "OS family"),
    ],
    "file": [("name", "Name"), ("directory", "Directory")],
    "process": [("processId", "Process ID"), ("commandLine", "Command line"), ("creationTimeUtc", "Started")],
}
HIDDEN_KEYS = {"$id", "type", "$ref"}


@register.filter
def safe_url(value: Any) -> str:
    """The URL if it is http(s), else empty: javascript:, data: and friends are never rendered as links."""
    if not isinstance(value, str):
        return ""
    try:
        scheme = urlsplit(value.strip()).scheme.lower()
    except ValueError:
        return ""
    return value.strip() if scheme in {"http", "https"} else ""


@register.filter
def tactic_label(value: str) -> str:
    """CredentialAccess -> Credential Access (several may be comma-separated)."""
    return labels.tactic_label(value)


@register.filter
def plan_label(value: str) -> str:
    return _plan_label(value) if value else ""


@register.filter
def alert_type_label(value: str) -> SafeString | str:
    """KV_TORAccess -> "Access from a TOR exit node to a key vault" with the code in small type after it."""
    if not value:
        return ""
    name = labels.alert_type_name(value)
    if name == value:
        return format_html('<code class="type-code">{}</code>', value)
    return format_html('{} <code class="type-code">{}</code>', name, value)


@register.filter
def status_label(value: str) -> str:
    return labels.status_label(value)


@register.filter
def classification_label(value: str) -> str:
    return labels.classification_label(value)


@register.simple_tag
def entity_view(entity: dict[str, Any]) -> dict[str, Any]:
    """An entity as (label, [(field label, value)], location) for display; unknown types shown generically."""
    kind = entity_type(entity)
    rows: list[tuple[str, str]] = []
    used: set[str] = set()
    for key, label in ENTITY_FIELDS.get(kind, []):
        value = entity_value(entity, key)
        if value not in (None, "", [], {}):
            rows.append((label, _text(value)))
            used.add(key.lower())
    location = None
    for key, value in entity.items():
        lower = key.lower()
        if lower in used or lower in HIDDEN_KEYS:
            continue
        if lower == "location" and isinstance(value, dict):
            location = value
            continue
        if value in (None, "", [], {}):
            continue
        rows.append((_humanize(key), _text(value)))
    return {
        "label": ENTITY_LABELS.get(kind, kind or "Entity"),
        "kind": kind,
        "rows": rows,
        "location": location,
    }


def _humanize(key: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key.lstrip("$")).replace("_", " ")
    return words[:1].upper() + words[1:]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | dict):
        import orjson

        return orjson.dumps(value).decode()[:2000]
    return str(value)[:5000]


@register.filter
def evidence_kind(evidence: Any) -> str:
    if not isinstance(evidence, dict):
        return ""
    if isinstance(evidence.get("columns"), list) and isinstance(evidence.get("rows"), list):
        return "table"
    return "other"


@register.filter
def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@register.filter
def is_list(value: Any) -> bool:
    return isinstance(value, list)


@register.filter
def is_dict(value: Any) -> bool:
    return isinstance(value, dict)


@register.filter
def get_item(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, dict) else None


@register.filter
def link_href(link: Any) -> str:
    """An extendedLinks entry's address (keys vary in case: Href / href), if it is http(s)."""
    return safe_url(entity_value(link, "href")) if isinstance(link, dict) else ""


@register.filter
def link_label(link: Any) -> str:
    if not isinstance(link, dict):
        return ""
    value = entity_value(link, "label") or entity_value(link, "href") or "Link"
    return str(value)[:500]


def _choices(bound: BoundField) -> list[tuple[str, str]]:
    field = bound.field
    choices = getattr(field, "choices", None) or getattr(field.widget, "choices", [])
    return [(str(value), str(label)) for value, label in choices]


def _chosen(bound: BoundField) -> set[str]:
    value = bound.value()
    if value is None:
        return set()
    if isinstance(value, list | tuple):
        return {str(v) for v in value}
    return {str(value)}


@register.simple_tag
def filter_select(bound: BoundField) -> SafeString:
    """The filter bar's <select>, drawn in Python: Django's widget templates (an include per option) made the list
    page's filters cost as much as its fifty rows."""
    chosen = _chosen(bound)
    multiple = isinstance(bound.field, forms.MultipleChoiceField)
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((v, mark_safe(" selected") if v in chosen else "", label) for v, label in _choices(bound)),
    )
    return format_html(
        '<select name="{}" id="{}"{}>{}</select>',
        bound.html_name,
        bound.id_for_label,
        mark_safe(" multiple") if multiple else "",
        options,
    )


@register.simple_tag
def filter_checks(bound: BoundField, facet: str) -> SafeString:
    """The pill's checkboxes, each with the place its count is swapped into (id facet-<facet>-<value>)."""
    chosen = _chosen(bound)
    return format_html_join(
        "",
        '<label class="check" for="{0}_{1}"><input type="checkbox" name="{2}" value="{3}" id="{0}_{1}"{4}> {5}'
        ' <span class="facet-count muted" id="facet-{6}-{3}"></span></label>',
        (
            (bound.auto_id, i, bound.html_name, v, mark_safe(" checked") if v in chosen else "", label, facet)
            for i, (v, label) in enumerate(_choices(bound))
        ),
    )


@register.simple_tag
def severity_badge(severity: str) -> SafeString:
    """The severity dot and word (a tag, not an include: a list draws fifty)."""
    return format_html(
        '<span class="sev sev-{}"><span class="sev-dot" aria-hidden="true"></span>{}</span>',
        (severity or "").lower(),
        severity,
    )


@register.simple_tag
def status_badge(alert: Any) -> SafeString:
    """An alert's status in words, with pending / write-back failed / suppressed markers."""
    parts = [
        format_html(
            '<span class="status-badge status-{}">{}</span>',
            alert.status.lower(),
            labels.status_label(alert.status),
        )
    ]
    if alert.pending_status:
        parts.append(
            mark_safe(' <span class="badge pending" title="Being written back to Azure">pending</span>')
        )
    elif getattr(alert, "pending_failed", False):
        parts.append(
            format_html(
                ' <span class="badge failed" title="{}">write-back failed</span>', alert.pending_error
            )
        )
    if getattr(alert, "is_suppressed", False):  # annotated by the suppression app where it applies
        parts.append(mark_safe(' <span class="badge">suppressed</span>'))
    return mark_safe("".join(parts))  # noqa: S308 - each part escaped above
