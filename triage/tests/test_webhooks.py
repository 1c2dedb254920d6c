"""Outbound webhooks against a local receiver that checks the signature on its own (its own HMAC code, not the
portal's), rejects stale timestamps, and answers with the status codes a test asks for."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.urls import reverse

from alerts.services import alerts_on_new
from alerts.status import alert_set_status
from portal.testing.factories import alert_item, make_alerts, make_vault
from portal.testing.fixtures import wait_for
from triage import services, webhooks
from triage.models import Webhook, WebhookDelivery

REPLAY_WINDOW = 300


class Receiver:
    """An automation endpoint (think SOAR): verifies X-KV-Signature = sha256 HMAC of "<timestamp>.<body>"."""

    def __init__(self) -> None:
        self.secret = ""
        self.requests: list[dict[str, Any]] = []
        self.replies: deque[int] = deque()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                stamp = self.headers.get("X-KV-Timestamp", "")
                expected = (
                    "sha256="
                    + hmac.new(
                        receiver.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256
                    ).hexdigest()
                )
                valid = hmac.compare_digest(expected, self.headers.get("X-KV-Signature", ""))
                fresh = stamp.isdigit() and abs(time.time() - int(stamp)) <= REPLAY_WINDOW
                receiver.requests.append(
                    {"headers": dict(self.headers), "body": json.loads(body), "valid": valid, "fresh": fresh}
                )
                code = receiver.replies.popleft() if receiver.replies else (200 if valid and fresh else 401)
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if code < 300 else b"nope")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/defender"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hook(personas, receiver):
    webhook, secret = webhooks.webhook_save(
        user=personas.secadmin,
        subscription=personas.sub,
        name="SOAR",
        url=receiver.url,
        events=["alert.created", "alert.status_changed", "alert.assigned"],
    )
    receiver.secret = secret
    return webhook


@pytest.mark.django_db
def test_webhook_form_validates_and_shows_the_secret_once(client, personas):
    client.force_login(personas.reader)
    assert client.get(reverse("triage:webhook_create")).status_code == 403
    assert client.get(reverse("triage:webhooks")).status_code == 200
    client.force_login(personas.secadmin)
    url = reverse("triage:webhook_create")
    for bad in ("ftp://files.example.com/x", "javascript:alert(1)", "not a url", "http://"):
        response = client.post(
            url,
            {
                "subscription": personas.sub.pk,
                "name": "x",
                "url": bad,
                "events": ["alert.created"],
                "enabled": "on",
            },
        )
        assert (
            response.status_code == 400 and "must be an http:// or https:// URL" in response.content.decode()
        )
    response = client.post(
        url,
        {
            "subscription": personas.sub.pk,
            "name": "x",
            "url": "https://soar.example.com/h",
            "events": ["alert.exploded"],
        },
    )
    assert response.status_code == 400 and "Choose one or more of" in response.content.decode()
    assert (
        client.post(
            url,
            {
                "subscription": personas.other.pk,
                "name": "x",
                "url": "https://a.example.com",
                "events": ["alert.created"],
            },
        ).status_code
        == 404
    )  # not their subscription
    assert not Webhook.objects.exists()  # bad input changed nothing
    response = client.post(
        url,
        {
            "subscription": personas.sub.pk,
            "name": "Chat",
            "url": "https://chat.example.com/h",
            "events": ["alert.created"],
            "enabled": "on",
        },
    )
    hook = Webhook.objects.get()
    secret = webhooks.vault.decrypt(hook.secret_encrypted)
    assert response.status_code == 200 and secret in response.content.decode()  # shown once, now
    assert secret not in hook.secret_encrypted
    page = client.get(reverse("triage:webhook", args=[hook.pk])).content.decode()
    assert secret not in page and "Send test" in page
    client.force_login(personas.reader)
    page = client.get(reverse("triage:webhook", args=[hook.pk])).content.decode()
    assert "Send test" not in page and secret not in page
    assert client.post(reverse("triage:webhook_test", args=[hook.pk])).status_code == 403
    assert (
        client.post(
            reverse("triage:webhook", args=[hook.pk]),
            {"name": "y", "url": "https://x.example.com", "events": ["alert.created"]},
        ).status_code
        == 403
    )
    client.force_login(personas.outsider)
    assert client.get(reverse("triage:webhook", args=[hook.pk])).status_code == 404


@pytest.mark.django_db
def test_events_are_signed_and_verified_by_an_independent_receiver(
    personas, hook, receiver, django_capture_on_commit_callbacks
):
    vault = make_vault(personas.sub)
    alerts = make_alerts(personas.sub, [alert_item(personas.sub, vault=vault, n=i) for i in (1, 2)])
    with django_capture_on_commit_callbacks(execute=False):
        alerts_on_new(alert_ids=[a.pk for a in alerts], subscription_pk=personas.sub.pk, backlog=False)
        alert_set_status(
            user=personas.secadmin, alert=alerts[0], status="Dismissed", classification="FalsePositive"
        )
        services.alert_assign(user=personas.secadmin, alert=alerts[1], assignee=personas.owner)
    deliveries = list(WebhookDelivery.objects.order_by("id"))
    assert [d.event for d in deliveries] == [
        "alert.created",
        "alert.created",
        "alert.status_changed",
        "alert.assigned",
    ]
    for d in deliveries:
        assert webhooks.deliver(d.pk) is True
    assert len(receiver.requests) == 4 and all(r["valid"] and r["fresh"] for r in receiver.requests)
    created, _, changed, assigned = (r["body"] for r in receiver.requests)
    assert created["event"] == "alert.created" and created["alert"]["alertType"] == "KV_TORAccess"
    assert created["alert"]["subscriptionId"] == personas.sub.subscription_id
    assert changed["from"] == "Active" and changed["to"] == "Dismissed" and changed["actor"] == "secadmin"
    assert assigned["assignee"] == "owner"
    assert receiver.requests[0]["headers"]["X-KV-Event"] == "alert.created"
    for d in WebhookDelivery.objects.all():
        assert d.state == "delivered" and d.status_code == 200 and d.attempts == 1 and d.response == "ok"
    # a tampered body does not verify with the receiver's code
    headers = receiver.requests[0]["headers"]
    body = json.dumps(created).encode()
    tampered = b'{"event": "alert.created", "alert": {}}'
    expected = (
        "sha256="
        + hmac.new(
            receiver.secret.encode(), headers["X-KV-Timestamp"].encode() + b"." + tampered, hashlib.sha256
        ).hexdigest()
    )
    assert expected != headers["X-KV-Signature"] and body != tampered


@pytest.mark.django_db
def test_failures_are_retried_then_logged_and_bad_receivers_are_final(personas, hook, receiver):
    delivery = webhooks.webhook_test(user=personas.secadmin, webhook=hook)
    receiver.replies.extend([503, 500])
    assert webhooks.deliver(delivery.pk) is None  # worth retrying
    delivery.refresh_from_db()
    assert delivery.state == "pending" and delivery.status_code == 503 and delivery.attempts == 1
    assert webhooks.deliver(delivery.pk) is None
    assert webhooks.deliver(delivery.pk) is True
    delivery.refresh_from_db()
    assert delivery.state == "delivered" and delivery.attempts == 3 and delivery.delivered_at is not None
    assert webhooks.deliver(delivery.pk) is True and len(receiver.requests) == 3  # never twice once delivered

    gone = webhooks.webhook_test(user=personas.secadmin, webhook=hook)
    receiver.replies.append(410)
    assert webhooks.deliver(gone.pk) is False  # the receiver says it is gone: no retry
    gone.refresh_from_db()
    assert gone.state == "failed" and gone.status_code == 410 and gone.response == "nope"

    receiver.close()  # nobody listening: connection refused, retried up to the limit, then failed
    down = webhooks.webhook_test(user=personas.secadmin, webhook=hook)
    results = [webhooks.deliver(down.pk) for _ in range(webhooks.MAX_ATTEMPTS)]
    assert results == [None] * (webhooks.MAX_ATTEMPTS - 1) + [False]
    down.refresh_from_db()
    assert (
        down.state == "failed" and down.attempts == webhooks.MAX_ATTEMPTS and "ConnectionError" in down.error
    )


@pytest.mark.django_db
def test_wrong_secret_is_refused_by_the_receiver(personas, hook, receiver):
    receiver.secret = "not-the-secret"
    delivery = webhooks.webhook_test(user=personas.secadmin, webhook=hook)
    assert webhooks.deliver(delivery.pk) is False  # 401: final
    assert receiver.requests[0]["valid"] is False


def test_send_test_through_the_real_worker(client, personas, receiver, celery_worker):
    hook, secret = webhooks.webhook_save(
        user=personas.secadmin,
        subscription=personas.sub,
        name="Worker",
        url=receiver.url,
        events=["alert.created"],
    )
    receiver.secret = secret
    client.force_login(personas.secadmin)
    response = client.post(reverse("triage:webhook_test", args=[hook.pk]), follow=True)
    assert "Test event queued" in response.content.decode()
    wait_for(
        lambda: WebhookDelivery.objects.filter(webhook=hook, state="delivered").exists(),
        timeout=30,
        what=f"the worker delivers the test event\n{celery_worker.logs()}",
    )
    assert receiver.requests[0]["body"]["event"] == "ping" and receiver.requests[0]["valid"]
    page = client.get(reverse("triage:webhook", args=[hook.pk])).content.decode()
    assert "<td><code>ping</code></td><td>Delivered</td><td>200</td>" in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("http://169.254.169.254/metadata/identity/oauth2/token", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[::ffff:169.254.169.254]/latest/meta-data/", "link-local"),
        ("http://10.0.0.5:6379/", "loopback, private"),
        ("https://192.168.1.1/hook", "loopback, private"),
        ("http://100.64.0.1/", "loopback, private"),
        ("http://168.63.129.16/machine?comp=goalstate", "metadata"),  # Azure's WireServer
        ("http://100.100.100.200/latest/meta-data/", "metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "metadata"),
        ("http://[2002:a9fe:a9fe::]/", "metadata"),  # 6to4 wrapping 169.254.169.254
        ("http://[::ffff:10.0.0.1]/", "loopback, private"),
        ("http://198.18.0.1/", "loopback, private"),  # benchmarking range, not globally routable
        ("http://0.0.0.0:8000/", "metadata or multicast"),
        ("http://240.0.0.1/", "otherwise internal"),
        ("http://admin:secret@hooks.example.com/", "no user name or password"),
        ("http://hooks.example.com:99999/", "port in the address"),
    ],
)
def test_webhook_addresses_inside_the_network_are_refused_when_saved(client, personas, address, why):
    """No server-side request forgery: the metadata endpoint and internal services are not a webhook target."""
    with pytest.raises(webhooks.ValidationError) as err:
        webhooks.webhook_save(
            user=personas.secadmin, subscription=personas.sub, name="x", url=address, events=["alert.created"]
        )
    assert why in str(err.value)
    client.force_login(personas.secadmin)
    response = client.post(
        reverse("triage:webhook_create"),
        {"subscription": personas.sub.pk, "name": "x", "url": address, "events": ["alert.created"]},
    )
    assert response.status_code == 400 and why in response.content.decode()
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_a_private_network_listed_by_the_operator_is_allowed(personas, settings):
    settings.WEBHOOK_PRIVATE_NETWORKS = ["10.20.0.0/16"]
    hook, _ = webhooks.webhook_save(
        user=personas.secadmin,
        subscription=personas.sub,
        name="Internal SOAR",
        url="https://10.20.3.4/hook",
        events=["alert.created"],
    )
    assert hook.pk
    with pytest.raises(webhooks.ValidationError):  # loopback is not in the list any more
        webhooks.webhook_save(
            user=personas.secadmin,
            subscription=personas.sub,
            name="x",
            url="http://127.0.0.1:6379/",
            events=["alert.created"],
        )
    with pytest.raises(webhooks.ValidationError):  # listing it never opens link-local
        settings.WEBHOOK_PRIVATE_NETWORKS = ["169.254.0.0/16"]
        webhooks.webhook_save(
            user=personas.secadmin,
            subscription=personas.sub,
            name="x",
            url="http://169.254.169.254/",
            events=["alert.created"],
        )


@pytest.mark.django_db
def test_delivery_checks_the_address_it_actually_connects_to(personas, receiver, settings):
    """A name saved while it pointed outside, resolving inside at delivery (DNS rebinding), is refused on the
    socket: nothing reaches the receiver, and the delivery fails for good with the reason."""
    hook, secret = webhooks.webhook_save(
        user=personas.secadmin,
        subscription=personas.sub,
        name="Rebound",
        url=receiver.url.replace("127.0.0.1", "localhost"),
        events=["alert.created"],
    )
    receiver.secret = secret
    settings.WEBHOOK_PRIVATE_NETWORKS = []  # loopback no longer allowed
    delivery = webhooks.webhook_test(user=personas.secadmin, webhook=hook)
    assert webhooks.deliver(delivery.pk) is False  # final: retrying cannot help
    delivery.refresh_from_db()
    assert delivery.state == "failed" and delivery.attempts == 1
    assert "Refused to post to" in delivery.error and "WEBHOOK_PRIVATE_NETWORKS" in delivery.error
    assert receiver.requests == []
    settings.WEBHOOK_PRIVATE_NETWORKS = ["127.0.0.0/8", "::1/128"]
    again = webhooks.webhook_test(user=personas.secadmin, webhook=hook)
    assert webhooks.deliver(again.pk) is True and len(receiver.requests) == 1


def test_public_addresses_pass_and_embedded_ipv4_is_judged_by_itself(settings):
    from triage import egress

    settings.WEBHOOK_PRIVATE_NETWORKS = []
    assert egress.refusal("20.42.65.92") is None  # a public Azure front door address
    assert egress.refusal("2603:1030::1") is None
    assert egress.refusal("::ffff:20.42.65.92") is None
    assert egress.refusal("127.0.0.1") and egress.refusal("::1") and egress.refusal("10.1.2.3")


@pytest.mark.django_db
def test_a_refused_delivery_sends_not_even_a_handshake(personas, settings):
    """The refusal happens before connecting, so the delivery log cannot be used to probe internal ports."""
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    try:
        hook, _ = webhooks.webhook_save(
            user=personas.secadmin,
            subscription=personas.sub,
            name="Probe",
            url=f"http://localhost:{listener.getsockname()[1]}/",
            events=["alert.created"],
        )
        settings.WEBHOOK_PRIVATE_NETWORKS = []
        delivery = webhooks.webhook_test(user=personas.secadmin, webhook=hook)
        assert webhooks.deliver(delivery.pk) is False
        delivery.refresh_from_db()
        assert delivery.error.startswith("Refused to post to localhost: it resolves to a loopback")
        with pytest.raises(BlockingIOError):  # a completed handshake would be waiting in the backlog
            listener.accept()
    finally:
        listener.close()


def test_webhook_sessions_refuse_proxies():
    from triage import egress

    with egress.session() as http, pytest.raises(egress.BlockedAddress):
        http.post("http://hooks.example.com/", proxies={"http": "http://127.0.0.1:9"}, timeout=1)


@pytest.mark.django_db
def test_a_second_copy_of_a_delivery_in_flight_does_not_post_again(personas, hook, receiver, monkeypatch):
    """The sweep may queue a copy of a slow message; a copy arriving while the first is mid-POST stops."""
    import requests

    delivery = webhooks.webhook_test(user=personas.secadmin, webhook=hook)
    real_post = requests.Session.post
    nested: list[bool | None] = []

    def post_while_a_copy_arrives(self, *args, **kwargs):
        if not nested:
            assert WebhookDelivery.objects.get(pk=delivery.pk).state == "sending"
            nested.append(webhooks.deliver(delivery.pk))  # the copy, while this one is in flight
        return real_post(self, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "post", post_while_a_copy_arrives)
    assert webhooks.deliver(delivery.pk) is True
    assert nested == [True] and len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 1)


def test_the_ipv6_loopback_is_allowed_when_listed_as_the_readme_says(personas, settings):
    """README: `::1/128` is allowed with DEBUG=1 and in tests; the code refused it as reserved before looking."""
    settings.WEBHOOK_PRIVATE_NETWORKS = ["127.0.0.0/8", "::1/128"]
    hook, _ = webhooks.webhook_save(
        user=personas.secadmin,
        subscription=personas.sub,
        name="v6",
        url="http://[::1]:9/",
        events=["alert.created"],
    )
    assert hook.pk
    settings.WEBHOOK_PRIVATE_NETWORKS = []
    with pytest.raises(webhooks.ValidationError, match="loopback, private"):
        webhooks.webhook_save(
            user=personas.secadmin,
            subscription=personas.sub,
            name="v6b",
            url="http://[::1]:9/",
            events=["alert.created"],
        )
