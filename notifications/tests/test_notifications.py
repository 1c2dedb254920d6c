"""Email notifications against a real SMTP server (aiosmtpd): recipients, throttle and digests on a frozen clock,
suppression, Message-IDs, SMTP outage, settings pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.mail import get_connection
from django.urls import reverse

from notifications.contact_services import contact_save
from notifications.contacts import contact_fields
from notifications.models import Notification, NotificationPreference, SecurityContact
from notifications.services import at_least, plan_notifications, recipients_for, send_alert_mail, send_due
from portal.accounts.models import Role
from portal.arm import operations
from portal.inventory.azure import config_for
from portal.testing.factories import alert_item, grant, make_alerts, make_user, make_vault
from suppression.models import SuppressionRule

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def setup(personas):
    SecurityContact.objects.create(
        subscription=personas.sub,
        emails="soc@contoso.example;Lead@Contoso.example",
        minimal_severity="Medium",
        notify_by_role=True,
        roles=["Owner", "Contributor"],
    )
    vault = make_vault(personas.sub, name="kv-mail")
    return {"p": personas, "vault": vault}


def new_alerts(setup, n=1, **props):
    p = setup["p"]
    return make_alerts(p.sub, [alert_item(p.sub, vault=setup["vault"], **props) for _ in range(n)])


def deliver(ids, now):
    """What the notify task does, on a frozen clock."""
    connection = get_connection()
    try:
        return sum(
            send_alert_mail(pk, connection=connection, now=now)
            for pk in plan_notifications(alert_ids=ids, now=now)
        )
    finally:
        connection.close()


def test_recipients_and_role_mapping(setup):
    p = setup["p"]
    recipients, minimum = recipients_for(p.sub.pk)
    emails = {r.email for r in recipients}
    # Owner -> portal Owners, Contributor -> portal Security Admins; readers are not emailed
    assert emails == {"soc@contoso.example", "lead@contoso.example", p.owner.email, p.secadmin.email}
    assert minimum == "Medium"
    SecurityContact.objects.filter(subscription=p.sub).update(roles=["ServiceAdmin"])
    assert {r.email for r in recipients_for(p.sub.pk)[0]} == {
        "soc@contoso.example",
        "lead@contoso.example",
        p.owner.email,
    }
    SecurityContact.objects.filter(subscription=p.sub).update(portal_notifications=False)
    assert recipients_for(p.sub.pk)[0] == []


def test_minimum_severity_semantics():
    assert at_least("High", "High") and not at_least("Medium", "High")
    assert at_least("Medium", "Medium") and not at_least("Low", "Medium")
    assert at_least("Low", "Low") and at_least("Informational", "Low")


def test_one_mail_per_recipient_with_the_right_link(setup, smtp_server, settings):
    settings.PORTAL_BASE_URL = "https://kv.example"
    alert = new_alerts(setup, severity="Medium")[0]
    assert deliver([alert.pk], T0) == 4
    assert len(smtp_server.messages) == 4
    message = smtp_server.messages[0]["message"]
    assert message["Subject"] == "[Medium] Access from a TOR exit node to a key vault - kv-mail"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert (
        f"https://kv.example/alerts/{alert.pk}/" in text
        and f'href="https://kv.example/alerts/{alert.pk}/"' in html
    )
    assert "Rotate the secrets." in text
    ids = {m["message"]["Message-ID"] for m in smtp_server.messages}
    assert len(ids) == 4
    # the same alerts again (a re-sync, a retried task): nothing is sent twice
    assert deliver([alert.pk], T0 + timedelta(minutes=1)) == 0 and len(smtp_server.messages) == 4


def test_below_the_minimum_severity_nothing_is_sent(setup, smtp_server):
    alert = new_alerts(setup, severity="Low")[0]
    assert deliver([alert.pk], T0) == 0 and not Notification.objects.exists()


def test_attacker_text_in_mail_is_escaped(setup, smtp_server):
    alert = new_alerts(setup, severity="Medium", alertDisplayName="<script>alert(1)</script>")[0]
    deliver([alert.pk], T0)
    html = smtp_server.messages[0]["message"].get_body(("html",)).get_content()
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html


def test_throttle_windows_and_digest_on_a_frozen_clock(setup, smtp_server):
    p = setup["p"]
    SecurityContact.objects.filter(subscription=p.sub).update(emails="", notify_by_role=False)
    SecurityContact.objects.filter(subscription=p.sub).update(emails="analyst@contoso.example")
    first, second, third = (new_alerts(setup, severity="Medium")[0] for _ in range(3))
    assert deliver([first.pk], T0) == 1
    assert deliver([second.pk], T0 + timedelta(hours=1)) == 0  # the Medium window (12 h) is used: queued
    assert deliver([third.pk], T0 + timedelta(hours=2)) == 0
    queued = Notification.objects.filter(kind="digest", state="queued")
    assert queued.count() == 2 and {n.due_at for n in queued} == {T0 + timedelta(hours=12)}
    assert send_due(now=T0 + timedelta(hours=11, minutes=59)) == 0
    assert send_due(now=T0 + timedelta(hours=12)) == 1
    assert len(smtp_server.messages) == 2
    digest = smtp_server.messages[1]["message"]
    assert digest["Subject"] == "2 more Medium alerts since your last email"
    body = digest.get_body(("plain",)).get_content()
    assert f"/alerts/{second.pk}/" in body and f"/alerts/{third.pk}/" in body
    # the digest counts as that window's mail: the next alert waits for the next window
    fourth = new_alerts(setup, severity="Medium")[0]
    assert deliver([fourth.pk], T0 + timedelta(hours=13)) == 0
    assert Notification.objects.get(alert=fourth).due_at == T0 + timedelta(hours=24)
    # a High alert has its own window (6 h): it goes at once
    high = new_alerts(setup, severity="High")[0]
    assert deliver([high.pk], T0 + timedelta(hours=13)) == 1


def test_a_burst_becomes_one_digest_per_recipient(setup, smtp_server):
    alerts = new_alerts(setup, n=300, severity="Medium")
    sent_now = deliver([a.pk for a in alerts], T0)
    assert sent_now == 4  # one immediate mail per recipient
    assert Notification.objects.filter(kind="digest", state="queued").count() == 4 * 299
    assert send_due(now=T0 + timedelta(hours=12)) == 4
    assert len(smtp_server.messages) == 8
    digest = smtp_server.messages[-1]["message"]
    assert digest["Subject"] == "299 more Medium alerts since your last email"
    assert "...and 249 more" in digest.get_body(("plain",)).get_content()


def test_digest_preferences(setup, smtp_server):
    p = setup["p"]
    NotificationPreference.objects.create(user=p.owner, mode="daily", minimal_severity="Low")
    NotificationPreference.objects.create(user=p.secadmin, mode="off")
    alert = new_alerts(setup, severity="Medium")[0]
    deliver([alert.pk], T0)
    recipients = sorted(m["rcpt"][0] for m in smtp_server.messages)
    assert recipients == ["lead@contoso.example", "soc@contoso.example"]
    queued = Notification.objects.get(recipient=p.owner.email)
    assert queued.kind == "digest" and queued.due_at == datetime(2026, 11, 3, tzinfo=UTC)
    assert send_due(now=datetime(2026, 11, 3, tzinfo=UTC)) == 1


def test_suppressed_and_backlog_alerts_send_nothing(setup, smtp_server, django_capture_on_commit_callbacks):
    from alerts.services import alerts_on_new

    p = setup["p"]
    SuppressionRule.objects.create(
        subscription=p.sub,
        name="quiet",
        alert_type="*",
        reason="Noise",
        conditions=[{"field": "entities.account.name", "in": ["noisy"]}],
    )
    suppressed = new_alerts(setup, severity="Medium", user="noisy")[0]
    normal = new_alerts(setup, severity="Medium", user="alice")[0]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        alerts_on_new(alert_ids=[suppressed.pk, normal.pk], subscription_pk=p.sub.pk, backlog=True)
    assert not [c for c in callbacks if "notify" in str(c)]  # the first sync's history is not news
    with django_capture_on_commit_callbacks(execute=False):
        alerts_on_new(alert_ids=[suppressed.pk, normal.pk], subscription_pk=p.sub.pk, backlog=False)
    suppressed.refresh_from_db()
    assert suppressed.status == "Dismissed"
    deliver([suppressed.pk, normal.pk], T0)
    assert {n.alert_id for n in Notification.objects.all()} == {normal.pk}


def test_smtp_outage_then_recovery(setup, smtp_server):
    alert = new_alerts(setup, severity="Medium")[0]
    smtp_server.stop()
    assert deliver([alert.pk], T0) == 0
    rows = Notification.objects.filter(kind="alert")
    assert rows.count() == 4 and set(rows.values_list("state", flat=True)) == {"queued"}
    assert all(r.error and r.attempts == 1 for r in rows)
    assert send_due(now=T0 + timedelta(seconds=30)) == 0  # not yet due: backoff
    smtp_server.start()
    assert send_due(now=T0 + timedelta(minutes=5)) == 4
    assert len(smtp_server.messages) == 4
    assert len({m["message"]["Message-ID"] for m in smtp_server.messages}) == 4


def test_bounded_retries_then_failed_and_retry_from_the_delivery_log(client, setup, smtp_server):
    p = setup["p"]
    alert = new_alerts(setup, severity="Medium")[0]
    smtp_server.stop()
    deliver([alert.pk], T0)
    now = T0
    for _ in range(6):
        now += timedelta(hours=2)
        send_due(now=now)
    assert set(Notification.objects.values_list("state", flat=True)) == {"failed"}
    smtp_server.start()
    client.force_login(p.reader)
    log = client.get(reverse("notifications:deliveries")).content.decode()
    assert "Failed" in log and "soc@contoso.example" in log
    row = Notification.objects.get(recipient="soc@contoso.example")
    assert client.post(reverse("notifications:delivery_retry", args=[row.pk])).status_code == 403
    client.force_login(p.secadmin)
    client.post(reverse("notifications:delivery_retry", args=[row.pk]))
    from django.utils import timezone

    assert send_due(now=timezone.now() + timedelta(seconds=1)) == 1
    row.refresh_from_db()
    assert row.state == "sent" and smtp_server.messages[-1]["message"]["Message-ID"] == row.message_id
    assert (
        "Rotate the secrets." in client.get(reverse("notifications:delivery", args=[row.pk])).content.decode()
    )


def test_a_mail_left_half_sent_by_a_dead_worker_is_resent_with_the_same_message_id(setup, smtp_server):
    alert = new_alerts(setup, severity="Medium")[0]
    claimed = plan_notifications(alert_ids=[alert.pk], now=T0)  # claimed, then the worker died before sending
    assert len(claimed) == 4 and not smtp_server.messages
    assert send_due(now=T0 + timedelta(minutes=1)) == 0  # not considered stuck yet
    assert send_due(now=T0 + timedelta(minutes=6)) == 4
    expected = set(Notification.objects.values_list("message_id", flat=True))
    assert {m["message"]["Message-ID"] for m in smtp_server.messages} == expected


def test_email_settings_page_saves_and_warns(client, setup, django_capture_on_commit_callbacks):
    p = setup["p"]
    url = reverse("notifications:email_settings_edit", args=[p.sub.pk])
    client.force_login(p.reader)
    assert client.post(url, {"minimal_severity": "Low"}).status_code == 403
    client.force_login(p.outsider)
    assert client.get(url).status_code == 404
    client.force_login(p.secadmin)
    body = client.post(
        url, {"minimal_severity": "High", "emails": "soc@contoso.example", "portal_notifications": "on"}
    )
    assert body.status_code == 302
    page = client.get(url).content.decode()
    assert "no Defender for Key Vault alert is emailed" in page
    bad = client.post(url, {"minimal_severity": "Medium", "emails": "not-an-address, ok@x.example"})
    assert bad.status_code == 400 and "Not an email address: not-an-address" in bad.content.decode()
    contact = SecurityContact.objects.get(subscription=p.sub)
    assert contact.minimal_severity == "High" and contact.pending_push
    assert client.get(reverse("notifications:email_settings")).status_code == 200


def test_contact_change_is_pushed_to_azure_and_survives_a_sync(emulator, django_capture_on_commit_callbacks):
    from notifications.tasks import push_contact
    from sync.orchestrator import sync_subscription

    sub = emulator.discover()[0]
    sync_subscription(sub.pk, trigger="test")
    with django_capture_on_commit_callbacks(execute=False):
        contact = contact_save(
            user=None,
            subscription=sub,
            data={
                "emails": "new@contoso.example",
                "minimal_severity": "Low",
                "notify_by_role": True,
                "roles": ["Owner"],
                "alert_notifications": False,
                "portal_notifications": True,
            },
        )
    sync_subscription(sub.pk, trigger="test")  # Azure still has the old values: the change is not reverted
    contact.refresh_from_db()
    assert contact.emails == "new@contoso.example" and contact.pending_push
    assert push_contact.apply(args=[contact.pk]).get() == "in step"
    # what Azure holds now, read back through the same client the sync uses
    listed = operations.list_contacts(config_for(sub.connection), sub.subscription_id)
    in_azure = contact_fields(next(i for i in listed if str(i.get("name", "")).lower() == "default"))
    assert (in_azure["emails"], in_azure["minimal_severity"], in_azure["roles"]) == (
        "new@contoso.example",
        "Low",
        ["Owner"],
    )
    contact.refresh_from_db()
    assert not contact.pending_push and not contact.push_error
    sync_subscription(sub.pk, trigger="test")
    contact.refresh_from_db()
    assert contact.minimal_severity == "Low" and not contact.alert_notifications


def test_preferences_page_sets_the_delivery(client, personas):
    client.force_login(personas.reader)
    client.post(
        reverse("web:preferences"), {"theme": "auto", "notify_mode": "hourly", "notify_min_severity": "High"}
    )
    pref = NotificationPreference.objects.get(user=personas.reader)
    assert (pref.mode, pref.minimal_severity) == ("hourly", "High")


def test_user_roles_via_groups_get_mail(setup):
    from django.contrib.auth.models import Group

    p = setup["p"]
    group = Group.objects.create(name="leads")
    lead = make_user("grouplead")
    lead.groups.add(group)
    from portal.accounts.models import RoleAssignment

    RoleAssignment.objects.create(subscription=p.sub, group=group, role=Role.OWNER)
    assert lead.email in {r.email for r in recipients_for(p.sub.pk)[0]}
    grant(make_user("plainreader"), p.sub, Role.READER)
    assert "plainreader@example.test" not in {r.email for r in recipients_for(p.sub.pk)[0]}
