"""Client secrets, API tokens and webhook secrets never appear in pages, API responses, logs or error reports.

A full run: discover and sync the emulator's tenants with the real SDK and credential (DEBUG logging on), a sync
with a wrong secret, an API token in use, a webhook delivery that crashes mid-way (an error report is rendered the
way Django would mail it), then every page and API response an Owner and an administrator can open."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest
from django.urls import reverse
from django.views.debug import ExceptionReporter

from portal.api.services import token_create
from portal.inventory.models import AzureConnection
from portal.inventory.services import connection_save
from portal.testing.factories import grant
from sync.orchestrator import sync_subscription
from triage import webhooks

pytestmark = pytest.mark.django_db


class Everything(logging.Handler):
    """Every record, formatted with its traceback, from every logger."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_secrets_never_leak(client, emulator, personas, monkeypatch):
    handler = Everything()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        secrets = [entry["client_secret"] for entry in emulator.connections]
        subscriptions = emulator.discover()
        for sub in subscriptions[:2]:
            sync_subscription(sub.pk, trigger="test")
        wrong = "Wr0ng-client-secret-value-1234567890"
        secrets.append(wrong)
        bad = connection_save(
            actor=None,
            data={
                "name": "Wrong",
                "tenant_id": emulator.connections[0]["tenant_id"],
                "client_id": emulator.connections[0]["client_id"],
                "arm_endpoint": emulator.base_url,
                "authority_host": emulator.base_url,
            },
            secret=wrong,
        )
        from sync.orchestrator import discover

        with pytest.raises(Exception):  # noqa: B017 - refused by the token endpoint, whatever the class
            discover(bad)
        owner = personas.owner
        for sub in subscriptions:
            grant(owner, sub, "owner")
        _token, raw = token_create(user=owner, name="scan")
        secrets.append(raw)
        hook, hook_secret = webhooks.webhook_save(
            user=owner,
            subscription=subscriptions[0],
            name="SOAR",
            url="https://127.0.0.1:9/hook",
            events=["alert.created"],
        )
        secrets.append(hook_secret)
        delivery = webhooks.webhook_test(user=owner, webhook=hook)

        def crash(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the network stack broke")

        monkeypatch.setattr(webhooks.requests.Session, "post", crash)
        reports = []
        try:
            webhooks.deliver(delivery.pk)
        except RuntimeError:
            exc_type, exc, tb = sys.exc_info()
            # what a worker's error report would hold: the frames from the delivery down (not this test's own)
            reporter = ExceptionReporter(None, exc_type, exc, tb.tb_next)
            reports += [reporter.get_traceback_text(), reporter.get_traceback_html()]
            logging.getLogger("django.request").exception("Internal Server Error: webhook delivery")
        assert reports, "the delivery should have crashed"

        bodies: list[str] = []
        api = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
        for path in (
            "/api/v1/webhooks/",
            f"/api/v1/webhooks/{hook.pk}/",
            "/api/v1/tokens/",
            "/api/v1/sync-runs/",
            "/api/v1/subscriptions/",
            "/api/v1/key-vaults/",
            f"/api/v1/webhooks/{hook.pk}/deliveries/",
        ):
            response = client.get(path, **api)
            assert response.status_code == 200, path
            bodies.append(response.content.decode())
        for user, urls in (
            (
                owner,
                [
                    reverse("triage:webhook", args=[hook.pk]),
                    reverse("triage:webhooks"),
                    reverse("api:tokens_page"),
                    reverse("sync:sync_status"),
                    reverse("web:subscriptions"),
                ],
            ),
            (
                personas.superuser,
                [
                    reverse("admin:inventory_azureconnection_changelist"),
                    *[
                        reverse("admin:inventory_azureconnection_change", args=[c.pk])
                        for c in AzureConnection.objects.all()
                    ],
                    reverse("admin:audit_auditrecord_changelist"),
                    reverse("admin:api_apitoken_changelist"),
                    reverse("admin:triage_webhook_change", args=[hook.pk]),
                ],
            ),
        ):
            client.force_login(user)
            for url in urls:
                response = client.get(url)
                assert response.status_code == 200, url
                bodies.append(response.content.decode())
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)

    assert len(handler.lines) > 20  # DEBUG logging really ran (azure.identity, urllib3, django, the sync)
    assert any(line.startswith("urllib3") for line in handler.lines)
    haystacks = {
        "logs": "\n".join(handler.lines),
        "error reports": "\n".join(reports),
        "pages and API": "\n".join(bodies),
    }
    for secret in secrets:
        for where, text in haystacks.items():
            assert secret not in text, f"a secret ({secret[:4]}…) appears in {where}"
