"""An API world: personas with tokens, and one of every object the API reaches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from alerts.models import BulkStatusJob
from alerts.services import alerts_on_new
from portal.api.services import token_create
from portal.testing.factories import alert_item, make_alerts, make_vault
from pricing.models import Pricing
from suppression.models import SuppressionRule
from triage.models import Incident, SavedView
from triage.webhooks import webhook_save


@dataclass
class ApiWorld:
    p: Any
    tokens: dict[str, str]
    alert: Any
    other_alert: Any
    vault: Any
    rule: Any
    incident: Any
    webhook: Any
    view: Any
    job: Any

    def client(self, who: str | None) -> APIClient:
        client = APIClient()
        if who:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens[who]}")
        return client


@pytest.fixture
def api_world(personas: Any, settings: Any) -> ApiWorld:
    settings.API_RATE_LIMIT = "100000/min"
    p = personas
    vault = make_vault(p.sub, name="kv-api")
    alerts = make_alerts(
        p.sub,
        [alert_item(p.sub, vault=vault, n=i, correlation="corr-api" if i < 3 else "") for i in range(1, 6)],
    )
    other = make_alerts(p.other, [alert_item(p.other, n=50)])[0]
    with transaction.atomic():
        alerts_on_new(alert_ids=[a.pk for a in alerts], subscription_pk=p.sub.pk, backlog=True)
    rule = SuppressionRule.objects.create(
        subscription=p.sub,
        name="known-scanner",
        alert_type="KV_TORAccess",
        reason="Other",
        comment="scanner",
        local_only=True,
        conditions=[],
    )
    for sub in (p.sub, p.other):
        Pricing.objects.create(subscription=sub, name="KeyVaults", tier="Free")
    webhook, _secret = webhook_save(
        user=p.secadmin,
        subscription=p.sub,
        name="SOAR",
        url="https://soar.example.com/hook",
        events=["alert.created"],
    )
    view = SavedView.objects.create(owner=p.reader, name="Mine", query="severity=High")
    job = BulkStatusJob.objects.create(
        user=p.secadmin, query="", status="InProgress", total=0, created_at=alerts[0].time_generated
    )
    tokens = {
        who: token_create(user=getattr(p, who), name="tests")[1]
        for who in ("owner", "secadmin", "reader", "outsider", "superuser")
    }
    from django.core.cache import cache

    from portal.api.models import ApiToken

    for (
        token
    ) in ApiToken.objects.all():  # a token id may repeat from an earlier run: forget its request history
        cache.delete(f"throttle_api_token-{token.pk}")
    return ApiWorld(
        p=p,
        tokens=tokens,
        alert=alerts[0],
        other_alert=other,
        vault=vault,
        rule=rule,
        incident=Incident.objects.get(correlation_key="corr-api"),
        webhook=webhook,
        view=view,
        job=job,
    )
