"""The REST API: a permission matrix over every endpoint, tokens, the error shape, idempotency keys, rate limits,
and that each endpoint does what its page does (same services)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from alerts.models import Alert, AlertEvent
from feedback.models import Feedback
from portal.api.models import ApiToken, IdempotencyRecord
from portal.audit.models import AuditRecord
from pricing.models import Pricing
from suppression.models import SuppressionRule
from triage.models import AlertComment, Webhook

pytestmark = pytest.mark.django_db

V1 = "/api/v1"


def matrix(w: Any) -> list[tuple[str, str, Any, dict[str, int]]]:
    """(method, path, body, expected status per persona). Readers read; Security Admins write; an outsider (Owner of
    another subscription) gets 404 for this subscription's objects."""
    sub, a, r, v, i, h, j = (
        w.p.sub.pk,
        w.alert.pk,
        w.rule.pk,
        w.vault.pk,
        w.incident.pk,
        w.webhook.pk,
        w.job.pk,
    )
    read = {"reader": 200, "outsider": 404, "secadmin": 200}
    listing = {"reader": 200, "outsider": 200, "secadmin": 200}
    write = {"reader": 403, "outsider": 404, "secadmin": 200}
    rule_body = {
        "subscription": sub,
        "name": "api-rule",
        "alert_type": "KV_TORAccess",
        "reason": "Other",
        "comment": "x",
        "local_only": True,
        "conditions": [{"field": "entities.ip.address", "in": ["1.2.3.4"]}],
    }
    hook_body = {
        "subscription": sub,
        "name": "chat",
        "url": "https://chat.example.com/h",
        "events": ["alert.assigned"],
    }
    contact = {
        "emails": "soc@contoso.com",
        "notify_by_role": True,
        "roles": ["Owner"],
        "minimal_severity": "Medium",
        "alert_notifications": True,
    }
    return [
        ("get", f"{V1}/alerts/", None, listing),
        ("get", f"{V1}/alerts/{a}/", None, read),
        ("get", f"{V1}/alerts/{a}/activity/", None, read),
        ("get", f"{V1}/alerts/{a}/comments/", None, read),
        ("get", f"{V1}/suppression-rules/", None, listing),
        ("get", f"{V1}/suppression-rules/{r}/", None, read),
        ("get", f"{V1}/subscriptions/", None, listing),
        ("get", f"{V1}/subscriptions/{sub}/plans/", None, read),
        ("get", f"{V1}/subscriptions/{sub}/security-contacts/", None, read),
        ("get", f"{V1}/key-vaults/", None, listing),
        ("get", f"{V1}/key-vaults/{v}/", None, read),
        ("get", f"{V1}/sync-runs/", None, listing),
        ("get", f"{V1}/incidents/", None, listing),
        ("get", f"{V1}/incidents/{i}/", None, read),
        ("get", f"{V1}/webhooks/", None, listing),
        ("get", f"{V1}/webhooks/{h}/", None, read),
        ("get", f"{V1}/webhooks/{h}/deliveries/", None, read),
        ("get", f"{V1}/saved-views/", None, listing),
        ("get", f"{V1}/tokens/", None, listing),
        (
            "get",
            f"{V1}/alerts/bulk-status/{j}/",
            None,
            {"reader": 404, "outsider": 404, "secadmin": 200},
        ),  # creator's
        (
            "post",
            f"{V1}/alerts/{a}/feedback/",
            {"useful": False, "reason": "NotRelevant"},
            {"reader": 200, "outsider": 404, "secadmin": 200},
        ),  # readers give feedback
        ("get", f"{V1}/alerts/{a}/feedback/", None, read),  # the person's own, given just above
        (
            "post",
            f"{V1}/saved-views/",
            {"name": "high only", "filter": "severity=High"},
            listing,
        ),  # a personal view: anyone who signs in (saved by name: 200)
        ("post", f"{V1}/suppression-rules/simulate/", {"subscription": sub, "alert_type": "*"}, read),
        ("post", f"{V1}/alerts/{a}/status/", {"status": "InProgress"}, write),
        ("post", f"{V1}/alerts/{a}/assign/", {"assignee": "me"}, write),
        ("post", f"{V1}/alerts/{a}/comments/", {"body": "looking"}, {**write, "secadmin": 201}),
        ("post", f"{V1}/incidents/{i}/status/", {"status": "InProgress"}, write),
        ("post", f"{V1}/suppression-rules/", rule_body, {**write, "secadmin": 201}),
        ("put", f"{V1}/suppression-rules/{r}/", {**rule_body, "name": "known-scanner"}, write),
        ("patch", f"{V1}/subscriptions/{sub}/plans/", {"plans": {"KeyVaults": "Standard"}}, write),
        ("put", f"{V1}/subscriptions/{sub}/security-contacts/", contact, write),
        ("post", f"{V1}/subscriptions/{sub}/sync/", None, {**write, "secadmin": 202}),
        ("post", f"{V1}/webhooks/", hook_body, {**write, "secadmin": 201}),
        ("put", f"{V1}/webhooks/{h}/", {**hook_body, "name": "SOAR"}, write),
        ("post", f"{V1}/webhooks/{h}/test/", None, {**write, "secadmin": 202}),
        (
            "post",
            f"{V1}/alerts/bulk-status/",
            {"filter": f"subscription={sub}", "status": "InProgress"},
            {"reader": 403, "outsider": 400, "secadmin": 202},
        ),  # outsider: not their subscription (filter error)
        ("delete", f"{V1}/saved-views/{w.view.pk}/", None, {"reader": 204, "outsider": 404, "secadmin": 404}),
        ("delete", f"{V1}/webhooks/{h}/", None, {**write, "secadmin": 204}),
        ("delete", f"{V1}/suppression-rules/{r}/", None, {**write, "secadmin": 204}),
    ]


def test_permission_matrix_over_every_endpoint(api_world, django_capture_on_commit_callbacks):
    rows = matrix(api_world)
    routes = {(m, p) for m, p, _, _ in rows}
    with django_capture_on_commit_callbacks(execute=False):
        for method, path, body, expected in rows:
            response = getattr(api_world.client(None), method)(path, body, format="json")
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.json()["error"]["code"] == "not_authenticated"
            for who in ("reader", "outsider", "secadmin"):
                response = getattr(api_world.client(who), method)(path, body, format="json")
                assert response.status_code == expected[who], (who, method, path, response.content[:300])
                if response.status_code >= 400:
                    assert set(response.json()["error"]) >= {"status", "code", "message"}
    # every v1 route is in the matrix (a new endpoint must be added here)
    from portal.api.urls import v1

    assert len({route for route, _, _ in v1}) == len(v1)
    covered = {p.replace(V1 + "/", "") for _, p, _, _ in rows}
    for route, _, _ in v1:
        concrete = route
        for key, value in {"<int:pk>": "\\d+"}.items():
            concrete = concrete.replace(key, value)
        import re

        assert any(re.fullmatch(concrete, c) for c in covered) or route in ("tokens/<int:pk>/",), route
    # and every row of the matrix is a real v1 endpoint (a typo in the matrix would test a 404)
    from django.urls import Resolver404, resolve

    names = {name for _, _, name in v1}
    for method, path in sorted(routes):
        try:
            match = resolve(path.split("?", 1)[0])
        except Resolver404:
            raise AssertionError(f"{method} {path} is not an API route") from None
        assert match.url_name in names, (method, path, match.url_name)


def test_writes_go_through_the_same_services_as_the_pages(api_world, django_capture_on_commit_callbacks):
    w, api = api_world, api_world.client("secadmin")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(f"{V1}/alerts/{w.alert.pk}/status/", {"status": "Dismissed"}, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid" and "classification" in body["fields"]
    assert not callbacks and Alert.objects.get(pk=w.alert.pk).status == "Active"  # nothing changed
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.post(
            f"{V1}/alerts/{w.alert.pk}/status/",
            {"status": "Dismissed", "classification": "FalsePositive", "comment": "scanner"},
            format="json",
        )
    assert response.status_code == 200 and len(callbacks) >= 1  # the write-back to Azure
    data = response.json()
    assert data["status"] == "Dismissed" and data["pending_status"] == "Dismissed"
    assert data["classification"] == "FalsePositive"
    event = AlertEvent.objects.get(alert=w.alert, kind="status_requested")
    assert event.data["source"] == "api" and event.actor == w.p.secadmin
    assert AuditRecord.objects.filter(action="alert.set_status", actor=w.p.secadmin).exists()
    # the list: same filters and cursor as the page
    page = api.get(f"{V1}/alerts/", {"status": ["Active", "Dismissed"], "sort": "severity"}).json()
    assert {r["id"] for r in page["results"]} >= {w.alert.pk} and page["next"] is None
    assert w.other_alert.pk not in {r["id"] for r in page["results"]}
    bad = api.get(f"{V1}/alerts/", {"severity": "Catastrophic", "cursor": "forged"})
    assert bad.status_code == 400 and set(bad.json()["error"]["fields"]) == {"severity", "cursor"}
    # feedback, comments, assignment
    assert (
        api.post(
            f"{V1}/alerts/{w.alert.pk}/feedback/", {"useful": True, "reason": "nope"}, format="json"
        ).status_code
        == 400
    )
    api.post(
        f"{V1}/alerts/{w.alert.pk}/feedback/",
        {"useful": False, "reason": "NotRelevant", "text": "noise"},
        format="json",
    )
    assert Feedback.objects.get(alert=w.alert).text == "noise"
    assert api.get(f"{V1}/alerts/{w.alert.pk}/feedback/").json()["reason"] == "NotRelevant"
    too_long = api.post(f"{V1}/alerts/{w.alert.pk}/comments/", {"body": "x" * 10_001}, format="json")
    assert too_long.status_code == 400 and "body" in too_long.json()["error"]["fields"]
    assert not AlertComment.objects.exists()
    refused = api.post(
        f"{V1}/alerts/{w.alert.pk}/assign/", {"assignee": f"user:{w.p.outsider.pk}"}, format="json"
    )
    assert (
        refused.status_code == 400
        and "cannot own alerts of this subscription" in refused.json()["error"]["fields"]["assignee"][0]
    )
    # rules: Azure's validation, field by field
    bad_rule = api.post(
        f"{V1}/suppression-rules/",
        {"subscription": w.p.sub.pk, "name": "-", "alert_type": "*", "reason": "Whatever"},
        format="json",
    )
    assert bad_rule.status_code == 400 and {"name", "reason"} <= set(bad_rule.json()["error"]["fields"])
    assert SuppressionRule.objects.count() == 1
    # plans: pending until Azure confirms
    api.patch(f"{V1}/subscriptions/{w.p.sub.pk}/plans/", {"plans": {"KeyVaults": "Standard"}}, format="json")
    assert Pricing.objects.get(subscription=w.p.sub).pending_tier == "Standard"
    unknown = api.patch(
        f"{V1}/subscriptions/{w.p.sub.pk}/plans/", {"plans": {"Nope": "Standard"}}, format="json"
    )
    assert unknown.status_code == 400 and "Unknown plan" in unknown.json()["error"]["message"]
    # webhooks: the secret once; a bad URL refused
    created = api.post(
        f"{V1}/webhooks/",
        {"subscription": w.p.sub.pk, "name": "x", "url": "ftp://x.example.com", "events": ["alert.created"]},
        format="json",
    )
    assert created.status_code == 400 and "http" in created.json()["error"]["fields"]["url"][0]
    metadata = api.post(
        f"{V1}/webhooks/",
        {
            "subscription": w.p.sub.pk,
            "name": "x",
            "url": "http://169.254.169.254/metadata/identity/oauth2/token",
            "events": ["alert.created"],
        },
        format="json",
    )
    assert metadata.status_code == 400 and "link-local" in metadata.json()["error"]["fields"]["url"][0]
    created = api.post(
        f"{V1}/webhooks/",
        {
            "subscription": w.p.sub.pk,
            "name": "x",
            "url": "https://x.example.com",
            "events": ["alert.created"],
        },
        format="json",
    )
    assert len(created.json()["secret"]) > 30 and "secret" not in api.get(f"{V1}/webhooks/").json()[0]
    assert Webhook.objects.count() == 2


def test_idempotency_key_one_effect_same_response(api_world, django_capture_on_commit_callbacks):
    w, api = api_world, api_world.client("secadmin")
    url = f"{V1}/alerts/{w.alert.pk}/comments/"
    headers = {"Idempotency-Key": "retry-123"}
    first = api.post(url, {"body": "once"}, format="json", headers=headers)
    again = api.post(url, {"body": "once"}, format="json", headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and again["Idempotent-Replayed"] == "true"
    assert AlertComment.objects.count() == 1 and IdempotencyRecord.objects.count() == 1
    other = api.post(url, {"body": "different"}, format="json", headers=headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    # keys are per user: another user's same key is a different request
    api_world.client("owner").post(url, {"body": "once"}, format="json", headers=headers)
    assert AlertComment.objects.count() == 2
    # a failed request is not recorded: a retry after fixing it takes effect
    bad = api.post(
        f"{V1}/alerts/{w.alert.pk}/status/",
        {"status": "Resolved"},
        format="json",
        headers={"Idempotency-Key": "close-1"},
    )
    assert bad.status_code == 400
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        ok = api.post(
            f"{V1}/alerts/{w.alert.pk}/status/",
            {"status": "Resolved", "classification": "TruePositive"},
            format="json",
            headers={"Idempotency-Key": "close-2"},
        )
        replay = api.post(
            f"{V1}/alerts/{w.alert.pk}/status/",
            {"status": "Resolved", "classification": "TruePositive"},
            format="json",
            headers={"Idempotency-Key": "close-2"},
        )
    assert ok.status_code == replay.status_code == 200 and ok.json() == replay.json()
    assert len(callbacks) == 1  # one write-back to Azure
    assert AlertEvent.objects.filter(alert=w.alert, kind="status_requested").count() == 1
    assert (
        api.post(url, {"body": "x"}, format="json", headers={"Idempotency-Key": "k" * 201}).status_code == 400
    )


def test_rate_limit_per_token_with_retry_after(api_world, settings):
    settings.API_RATE_LIMIT = "3/min"
    reader = api_world.client("reader")
    codes = [reader.get(f"{V1}/subscriptions/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = reader.get(f"{V1}/subscriptions/")
    assert limited.status_code == 429 and 0 < int(limited["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "throttled"
    assert api_world.client("owner").get(f"{V1}/subscriptions/").status_code == 200  # per token


def test_tokens_created_used_and_revoked(api_world, client):
    w = api_world
    raw = w.tokens["reader"]
    token = ApiToken.objects.get(user=w.p.reader)
    assert raw not in token.key_hash and token.prefix == raw[:12]
    reader = w.client("reader")
    assert reader.get(f"{V1}/tokens/").json()[0]["prefix"] == token.prefix  # never the token itself
    created = reader.post(f"{V1}/tokens/", {"name": "bot"}, format="json").json()
    assert created["token"].startswith("kvd_") and "token" not in reader.get(f"{V1}/tokens/").json()[0]
    assert reader.delete(f"{V1}/tokens/{created['id']}/").status_code == 204
    revoked = w.client(None)
    revoked.credentials(HTTP_AUTHORIZATION=f"Bearer {created['token']}")
    response = revoked.get(f"{V1}/subscriptions/")
    assert response.status_code == 401 and "revoked" in response.json()["error"]["message"]
    # another user's token: not theirs to see or revoke; an administrator revokes any
    assert w.client("owner").delete(f"{V1}/tokens/{token.pk}/").status_code == 404
    assert w.client("superuser").delete(f"{V1}/tokens/{token.pk}/").status_code == 204
    assert reader.get(f"{V1}/subscriptions/").status_code == 401
    # the page
    client.force_login(w.p.owner)
    page = client.post(reverse("api:tokens_page"), {"name": "SOAR playbook"})
    assert page.status_code == 200 and "kvd_" in page.content.decode()
    assert client.post(reverse("api:tokens_page"), {"name": ""}).status_code == 400
    mine = ApiToken.objects.filter(user=w.p.owner, name="SOAR playbook").get()
    client.post(reverse("api:token_revoke_page", args=[mine.pk]))
    assert ApiToken.objects.get(pk=mine.pk).revoked_at is not None
    assert AuditRecord.objects.filter(action="api_token.revoke").count() == 3


def test_session_writes_need_csrf(api_world, client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(api_world.p.secadmin)
    response = strict.post(
        f"{V1}/alerts/{api_world.alert.pk}/comments/", {"body": "x"}, content_type="application/json"
    )
    assert response.status_code == 403 and "CSRF" in response.json()["error"]["message"]
    assert strict.get(f"{V1}/alerts/").status_code == 200  # reads are fine


def test_schema_validates_and_docs_are_served_locally(api_world, client, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    client.force_login(api_world.p.reader)
    schema = client.get("/api/schema/").json()
    assert schema["openapi"].startswith("3.") and len(schema["paths"]) >= 30
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    docs = client.get("/api/docs/").content.decode()
    assert "cdn" not in docs.lower() and "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs
    assert "<style>" not in docs and "<script>" not in docs  # the CSP forbids inline code
