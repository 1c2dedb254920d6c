"""Outbound webhooks: a signed JSON POST when an alert is created, changes status, or is assigned.

Signature: `X-KV-Signature: sha256=<hex>` = HMAC-SHA256(secret, f"{X-KV-Timestamp}." + body). A receiver checks it
and rejects timestamps older than a few minutes (replay).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets as pysecrets
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from alerts.models import Alert
from portal import text
from portal.accounts.selectors import can_write
from portal.audit.services import audit_record
from portal.inventory import secrets as vault
from portal.inventory.models import Subscription
from triage import egress
from triage.models import WEBHOOK_EVENTS, Webhook, WebhookDelivery

EVENT_NAMES = {name for name, _ in WEBHOOK_EVENTS}
TIMEOUT = 10
MAX_ATTEMPTS = 5


@sensitive_variables("secret")
def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError({"url": "The webhook address must be an http:// or https:// URL."})
    if parts.username or parts.password:
        raise ValidationError(
            {"url": "Put no user name or password in the address; the signature authenticates."}
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValidationError({"url": "The port in the address is not a number from 1 to 65535."}) from None
    why = egress.check_host(parts.hostname)
    if why:
        raise ValidationError({"url": f"The portal does not post to this address: {why}."})
    return url


def webhook_save(
    *,
    user: User,
    subscription: Subscription,
    name: str,
    url: str,
    events: list[str],
    enabled: bool = True,
    webhook: Webhook | None = None,
    request: HttpRequest | None = None,
) -> tuple[Webhook, str | None]:
    """Create or update a webhook. A new one gets a secret, returned once (shown once) and stored encrypted."""
    if not can_write(user, subscription.pk):
        raise PermissionDenied("Only Security Admins and Owners manage webhooks.")
    url = _check_url(url)
    name = text.check_single_line(name, field="name")
    if not name or len(name) > 80:
        raise ValidationError({"name": "Give the webhook a name (at most 80 characters)."})
    unknown = set(events) - EVENT_NAMES
    if unknown or not events:
        raise ValidationError({"events": "Choose one or more of: " + ", ".join(sorted(EVENT_NAMES)) + "."})
    secret = None
    created = webhook is None
    with transaction.atomic():
        # Names are unique in a subscription; the subscription row serialises two posts of the same form at once,
        # so that a double submit is refused instead of creating a second hook (every event then went out twice).
        Subscription.objects.select_for_update().filter(pk=subscription.pk).values_list(
            "pk", flat=True
        ).first()
        clash = Webhook.objects.filter(subscription=subscription, name__iexact=name)
        if webhook is not None:
            clash = clash.exclude(pk=webhook.pk)
        if clash.exists():
            raise ValidationError({"name": "This subscription already has a webhook with this name."})
        if webhook is None:
            secret = pysecrets.token_urlsafe(32)
            webhook = Webhook(
                subscription=subscription, created_by=user, secret_encrypted=vault.encrypt(secret)
            )
        before = (
            None
            if created
            else {
                "name": webhook.name,
                "url": webhook.url,
                "events": webhook.events,
                "enabled": webhook.enabled,
            }
        )
        webhook.name, webhook.url, webhook.events, webhook.enabled = name, url, sorted(set(events)), enabled
        webhook.save()
    audit_record(
        actor=user,
        action="webhook.create" if created else "webhook.update",
        obj=webhook,
        before=before,
        after={"name": name, "url": url, "events": webhook.events, "enabled": enabled},
        request=request,
        subscription=subscription,
    )
    return webhook, secret


def webhook_delete(*, user: User, webhook: Webhook, request: HttpRequest | None = None) -> None:
    if not can_write(user, webhook.subscription_id):
        raise PermissionDenied("Only Security Admins and Owners manage webhooks.")
    audit_record(
        actor=user,
        action="webhook.delete",
        obj=webhook,
        before={"name": webhook.name, "url": webhook.url},
        request=request,
        subscription=webhook.subscription_id,
    )
    webhook.delete()


def _alert_payload(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "azureId": alert.azure_id,
        "title": alert.title,
        "alertType": alert.alert_type,
        "severity": alert.severity,
        "status": alert.status,
        "subscriptionId": alert.subscription.subscription_id if hasattr(alert, "subscription") else None,
        "detectedTime": alert.time_generated.isoformat(),
        "url": settings.PORTAL_BASE_URL + reverse("alerts:detail", args=[alert.pk]),
    }


def _queue(webhook: Webhook, event: str, payload: dict[str, Any], now: datetime) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, event=event, payload=payload, created_at=now, touched_at=now
    )
    from triage.tasks import deliver_webhook

    pk = delivery.pk
    transaction.on_commit(lambda: deliver_webhook.delay(pk))
    return delivery


def _hooks_for(subscription_pk: int, event: str) -> list[Webhook]:
    return [
        h for h in Webhook.objects.filter(subscription_id=subscription_pk, enabled=True) if event in h.events
    ]


def webhook_event(
    alert: Alert,
    event: str,
    *,
    actor: User | None = None,
    extra: dict[str, Any] | None = None,
    hooks: list[Webhook] | None = None,
) -> int:
    """Queue a delivery to every enabled webhook of the alert's subscription that wants `event` (`hooks`: those
    webhooks, when the caller already has them)."""
    if hooks is None:
        hooks = _hooks_for(alert.subscription_id, event)
    now = timezone.now()
    for hook in hooks:
        _queue(hook, event, _event_payload(event, alert, now, actor=actor, extra=extra), now)
    return len(hooks)


def _event_payload(
    event: str,
    alert: Alert,
    now: datetime,
    *,
    actor: User | str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "event": event,
        "occurredAt": now.isoformat(),
        "alert": _alert_payload(alert),
        # a person's name; a rule's label or the system (None) is not named
        "actor": actor.get_username() if isinstance(actor, User) and actor.is_authenticated else None,
        **(extra or {}),
    }


def webhooks_for_new_alerts(*, alert_ids: list[int], subscription_pk: int) -> int:
    """`alert.created` for each new alert, to every webhook that wants it: two statements (the alerts, one insert of
    every delivery) and one queued message, however many alerts and hooks."""
    hooks = _hooks_for(subscription_pk, "alert.created")
    if not hooks:
        return 0
    now = timezone.now()
    deliveries = [
        WebhookDelivery(
            webhook=hook,
            event="alert.created",
            payload=_event_payload("alert.created", alert, now),
            created_at=now,
            touched_at=now,
        )
        for alert in Alert.objects.filter(pk__in=alert_ids).select_related("subscription")
        for hook in hooks
    ]
    created = WebhookDelivery.objects.bulk_create(deliveries, batch_size=1000)
    pks = [d.pk for d in created if d.pk is not None]
    if len(pks) != len(created):  # a backend that does not return ids from a bulk insert
        pks = list(
            WebhookDelivery.objects.filter(
                webhook__in=hooks, event="alert.created", created_at=now
            ).values_list("pk", flat=True)
        )
    from triage.tasks import deliver_webhooks

    transaction.on_commit(lambda: deliver_webhooks.delay(pks))
    return len(pks)


def webhooks_for_status_changes(
    *, alerts: list[Alert], before: dict[int, str], actor: User | str | None = None, source: str = ""
) -> int:
    """`alert.status_changed` for each alert whose status changed, to every webhook that wants it: one read of the
    webhooks, one insert of every delivery and one queued message, however many alerts (a bulk change, a rule)."""
    subscriptions = {a.subscription_id for a in alerts}
    hooks: dict[int, list[Webhook]] = {}
    for hook in Webhook.objects.filter(subscription_id__in=subscriptions, enabled=True):
        if "alert.status_changed" in hook.events:
            hooks.setdefault(hook.subscription_id, []).append(hook)
    if not hooks:
        return 0
    by_pk = Subscription.objects.in_bulk(list(hooks))
    for alert in alerts:  # the payload names the subscription: read once, not per alert
        if alert.subscription_id in by_pk:
            alert.subscription = by_pk[alert.subscription_id]
    now = timezone.now()
    deliveries = [
        WebhookDelivery(
            webhook=hook,
            event="alert.status_changed",
            payload=_event_payload(
                "alert.status_changed",
                alert,
                now,
                actor=actor,
                extra={
                    "from": before.get(alert.pk),
                    "to": alert.status,
                    **({"source": source} if source else {}),
                },
            ),
            created_at=now,
            touched_at=now,
        )
        for alert in alerts
        for hook in hooks.get(alert.subscription_id, [])
    ]
    created = WebhookDelivery.objects.bulk_create(deliveries, batch_size=1000)
    pks = [d.pk for d in created if d.pk is not None]
    if len(pks) != len(created):  # a backend that does not return ids from a bulk insert
        pks = list(
            WebhookDelivery.objects.filter(event="alert.status_changed", created_at=now).values_list(
                "pk", flat=True
            )
        )
    from triage.tasks import deliver_webhooks

    transaction.on_commit(lambda: deliver_webhooks.delay(pks))
    return len(pks)


def webhook_test(*, user: User, webhook: Webhook, request: HttpRequest | None = None) -> WebhookDelivery:
    """ "Send test": a `ping` event, delivered like any other."""
    if not can_write(user, webhook.subscription_id):
        raise PermissionDenied("Only Security Admins and Owners manage webhooks.")
    now = timezone.now()
    return _queue(
        webhook, "ping", {"event": "ping", "occurredAt": now.isoformat(), "webhook": webhook.name}, now
    )


def _blocked(exc: BaseException) -> egress.BlockedAddress | None:
    """The egress refusal somewhere in the chain urllib3 and requests wrap it in, if that is what failed."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        if isinstance(item, egress.BlockedAddress):
            return item
        todo.extend([item.__cause__, item.__context__, *item.args, getattr(item, "reason", None)])
    return None


@sensitive_variables("secret")
def deliver(delivery_pk: int) -> bool | None:
    """POST one delivery. True: delivered (or nothing left to do); False: failed for good; None: failed, worth
    retrying."""
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_pk).first()
    if delivery is None or delivery.state != WebhookDelivery.State.PENDING:
        return True
    body = orjson.dumps(delivery.payload)
    timestamp = str(int(time.time()))
    secret = vault.decrypt(delivery.webhook.secret_encrypted)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "kv-defender-console-webhooks/1",
        "X-KV-Event": delivery.event,
        "X-KV-Delivery": str(delivery.pk),
        "X-KV-Timestamp": timestamp,
        "X-KV-Signature": sign(secret, timestamp, body),
    }
    attempts = delivery.attempts + 1
    # Claim this attempt: if the sweep queued a second copy of a slow message, only one of them posts; the other
    # finds it "sending" (or already settled) and stops.
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, state=WebhookDelivery.State.PENDING, attempts=delivery.attempts
    ).update(state=WebhookDelivery.State.SENDING, attempts=attempts, touched_at=timezone.now())
    if not claimed:
        return True
    try:
        with egress.session() as http:
            response = http.post(
                delivery.webhook.url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
            )
    except requests.RequestException as exc:
        blocked = _blocked(exc)
        final = attempts >= MAX_ATTEMPTS or blocked is not None
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=attempts,
            touched_at=timezone.now(),
            error=(str(blocked) if blocked else f"{type(exc).__name__}: {exc}")[:2000],
            state=WebhookDelivery.State.FAILED if final else WebhookDelivery.State.PENDING,
        )
        return False if final else None
    ok = 200 <= response.status_code < 300
    final = ok or attempts >= MAX_ATTEMPTS or response.status_code in (400, 401, 403, 404, 410)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=attempts,
        touched_at=timezone.now(),
        status_code=response.status_code,
        response=response.text[:2000],
        error="",
        state=WebhookDelivery.State.DELIVERED
        if ok
        else (WebhookDelivery.State.FAILED if final else WebhookDelivery.State.PENDING),
        delivered_at=timezone.now() if ok else None,
    )
    return True if ok else (False if final else None)
