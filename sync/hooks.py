"""What the sync plugs into the layers below it at start-up (imported by SyncConfig.ready): the inventory's "queue
a sync" and the chrome's menu entry and "synced N min ago" indicator."""

from __future__ import annotations

from portal.inventory import hooks as inventory_hooks
from portal.web import chrome
from sync.selectors import sync_indicator_for
from sync.tasks import sync_subscription


def _request_sync(subscription_pk: int, trigger: str) -> None:
    sync_subscription.delay(subscription_pk, trigger=trigger)


def register_all() -> None:
    inventory_hooks.set_sync_requester(_request_sync)
    chrome.menu_item(chrome.MenuItem("Security Center", "Sync status", "sync:sync_status", "sync", order=100))
    chrome.indicator("sync", sync_indicator_for)
