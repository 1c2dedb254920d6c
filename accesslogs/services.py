"""A vault's access-log collection has one write path: this module.

Turning it on or off is a change written back to Azure like a plan or a rule: saved here as pending (with the audit
entry), pushed by `accesslogs.tasks.push_collection` (a diagnostic setting PUT or DELETE on the vault, retried while
Azure does not answer), then confirmed by reading the setting back, or refused with Azure's message. The page shows
each state as it settles (portal.web.pending).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accesslogs.detect import Settings, read_list
from accesslogs.models import LogCollection, StorageAccount, StorageListing
from accesslogs.selectors import same_region
from portal import recovery
from portal.accounts.selectors import can_write
from portal.audit.services import audit_record
from portal.inventory.models import KeyVault

SETTING_NAME = "kv-console-auditevent"
LISTS = Path(__file__).resolve().parent / "lists"


def detector_settings() -> Settings:
    """The detector's thresholds and address lists, as the operator configured them (README: access logs)."""
    tor = django_settings.ACCESS_LOGS_TOR_LIST or str(LISTS / "tor_exits.txt")
    suspicious = django_settings.ACCESS_LOGS_SUSPICIOUS_LIST or str(LISTS / "suspicious_ips.txt")
    return Settings(
        learning_days=max(0, min(django_settings.ACCESS_LOGS_LEARNING_DAYS, 14)),
        tor_exits=read_list(tor),
        suspicious_ips=read_list(suspicious),
    )


def setting_properties(storage_account_id: str) -> dict[str, Any]:
    return {
        "storageAccountId": storage_account_id,
        "logs": [
            {"category": "AuditEvent", "enabled": True, "retentionPolicy": {"enabled": False, "days": 0}}
        ],
    }


def _check_writer(user: User | None, vault: KeyVault) -> None:
    if user is not None and not can_write(user, vault.subscription_id):
        raise PermissionDenied(
            "Only Security Admins and Owners of this subscription turn access-log collection on or off."
        )


def collection_start(
    *,
    user: User | None,
    vault: KeyVault,
    account: StorageAccount,
    request: HttpRequest | None = None,
) -> LogCollection:
    """Ask Azure to send the vault's AuditEvent log to `account` (one ARM listed for the vault's subscription).
    Refused before anything changes: another subscription's list, another region, no HTTPS blob endpoint."""
    _check_writer(user, vault)
    account_id, name, blob = account.arm_id, account.name, account.blob_endpoint
    if account.subscription_id != vault.subscription_id:
        raise ValidationError("Pick a storage account of the vault's subscription.")
    if not same_region(account.location, vault.location):
        raise ValidationError(
            f"The storage account {name} is in {account.location or 'an unknown region'}; Azure sends a vault's logs "
            f"only to a storage account in the vault's region ({vault.location})."
        )
    if not blob.startswith("https://"):
        raise ValidationError(f"The storage account {name} has no HTTPS blob endpoint.")
    now = timezone.now()
    with transaction.atomic():
        collection = LogCollection.objects.select_for_update().filter(vault=vault).first()
        before = (
            None
            if collection is None
            else {"state": collection.state, "storage": collection.storage_account_id}
        )
        if collection is not None and collection.pending:
            raise ValidationError(
                "A change of this vault's access-log collection is still being written to Azure."
            )
        if collection is None:
            collection = LogCollection(
                vault=vault, subscription_id=vault.subscription_id, setting_name=SETTING_NAME
            )
        elif (
            collection.state == LogCollection.State.ON
            and collection.storage_account_id.lower() == account_id.lower()
        ):
            return collection  # already so (a double submit)
        collection.storage_account_id, collection.storage_account_name = account_id, name
        collection.blob_endpoint = blob
        collection.state = LogCollection.State.PENDING_ON
        collection.pending_since, collection.pending_error, collection.last_error = now, "", ""
        collection.requested_by = user
        collection.save()
        audit_record(
            actor=user,
            action="accesslogs.start",
            obj=collection,
            before=before,
            after={"state": "on", "storage": account_id},
            request=request,
            subscription=vault.subscription_id,
        )
        from accesslogs.tasks import push_collection  # the tasks import these services

        transaction.on_commit(partial(push_collection.delay, collection.pk))
    return collection


def collection_stop(
    *, user: User | None, vault: KeyVault, request: HttpRequest | None = None
) -> LogCollection:
    """Ask Azure to delete the console's diagnostic setting; what was read and detected stays."""
    _check_writer(user, vault)
    with transaction.atomic():
        collection = LogCollection.objects.select_for_update().filter(vault=vault).first()
        if collection is None or collection.state == LogCollection.State.OFF:
            raise ValidationError("Access-log collection is not on for this vault.")
        if collection.pending:
            raise ValidationError(
                "A change of this vault's access-log collection is still being written to Azure."
            )
        collection.state = LogCollection.State.PENDING_OFF
        collection.pending_since, collection.pending_error, collection.last_error = timezone.now(), "", ""
        collection.save()
        audit_record(
            actor=user,
            action="accesslogs.stop",
            obj=collection,
            before={"state": "on"},
            after={"state": "off"},
            request=request,
            subscription=vault.subscription_id,
        )
        from accesslogs.tasks import push_collection

        transaction.on_commit(partial(push_collection.delay, collection.pk))
    return collection


def confirmed_by(setting: dict[str, Any] | None, storage_account_id: str) -> bool:
    """Whether Azure's setting, read back, sends AuditEvent to the storage account."""
    if not isinstance(setting, dict):
        return False
    props = setting.get("properties") or {}
    if str(props.get("storageAccountId") or "").lower() != storage_account_id.lower():
        return False
    logs = props.get("logs") or []
    return any(
        isinstance(entry, dict)
        and entry.get("enabled")
        and (entry.get("category") == "AuditEvent" or entry.get("categoryGroup") in ("audit", "allLogs"))
        for entry in logs
    )


def collection_push_result(*, collection_pk: int, wanted: str, confirmed: bool, error: str = "") -> None:
    """Azure's answer to a change: `confirmed` (read back as wanted) or refused (`error`, shown on the page). `wanted`
    is the pending state pushed; a result for a superseded change is ignored."""
    now = timezone.now()
    with transaction.atomic():
        collection = LogCollection.objects.select_for_update().filter(pk=collection_pk).first()
        if collection is None or collection.state != wanted:
            return
        turning_on = wanted == LogCollection.State.PENDING_ON
        if confirmed:
            collection.state = LogCollection.State.ON if turning_on else LogCollection.State.OFF
            if turning_on:
                collection.confirmed_at = now
                collection.first_day = collection.first_day or now.date()
                collection.oldest_unfinished_day = collection.oldest_unfinished_day or now.date()
            collection.last_error = ""
        else:
            collection.state = LogCollection.State.OFF if turning_on else LogCollection.State.ON
            collection.last_error = error[:2000] or "Azure did not confirm the change."
        collection.pending_since, collection.pending_error = None, ""
        collection.save()
        audit_record(
            actor=None,
            action="accesslogs.confirmed" if confirmed else "accesslogs.refused",
            obj=collection,
            after={"state": collection.state, **({"error": error[:500]} if error else {})},
            subscription=collection.subscription_id,
        )


def collection_attempt_failed(*, collection_pk: int, error: str) -> None:
    """A transient failure of the push, retried by the task; shown on the page meanwhile."""
    LogCollection.objects.filter(pk=collection_pk).update(pending_error=error[:2000])


def requeue_stale_pushes(now: datetime, cutoff: datetime) -> int:
    """The access logs' step of the stale-work sweep (portal.recovery): a change pending since before `cutoff` whose
    message was lost is queued again."""
    from accesslogs.tasks import push_collection

    return recovery.requeue(
        LogCollection.objects.filter(
            pending_since__lt=cutoff,
            state__in=[LogCollection.State.PENDING_ON, LogCollection.State.PENDING_OFF],
        ),
        push_collection.delay,
        pending_since=now,
    )


# --- a subscription's storage accounts, as ARM lists them (by a task: pages never call Azure) ------------------------

LISTING_FRESH = timedelta(minutes=5)


def storage_listing_request(*, subscription_pk: int) -> StorageListing:
    """Queue a listing of the subscription's storage accounts unless one is under way or the last is recent."""
    now = timezone.now()
    with transaction.atomic():
        listing, _ = StorageListing.objects.select_for_update().get_or_create(subscription_id=subscription_pk)
        fresh = (
            listing.listed_at is not None and now - listing.listed_at < LISTING_FRESH and not listing.error
        )
        under_way = (
            listing.pending
            and listing.requested_at is not None
            and now - listing.requested_at < LISTING_FRESH
        )
        if under_way or fresh:
            return listing
        listing.requested_at = now
        listing.save(update_fields=["requested_at"])
        from accesslogs.tasks import list_storage_accounts

        transaction.on_commit(partial(list_storage_accounts.delay, subscription_pk))
    return listing


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def storage_accounts_store(*, subscription_pk: int, items: list[dict[str, Any]], error: str = "") -> None:
    """ARM's answer: the subscription's accounts replace those stored (or the error is kept, the list stays)."""
    now = timezone.now()
    with transaction.atomic():
        listing, _ = StorageListing.objects.select_for_update().get_or_create(subscription_id=subscription_pk)
        listing.listed_at, listing.error = now, error[:2000]
        listing.save(update_fields=["listed_at", "error"])
        if error:
            return
        accounts = {}
        for item in items:
            if not isinstance(item, dict) or not item.get("id") or not item.get("name"):
                continue
            props = _dict(item.get("properties"))
            endpoints = _dict(props.get("primaryEndpoints"))
            accounts[str(item["name"])[:100]] = StorageAccount(
                subscription_id=subscription_pk,
                arm_id=str(item["id"])[:600],
                name=str(item["name"])[:100],
                location=str(item.get("location") or "")[:60],
                blob_endpoint=str(endpoints.get("blob") or "")[:600],
            )
        StorageAccount.objects.filter(subscription_id=subscription_pk).delete()
        StorageAccount.objects.bulk_create(list(accounts.values()))
