"""Access-log tasks: the collection's write-back (a diagnostic setting PUT or DELETE, confirmed by a read-back) and
the poll of every collecting subscription (beat: `poll-access-logs`, every ACCESS_LOGS_POLL_SECONDS)."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from accesslogs import reading
from accesslogs.cursor import CONTAINER
from accesslogs.models import LogCollection
from accesslogs.services import (
    collection_attempt_failed,
    collection_push_result,
    confirmed_by,
    detector_settings,
    setting_properties,
    storage_accounts_store,
)
from portal.arm import errors, operations
from portal.arm.blobs import BlobReader
from portal.celery import retry_transient
from portal.inventory.azure import config_for
from portal.inventory.models import Subscription

MAX_RETRIES = 5


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES, name="accesslogs.push_collection")
def push_collection(self: Task[Any, str], collection_pk: int) -> str:
    collection = (
        LogCollection.objects.select_related("vault", "subscription__connection")
        .filter(pk=collection_pk)
        .first()
    )
    if collection is None or not collection.pending:
        return "nothing pending"
    wanted = collection.state
    config = config_for(collection.subscription.connection)
    vault_id = collection.vault.arm_id
    try:
        if wanted == LogCollection.State.PENDING_ON:
            operations.put_diagnostic_setting(
                config, vault_id, collection.setting_name, setting_properties(collection.storage_account_id)
            )
            confirmed = confirmed_by(
                operations.get_diagnostic_setting(config, vault_id, collection.setting_name),
                collection.storage_account_id,
            )
        else:
            operations.delete_diagnostic_setting(config, vault_id, collection.setting_name)
            confirmed = operations.get_diagnostic_setting(config, vault_id, collection.setting_name) is None
    except errors.TRANSIENT as exc:
        if self.request.retries < MAX_RETRIES:
            collection_attempt_failed(collection_pk=collection.pk, error=str(exc))
        retry_transient(self, exc, limit=MAX_RETRIES)
        collection_push_result(
            collection_pk=collection.pk, wanted=wanted, confirmed=False, error=f"Azure did not answer: {exc}"
        )
        return f"failed: {exc}"
    except errors.ArmError as exc:
        collection_push_result(
            collection_pk=collection.pk, wanted=wanted, confirmed=False, error=exc.message or str(exc)
        )
        return f"refused: {exc}"
    collection_push_result(
        collection_pk=collection.pk,
        wanted=wanted,
        confirmed=confirmed,
        error="" if confirmed else "Azure accepted the change, but reading the setting back did not show it.",
    )
    return f"{wanted}: {'confirmed' if confirmed else 'not confirmed'}"


def blob_source(collection: LogCollection) -> BlobReader:
    """The collection's storage account, read with its connection's credential (a bearer token)."""
    return BlobReader(config_for(collection.subscription.connection), collection.blob_endpoint, CONTAINER)


@shared_task(name="accesslogs.poll_all")
def poll_all() -> int:
    """Queue one poll per subscription with a vault collecting its access log."""
    subscriptions = sorted(
        set(
            LogCollection.objects.filter(state=LogCollection.State.ON).values_list(
                "subscription_id", flat=True
            )
        )
    )
    for pk in subscriptions:
        poll_subscription.delay(pk)
    return len(subscriptions)


@shared_task(acks_late=True, name="accesslogs.poll_subscription")
def poll_subscription(subscription_pk: int) -> str:
    report = reading.poll_subscription(subscription_pk, source_for=blob_source, settings=detector_settings())
    return (
        f"{report.records} records ({report.bytes_read} bytes, {report.blobs_read} blobs), "
        f"{len(report.alert_ids)} detections, {report.malformed} malformed lines"
    )


@shared_task(bind=True, max_retries=3, name="accesslogs.list_storage_accounts")
def list_storage_accounts(self: Task[Any, str], subscription_pk: int) -> str:
    """ARM's list of the subscription's storage accounts, stored for the Collect access logs page."""
    subscription = Subscription.objects.select_related("connection").filter(pk=subscription_pk).first()
    if subscription is None:
        return "no such subscription"
    try:
        items = operations.list_storage_accounts(
            config_for(subscription.connection), subscription.subscription_id
        )
    except errors.TRANSIENT as exc:
        retry_transient(self, exc, limit=3)
        storage_accounts_store(
            subscription_pk=subscription_pk, items=[], error=f"Azure did not answer: {exc}"
        )
        return f"failed: {exc}"
    except errors.ArmError as exc:
        storage_accounts_store(subscription_pk=subscription_pk, items=[], error=exc.message or str(exc))
        return f"refused: {exc}"
    storage_accounts_store(subscription_pk=subscription_pk, items=items)
    return f"{len(items)} storage accounts"
