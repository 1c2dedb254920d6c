"""Team triage in real headless Chromium: the `a` key, comments, close reasons on incidents, saved views."""

from __future__ import annotations

import re

import pytest
from django.db import transaction
from playwright.sync_api import expect

from alerts.models import Alert
from alerts.services import alerts_on_new
from portal.testing.factories import alert_item, make_alerts, make_vault
from portal.testing.fixtures import sign_in
from triage.models import AlertComment, Incident, SavedView
from triage.selectors import incident_members

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team(personas):
    vault = make_vault(personas.sub, name="kv-browser")
    alerts = make_alerts(personas.sub, [alert_item(personas.sub, vault=vault, n=i) for i in range(1, 4)])
    group = make_alerts(
        personas.sub,
        [
            alert_item(personas.sub, vault=vault, n=10 + i, correlation="corr-browser", ip="198.51.100.9")
            for i in range(3)
        ],
    )
    with transaction.atomic():
        alerts_on_new(alert_ids=[a.pk for a in group], subscription_pk=personas.sub.pk, backlog=True)
    return {"p": personas, "alerts": alerts, "group": group, "vault": vault}


def test_assign_yourself_with_a_and_comment_on_the_alert_page(page, live_server, team, browser_events):
    p, alert = team["p"], team["alerts"][0]
    sign_in(page, live_server, p.secadmin)
    page.goto(f"/alerts/{alert.pk}/")
    expect(page.locator("#alert-owner strong")).to_have_text("Unassigned")
    page.keyboard.press("a")
    expect(page.locator("#alert-owner strong")).to_have_text("secadmin")
    assert Alert.objects.get(pk=alert.pk).assignee == p.secadmin

    hostile = (
        'Seen before: https://wiki.contoso.com/kv <img src=x onerror="document.title=1"> <script>x()</script>'
    )
    page.get_by_label("Add a comment").fill(hostile)
    page.get_by_role("button", name="Comment", exact=True).click()
    body = page.locator("#comments .comment-body").first
    expect(body).to_contain_text('<img src=x onerror="document.title=1">')  # shown as text
    assert page.locator("#comments .comment-body img").count() == 0
    assert page.locator("#comments .comment-body script").count() == 0
    expect(page.locator("#comments .comment-body a")).to_have_attribute("href", "https://wiki.contoso.com/kv")
    assert AlertComment.objects.get().body == hostile
    page.reload()
    expect(page.locator("#activity-title + ol")).to_contain_text("Comment")
    expect(page.locator("#activity-title + ol")).to_contain_text("Assigned: secadmin")
    # the author edits it within the window
    page.locator("#comments").get_by_role("link", name="Edit").click()
    page.get_by_label("Comment").fill("Seen before, expected.")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#comments .comment-body").first).to_have_text("Seen before, expected.")
    browser_events.assert_clean()


def test_assign_the_current_row_from_the_list_and_filter_by_owner(page, live_server, team, browser_events):
    p = team["p"]
    sign_in(page, live_server, p.secadmin)
    page.goto("/alerts/")
    first = page.locator("#alerts-table tbody tr").first
    first.wait_for()
    title = first.locator("td:nth-child(3) a").inner_text()
    first.locator("td:nth-child(3) a").focus()  # the shortcuts act on the list while it has focus
    page.keyboard.press("a")
    expect(page.locator(".messages")).to_contain_text("1 alert(s) assigned to secadmin")
    page.locator("#pill-more summary").click()
    page.get_by_label("Owner", exact=True).select_option("me")
    page.wait_for_url(lambda url: "assignee=me" in url)
    expect(page.locator("#alerts-table tbody tr")).to_have_count(1)
    expect(page.locator("#alerts-table tbody tr td:nth-child(3)")).to_contain_text(title)
    expect(page.locator("#counter-mine")).to_contain_text("1")
    browser_events.assert_clean()


def test_close_an_incident_with_a_classification(page, live_server, team, browser_events):
    p, group = team["p"], team["group"]
    incident = Incident.objects.get(correlation_key="corr-browser")
    sign_in(page, live_server, p.secadmin)
    page.goto("/incidents/")
    page.get_by_role("link", name=incident.title).click()
    expect(page.locator(".timeline li")).to_have_count(3)
    expect(page.locator("#shared-title + .table-wrap table")).to_contain_text("198.51.100.9")
    page.get_by_label("Set every alert to").select_option("Dismissed")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".messages")).to_contain_text("Say why the alert is closed")
    assert not incident_members(incident).filter(status="Dismissed").exists()
    page.get_by_label("Set every alert to").select_option("Dismissed")
    page.get_by_label("Classification").select_option("BenignPositive")
    page.get_by_label("Comment").fill("Pen test week")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".messages")).to_contain_text("3 alert(s) of the incident set to Dismissed")
    expect(page.locator("#incident-status")).to_have_text("Dismissed")
    assert set(
        Alert.objects.filter(pk__in=[a.pk for a in group]).values_list("classification", flat=True)
    ) == {"BenignPositive"}
    page.get_by_label("Owner of the incident").select_option("me")
    page.get_by_role("button", name="Assign incident").click()
    expect(page.locator("#incident-owner")).to_have_text("secadmin")
    browser_events.assert_clean()


def test_save_the_current_filter_as_a_view_shared_with_the_team(page, live_server, team, browser_events):
    p = team["p"]
    sign_in(page, live_server, p.secadmin)
    page.goto("/alerts/")
    page.locator("#pill-severity summary").click()
    page.get_by_role("checkbox", name=re.compile(r"^Medium\b")).check()
    page.wait_for_url(lambda url: "severity=Medium" in url)
    page.locator("#save-view").click()  # follows the filter changed by htmx
    page.get_by_label("Name").fill("Medium TOR")
    page.get_by_label("Share with the team").check()
    page.get_by_role("button", name="Save view").click()
    page.wait_for_url(lambda url: "/alerts/?" in url and "severity=Medium" in url)
    view = SavedView.objects.get()
    assert "severity=Medium" in view.query and view.shared
    expect(page.locator("#leftnav")).to_contain_text("Medium TOR")
    page.goto("/alerts/")
    page.locator("#leftnav").get_by_role("link", name="Medium TOR").click()
    page.wait_for_url(lambda url: "severity=Medium" in url)
    expect(page.locator("#pill-severity .pill-value")).to_have_text("Medium")
    page.locator("#pill-severity summary").click()
    expect(page.get_by_role("checkbox", name=re.compile(r"^Medium\b"))).to_be_checked()
    browser_events.assert_clean()
