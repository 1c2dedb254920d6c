"""Reads for the access-log pages: a vault's collection, the storage accounts it may use, a local detection's
evidence and the alerts related to it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth.models import User

from accesslogs.auditevent import APP_CLAIMS, OID_CLAIMS, UPN_CLAIMS, claim
from accesslogs.models import LocalEvidence, LogCollection, StorageAccount, StorageListing
from alerts.models import Alert, Origin
from alerts.selectors import alerts_visible_to
from portal.inventory.models import KeyVault

RELATED_WINDOW = timedelta(hours=1)


def collection_of(vault: KeyVault) -> LogCollection | None:
    return LogCollection.objects.filter(vault=vault).first()


def unavailable_reason() -> str:
    """Why collection cannot work here (the emulator without Azurite), or ""."""
    return django_settings.ACCESS_LOGS_UNAVAILABLE


def same_region(a: str, b: str) -> bool:
    """ARM spells a region "westeurope" or "West Europe": the same region."""
    return a.replace(" ", "").lower() == b.replace(" ", "").lower()


def listing_of(subscription_pk: int) -> StorageListing | None:
    return StorageListing.objects.filter(subscription_id=subscription_pk).first()


def storage_accounts(vault: KeyVault) -> tuple[list[StorageAccount], list[StorageAccount]]:
    """The subscription's storage accounts as last listed: (those in the vault's region, the others)."""
    accounts = list(StorageAccount.objects.filter(subscription_id=vault.subscription_id))
    usable = [a for a in accounts if same_region(a.location, vault.location)]
    return usable, [a for a in accounts if a not in usable]


def evidence_of(alert: Alert) -> LocalEvidence | None:
    if alert.origin != Origin.LOCAL:
        return None
    return LocalEvidence.objects.filter(alert=alert).first()


def _ids_of(alert: Alert, evidence: LocalEvidence | None) -> set[str]:
    ids = {alert.identity.lower()} if alert.identity else set()
    for record in (evidence.records if evidence else [])[-1:]:
        ids |= {v.lower() for v in _claims(record).values() if isinstance(v, str) and v}
    return ids


def related(user: User, alert: Alert, evidence: LocalEvidence | None) -> list[Alert]:
    """Alerts of the other provider naming the same vault and identity (object id, app id or UPN) within an hour of
    the alert's activity: a local detection's Defender alerts, a Defender alert's local detections."""
    if alert.vault_id is None:
        return []
    start = alert.start_time or alert.time_generated
    end = alert.end_time or start
    other = Origin.DEFENDER if alert.origin == Origin.LOCAL else Origin.LOCAL
    fetched = alerts_visible_to(user).filter(
        vault_id=alert.vault_id,
        origin=other,
        time_generated__gte=start - timedelta(days=1),
        time_generated__lte=end + timedelta(days=1),
    )[:500]
    candidates = [a for a in fetched if _overlaps(a, start - RELATED_WINDOW, end + RELATED_WINDOW)]
    if alert.origin == Origin.LOCAL:
        ids = _ids_of(alert, evidence)
        return [a for a in candidates if _names_one_of(a, ids)][:20]
    mine = {alert.identity.lower(), *alert.search_text.split()} - {""}
    return [a for a in candidates if _names_one_of(a, mine)][:20]


def _overlaps(alert: Alert, start: datetime, end: datetime) -> bool:
    """Whether the alert's activity (start to end time; else the detected time) meets [start, end]."""
    first = alert.start_time or alert.time_generated
    last = alert.end_time or first
    return first <= end and last >= start


def _names_one_of(alert: Alert, ids: set[str]) -> bool:
    words = {alert.identity.lower(), *alert.search_text.split()}
    return bool(words & ids)


EVIDENCE_SHOWN = 20


def _claims(record: Any) -> dict[str, Any]:
    """A stored record's token claims ({} when it has none, as an unauthenticated request's)."""
    identity = record.get("identity") if isinstance(record, dict) else None
    claims = identity.get("claim") if isinstance(identity, dict) else None
    return claims if isinstance(claims, dict) else {}


def evidence_rows(evidence: LocalEvidence) -> list[dict[str, str]]:
    """The first records of the evidence as the page shows them (all of them are in the JSON download): who is the
    UPN, else the object id, else the application id, in either claim spelling."""
    rows = []
    for record in evidence.records[:EVIDENCE_SHOWN]:
        if not isinstance(record, dict):
            continue
        claims = _claims(record)
        found = record.get("properties")
        props: dict[str, Any] = found if isinstance(found, dict) else {}
        who = claim(claims, UPN_CLAIMS) or claim(claims, OID_CLAIMS) or claim(claims, APP_CLAIMS)
        status = props.get("httpStatusCode")
        rows.append(
            {
                "time": str(record.get("time") or ""),
                "operation": str(record.get("operationName") or ""),
                "result": f"{record.get('resultType') or ''}{f' ({status})' if status else ''}",
                "ip": str(record.get("callerIpAddress") or ""),
                "who": who,
                "object": str(props.get("id") or props.get("requestUri") or ""),
                "client": str(props.get("clientInfo") or ""),
            }
        )
    return rows
