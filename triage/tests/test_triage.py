"""Team triage through the test client: assignment, comments, close reasons, incidents, saved views, metrics on a
frozen clock, retention (dry run and purge). Webhooks are in test_webhooks.py; Chromium flows in test_browser.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, AlertEvent, AlertRollup
from alerts.services import alerts_on_new
from alerts.status import alert_set_status
from notifications.models import Notification, NotificationPreference
from notifications.tasks import notify_assignment
from portal.accounts.models import Role
from portal.audit.models import AuditRecord
from portal.testing.factories import alert_item, grant, make_alerts, make_user, make_vault
from triage import services
from triage.models import AlertComment, Incident, SavedView
from triage.selectors import incident_members, incident_of, soc_metrics

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(personas):
    vault = make_vault(personas.sub, name="kv-payments")
    alerts = make_alerts(personas.sub, [alert_item(personas.sub, vault=vault, n=i) for i in range(1, 6)])
    theirs = make_alerts(personas.other, [alert_item(personas.other, n=90)])
    personas.secadmin.email = "secadmin@contoso.com"
    personas.secadmin.save()
    personas.owner.email = "owner@contoso.com"
    personas.owner.save()
    return {"p": personas, "vault": vault, "alerts": alerts, "theirs": theirs[0]}


# --- assignment ----------------------------------------------------------------------------------------------


def test_assign_from_the_alert_page_with_permissions_audit_and_activity(
    client, data, django_capture_on_commit_callbacks
):
    p, alert = data["p"], data["alerts"][0]
    url = reverse("triage:assign", args=[alert.pk])
    client.force_login(p.reader)
    assert client.post(url, {"assignee": "me"}).status_code == 403  # readers see, they don't assign
    client.force_login(p.outsider)
    assert (
        client.post(url, {"assignee": "me"}).status_code == 404
    )  # another subscription's alert does not exist
    client.force_login(p.secadmin)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url, {"assignee": f"user:{p.owner.pk}"}, follow=True)
    assert "Assigned to owner." in response.content.decode()
    alert.refresh_from_db()
    assert (
        alert.assignee == p.owner
        and alert.first_action_at is not None
        and alert.first_action_by == p.secadmin
    )
    assert len(callbacks) == 1  # the assignee's email, queued after commit
    event = AlertEvent.objects.get(alert=alert, kind="assigned")
    assert event.actor == p.secadmin and event.data["assignee"] == "owner"
    assert AuditRecord.objects.filter(action="alert.assign", actor=p.secadmin).exists()
    body = client.get(reverse("alerts:detail", args=[alert.pk])).content.decode()
    assert "secadmin · Assigned: owner" in body  # in the activity
    # assigning yourself does not mail yourself
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(url, {"assignee": "me"})
    assert not callbacks and Alert.objects.get(pk=alert.pk).assignee == p.secadmin


def test_bad_assignees_get_a_clear_error_and_change_nothing(client, data):
    p, alert = data["p"], data["alerts"][0]
    client.force_login(p.secadmin)
    url = reverse("triage:assign", args=[alert.pk])
    response = client.post(url, {"assignee": f"user:{p.outsider.pk}"}, follow=True)
    body = response.content.decode()
    assert "cannot own alerts of this subscription" in body and "outsider" not in body  # no name by id
    response = client.post(url, {"assignee": "user:999999"}, headers={"HX-Request": "true"})
    assert response.status_code == 400 and "Choose who owns the alert" in response.content.decode()
    lonely = Group.objects.create(name="Night shift")
    response = client.post(url, {"assignee": f"group:{lonely.pk}"}, follow=True)
    assert "cannot own alerts of this subscription" in response.content.decode()
    alert.refresh_from_db()
    assert alert.assignee is None and alert.assignee_group is None
    assert not AlertEvent.objects.filter(alert=alert, kind="assigned").exists()


def test_assign_to_a_group_queue_and_the_owner_filters_and_counters(client, data):
    p = data["p"]
    queue = Group.objects.create(name="Tier 1")
    grant_group = Role.SECURITY_READER
    from portal.accounts.models import RoleAssignment

    RoleAssignment.objects.create(subscription=p.sub, group=queue, role=grant_group)
    a, b, c = data["alerts"][:3]
    client.force_login(p.secadmin)
    ids = [a.pk, b.pk, data["theirs"].pk]
    response = client.post(reverse("triage:bulk_assign"), {"ids": ids, "assignee": "me"}, follow=True)
    assert "2 alert(s) assigned to secadmin" in response.content.decode()
    assert Alert.objects.get(pk=data["theirs"].pk).assignee is None  # not visible: untouched
    client.post(reverse("triage:assign", args=[c.pk]), {"assignee": f"group:{queue.pk}"})
    assert Alert.objects.get(pk=c.pk).assignee_group == queue
    mine = client.get(reverse("alerts:list") + "?assignee=me")
    assert [r.pk for r in mine.context["page"].rows] == sorted(
        [a.pk, b.pk], key=lambda pk: -Alert.objects.get(pk=pk).time_generated.timestamp()
    )
    unassigned = client.get(reverse("alerts:list") + "?assignee=none")
    assert {r.pk for r in unassigned.context["page"].rows} == {x.pk for x in data["alerts"][3:]}
    assert "Queue:</span> Tier 1" in client.get(reverse("alerts:list") + "?assignee=any").content.decode()
    counters = client.get(reverse("alerts:counters")).content.decode()
    assert 'id="counter-mine">Assigned to me (open) 2</a>' in counters
    assert 'id="counter-unassigned">Unassigned (open) 2</a>' in counters
    assert "assignee=me" in reverse("alerts:list") + "?" + mine.context["state"].urlencode()
    assert (
        client.get(reverse("alerts:list") + "?assignee=somebody").status_code == 400
    )  # bad filter: clear error


def test_the_assignee_is_mailed_once_unless_their_preference_is_off(data, smtp_server):
    p, alert = data["p"], data["alerts"][0]
    services.alert_assign(user=p.secadmin, alert=alert, assignee=p.owner)
    assert notify_assignment.apply(args=[alert.pk, p.owner.pk]).get() is True
    assert notify_assignment.apply(args=[alert.pk, p.owner.pk]).get() is False  # once per alert and person
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]["message"]
    assert message["To"] == "owner@contoso.com" and message["Subject"].startswith("Assigned to you: [Medium]")
    assert Notification.objects.get(kind="assigned").state == Notification.State.SENT
    NotificationPreference.objects.create(user=p.secadmin, mode=NotificationPreference.Mode.OFF)
    assert notify_assignment.apply(args=[data["alerts"][1].pk, p.secadmin.pk]).get() is False
    assert len(smtp_server.messages) == 1


# --- comments ------------------------------------------------------------------------------------------------


def test_comments_are_escaped_linked_limited_and_editable_by_their_author_for_a_while(client, data):
    p, alert = data["p"], data["alerts"][0]
    url = reverse("triage:comment_add", args=[alert.pk])
    client.force_login(p.reader)
    assert client.post(url, {"body": "hi"}).status_code == 403
    client.force_login(p.secadmin)
    text = "Checked with the app owner, see https://wiki.contoso.com/x?a=1&b=2 <script>alert(1)</script> <b>ok</b>"
    response = client.post(url, {"body": text}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert '<a href="https://wiki.contoso.com/x?a=1&amp;b=2"' in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html and "<b>ok</b>" not in html
    comment = AlertComment.objects.get()
    assert comment.body == text and Alert.objects.get(pk=alert.pk).first_action_by == p.secadmin
    assert AlertEvent.objects.filter(alert=alert, kind="comment", data__comment_id=comment.pk).exists()
    detail = client.get(reverse("alerts:detail", args=[alert.pk])).content.decode()
    assert f'href="#comment-{comment.pk}"' in detail  # shown in the activity
    # too long: a clear error, the draft kept, nothing stored
    response = client.post(url, {"body": "x" * 10_001}, headers={"HX-Request": "true"})
    assert response.status_code == 400 and "Keep a comment to 10,000 characters" in response.content.decode()
    assert "x" * 10_001 in response.content.decode() and AlertComment.objects.count() == 1
    assert (
        client.post(url, {"body": "   "}, follow=True).status_code == 200
        and AlertComment.objects.count() == 1
    )
    # edit: the author, within 15 minutes
    edit = reverse("triage:comment_edit", args=[comment.pk])
    client.force_login(p.owner)
    assert client.post(edit, {"body": "hijack"}).status_code == 403
    client.force_login(p.outsider)
    assert client.get(edit).status_code == 404
    client.force_login(p.secadmin)
    assert client.post(edit, {"body": "Checked: expected."}).status_code == 302
    comment.refresh_from_db()
    assert comment.body == "Checked: expected." and comment.edited_at is not None
    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        response = client.post(edit, {"body": "later"})
    assert response.status_code == 400 and "15 minutes" in response.content.decode()
    assert AlertComment.objects.get().body == "Checked: expected."  # kept


# --- close reasons -------------------------------------------------------------------------------------------


def test_admin_status_action_asks_for_a_classification(client, data):
    p = data["p"]
    client.force_login(p.secadmin)
    url = reverse("admin:alerts_alert_changelist")
    ids = [a.pk for a in data["alerts"][:2]]
    response = client.post(url, {"action": "set_dismissed", "_selected_action": ids}, follow=True)
    assert "Choose a classification next to the action" in response.content.decode()
    assert not Alert.objects.filter(status="Dismissed").exists()
    client.post(url, {"action": "set_dismissed", "_selected_action": ids, "classification": "FalsePositive"})
    assert set(Alert.objects.filter(status="Dismissed").values_list("classification", flat=True)) == {
        "FalsePositive"
    }


# --- incidents -----------------------------------------------------------------------------------------------


def test_alerts_sharing_a_correlation_key_become_an_incident(
    client, data, django_capture_on_commit_callbacks
):
    p, vault = data["p"], data["vault"]
    group = make_alerts(
        p.sub,
        [
            alert_item(
                p.sub,
                vault=vault,
                n=200 + i,
                correlation="corr-1",
                ip="198.51.100.7",
                severity="High" if i == 1 else "Medium",
            )
            for i in range(3)
        ],
    )
    lone = make_alerts(p.sub, [alert_item(p.sub, vault=vault, n=300, correlation="corr-lone")])
    azure_incident = make_alerts(p.sub, [alert_item(p.sub, n=301, correlation="corr-az", isIncident=True)])
    with django_capture_on_commit_callbacks(execute=False):
        alerts_on_new(
            alert_ids=[a.pk for a in group + lone + azure_incident], subscription_pk=p.sub.pk, backlog=True
        )
    incident = Incident.objects.get(correlation_key="corr-1")
    assert incident.alert_count == 3 and incident.severity == "High"
    assert set(incident_members(incident).values_list("pk", flat=True)) == {a.pk for a in group}
    assert not Incident.objects.filter(correlation_key="corr-lone").exists()  # one alert is not a group
    assert Incident.objects.filter(correlation_key="corr-az", alert_count=1).exists()  # Azure says incident
    # a late member joins the same incident
    late = make_alerts(p.sub, [alert_item(p.sub, vault=vault, n=199, correlation="corr-1")])
    services.incidents_attach(alert_ids=[late[0].pk], subscription_pk=p.sub.pk)
    incident.refresh_from_db()
    assert incident.alert_count == 4 and incident_of(Alert.objects.get(pk=late[0].pk)) == incident

    client.force_login(p.reader)
    # the alert page links to its incident through a redirect (it spends no query finding it)
    detail = client.get(reverse("alerts:detail", args=[group[0].pk])).content.decode()
    assert reverse("triage:alert_incident", args=[group[0].pk]) in detail
    assert client.get(reverse("triage:alert_incident", args=[group[0].pk])).url == reverse(
        "triage:incident", args=[incident.pk]
    )
    assert (
        reverse("triage:alert_incident", args=[lone[0].pk])
        not in client.get(reverse("alerts:detail", args=[lone[0].pk])).content.decode()
    )
    assert client.get(reverse("triage:alert_incident", args=[lone[0].pk])).status_code == 404
    page = client.get(reverse("triage:incident", args=[incident.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "198.51.100.7" in html and "kv-payments" in html and "Change status" not in html
    assert [a.pk for a in page.context["alerts"]] == sorted(
        [a.pk for a in group + late], key=lambda pk: Alert.objects.get(pk=pk).start_time
    )  # a timeline
    assert incident.title in client.get(reverse("triage:incidents")).content.decode()
    assert (
        client.post(reverse("triage:incident_status", args=[incident.pk]), {"status": "Resolved"}).status_code
        == 403
    )
    client.force_login(p.outsider)
    assert client.get(reverse("triage:incident", args=[incident.pk])).status_code == 404

    client.force_login(p.secadmin)
    status_url = reverse("triage:incident_status", args=[incident.pk])
    response = client.post(status_url, {"status": "Resolved"}, follow=True)
    assert "Say why the alert is closed" in response.content.decode()
    assert not incident_members(incident).filter(status="Resolved").exists()  # nothing changed
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(
            status_url, {"status": "Resolved", "classification": "TruePositive", "comment": "Stolen token"}
        )
    members = incident_members(incident)
    assert set(members.values_list("status", "classification")) == {("Resolved", "TruePositive")}
    assert len(callbacks) >= 4  # each alert written back to Azure
    client.post(reverse("triage:incident_assign", args=[incident.pk]), {"assignee": f"user:{p.owner.pk}"})
    incident.refresh_from_db()
    assert incident.assignee == p.owner and set(members.values_list("assignee", flat=True)) == {p.owner.pk}
    response = client.post(
        reverse("triage:incident_assign", args=[incident.pk]),
        {"assignee": f"user:{p.outsider.pk}"},
        follow=True,
    )
    assert "cannot own alerts of this subscription" in response.content.decode()
    assert set(members.values_list("assignee", flat=True)) == {p.owner.pk}  # all or nothing
    detail = client.get(reverse("alerts:detail", args=[group[0].pk])).content.decode()
    assert reverse("triage:alert_incident", args=[group[0].pk]) in detail


# --- saved views ---------------------------------------------------------------------------------------------


def test_saved_views_private_or_shared_in_the_left_menu(client, data):
    p = data["p"]
    client.force_login(p.reader)
    page = client.get(reverse("triage:views") + "?query=severity%3DHigh%26assignee%3Dme")
    assert "Share with the team" not in page.content.decode()  # readers keep views private
    response = client.post(
        reverse("triage:views"), {"name": "My highs", "query": "severity=High&assignee=me"}
    )
    assert response.status_code == 302  # to the list with the saved filter (normalised: defaults written out)
    assert response["Location"] == "/alerts/?severity=High&status=Active&status=InProgress&assignee=me"
    assert (
        client.post(
            reverse("triage:views"), {"name": "Team", "query": "severity=High", "shared": "on"}
        ).status_code
        == 403
    )
    response = client.post(reverse("triage:views"), {"name": "", "query": "severity=High"})
    assert response.status_code == 400 and "Give the view a name" in response.content.decode()
    response = client.post(reverse("triage:views"), {"name": "Bad", "query": "severity=Nope"})
    assert response.status_code == 400 and "not valid" in response.content.decode()
    client.force_login(p.secadmin)
    client.post(reverse("triage:views"), {"name": "Tor triage", "query": "type=KV_TORAccess", "shared": "on"})
    home = client.get(reverse("alerts:list")).content.decode()
    assert "Tor triage" in home and "My highs" not in home  # a private view is its owner's only
    client.force_login(p.reader)
    home = client.get(reverse("alerts:list")).content.decode()
    assert "My highs" in home and "Tor triage (shared)" in home
    view = SavedView.objects.get(name="Tor triage")
    assert client.post(reverse("triage:view_delete", args=[view.pk])).status_code == 403  # not the owner
    client.force_login(p.secadmin)
    client.post(reverse("triage:view_delete", args=[view.pk]))
    client.force_login(p.reader)
    assert (
        "Tor triage (shared)" not in client.get(reverse("alerts:list")).content.decode()
    )  # the menu follows


# --- SOC metrics ---------------------------------------------------------------------------------------------


NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def _acted(alert, *, detected, acted_after=None, closed_after=None, by=None, classification=""):
    Alert.objects.filter(pk=alert.pk).update(
        time_generated=detected,
        first_action_at=detected + acted_after if acted_after is not None else None,
        first_action_by=by,
        closed_at=detected + closed_after if closed_after is not None else None,
        closed_by=by if closed_after is not None else None,
        status="Resolved" if closed_after is not None else "Active",
        classification=classification,
    )


def test_metrics_on_a_known_data_set_with_a_frozen_clock(client, data):
    p = data["p"]
    a1, a2, a3, a4, a5 = data["alerts"]
    d = NOW - timedelta(days=2)
    _acted(
        a1,
        detected=d,
        acted_after=timedelta(minutes=10),
        closed_after=timedelta(minutes=60),
        by=p.secadmin,
        classification="FalsePositive",
    )
    _acted(
        a2,
        detected=d,
        acted_after=timedelta(minutes=20),
        closed_after=timedelta(minutes=120),
        by=p.secadmin,
        classification="FalsePositive",
    )
    _acted(
        a3,
        detected=d,
        acted_after=timedelta(minutes=30),
        closed_after=timedelta(minutes=600),
        by=p.owner,
        classification="TruePositive",
    )
    _acted(
        a4, detected=NOW - timedelta(days=10), acted_after=timedelta(minutes=40), by=p.owner
    )  # open, acted
    _acted(a5, detected=NOW - timedelta(days=40))  # open, untouched, outside the 30 days
    Alert.objects.filter(pk=data["theirs"].pk).update(
        time_generated=d, first_action_at=d, closed_at=d
    )  # not visible

    m = soc_metrics(p.reader, now=NOW, days=30)
    assert m["overall"]["mtta"] == {"n": 4, "median": 25.0, "p90": 40.0}
    assert m["overall"]["mttr"] == {"n": 3, "median": 120.0, "p90": 600.0}
    by_analyst = {r["key"]: r for r in m["by_analyst"]}
    assert by_analyst["secadmin"]["mtta"]["median"] == 15.0 and by_analyst["owner"]["mttr"]["median"] == 600.0
    assert [r["key"] for r in m["by_vault"]] == ["kv-payments"]
    assert dict(m["open_by_age"]) == {
        "Under 1 day": 0,
        "1 to 7 days": 0,
        "7 to 30 days": 1,
        "30 to 90 days": 1,
        "Over 90 days": 0,
    }
    row = m["classification_by_type"][0]
    assert row["type"] == "KV_TORAccess" and row["total"] == 3 and row["false_positive_share"] == 67
    assert dict(m["classifications"])["False positive (incorrect alert logic / inaccurate data)"] == 2
    assert len(m["by_week"]) == 2  # two weeks of detection
    # the page, on the same frozen clock
    client.force_login(p.reader)
    with time_machine.travel(NOW, tick=False):
        html = client.get(reverse("triage:metrics")).content.decode()
    assert "25 min" in html and "2.0 h" in html and "10.0 h" in html and "67 %" in html
    assert client.get(reverse("triage:metrics") + "?days=abc").status_code == 200  # bad input: the default


# --- retention -----------------------------------------------------------------------------------------------


def test_retention_dry_run_then_purge_in_batches_audited(client, data, capsys):
    p = data["p"]
    old, recent, open_old = data["alerts"][:3]
    for alert in (old, recent):
        alert_set_status(user=p.secadmin, alert=alert, status="Dismissed", classification="FalsePositive")
    Alert.objects.filter(pk=old.pk).update(closed_at=timezone.now() - timedelta(days=400))
    Alert.objects.filter(pk=open_old.pk).update(time_generated=timezone.now() - timedelta(days=800))
    services.comment_add(user=p.secadmin, alert=old, body="old news")
    before = sum(AlertRollup.objects.values_list("count", flat=True))

    client.force_login(p.owner)
    assert client.get(reverse("triage:retention")).status_code == 403  # portal administrators only
    client.force_login(p.superuser)
    page = client.get(reverse("triage:retention") + "?days=365")
    assert (
        page.context["count"] == 1 and Alert.objects.filter(pk=old.pk).exists()
    )  # the dry run deletes nothing
    assert client.get(reverse("triage:retention") + "?days=zero").status_code == 400
    stale = client.post(reverse("triage:retention"), {"days": "365", "confirm": "7"})
    assert stale.status_code == 400 and Alert.objects.filter(pk=old.pk).exists()  # the count must match
    response = client.post(reverse("triage:retention"), {"days": "365", "confirm": "1"}, follow=True)
    assert "1 alert(s) closed more than 365 days ago were deleted" in response.content.decode()
    assert not Alert.objects.filter(pk=old.pk).exists() and not AlertComment.objects.exists()
    assert Alert.objects.filter(pk__in=[recent.pk, open_old.pk]).count() == 2  # recent and open alerts stay
    assert sum(AlertRollup.objects.values_list("count", flat=True)) == before - 1  # counters follow
    assert AuditRecord.objects.filter(action="retention.purge", actor=p.superuser).exists()

    Alert.objects.filter(pk=recent.pk).update(closed_at=timezone.now() - timedelta(days=40))
    call_command("retention_purge", "--days", "30")
    assert "1 alert(s) closed more than 30 days ago." in capsys.readouterr().out
    assert Alert.objects.filter(pk=recent.pk).exists()
    call_command("retention_purge", "--days", "30", "--apply", "--batch", "1")
    assert not Alert.objects.filter(pk=recent.pk).exists()


def test_scheduled_retention_is_off_by_default(data, settings):
    from triage.tasks import retention_purge

    alert_set_status(
        user=data["p"].secadmin, alert=data["alerts"][0], status="Resolved", classification="Undetermined"
    )
    Alert.objects.filter(pk=data["alerts"][0].pk).update(closed_at=timezone.now() - timedelta(days=5000))
    assert retention_purge.apply().get() == 0 and Alert.objects.filter(pk=data["alerts"][0].pk).exists()
    settings.RETENTION_CLOSED_DAYS = 30
    assert retention_purge.apply().get() == 1


def test_another_user_cannot_be_assigned_without_access_even_by_a_superuser(data):
    stranger = make_user("stranger")
    with pytest.raises(Exception, match="cannot own alerts of this subscription"):
        services.alert_assign(user=data["p"].superuser, alert=data["alerts"][0], assignee=stranger)
    grant(stranger, data["p"].sub, Role.READER)
    stranger = type(stranger).objects.get(pk=stranger.pk)  # fresh role cache
    services.alert_assign(user=data["p"].superuser, alert=data["alerts"][0], assignee=stranger)
    assert Alert.objects.get(pk=data["alerts"][0].pk).assignee == stranger
