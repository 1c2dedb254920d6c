""" "Was this useful?" with JavaScript, in Chromium: the reasons follow the answer, the panel updates in place."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from feedback.models import Feedback
from portal.testing.factories import alert_item, make_alerts, make_personas, make_vault
from portal.testing.fixtures import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_feedback_panel_in_the_browser(page, live_server, browser_events):
    p = make_personas()
    alert = make_alerts(p.sub, [alert_item(p.sub, vault=make_vault(p.sub))])[0]
    sign_in(page, live_server, p.reader)
    page.goto(f"/alerts/{alert.pk}/")
    panel = page.locator("#feedback")
    panel.get_by_label("No").check()
    # the reasons offered now are those of a "not useful" answer only
    reason = panel.get_by_label("Reason")
    expect(reason.locator("option[value='TruePositive']")).to_have_count(0)
    expect(reason.locator("option[value='SpecificEntityFalsePositive']")).to_have_count(1)
    # a reason picked, the answer switched to Yes and back: the reason is still picked, and Submit takes it
    reason.select_option("Noise")
    panel.get_by_label("Yes").check()
    expect(panel.get_by_label("Reason").locator("option[value='Noise']")).to_have_count(0)
    panel.get_by_label("No").check()
    expect(panel.get_by_label("Reason")).to_have_value("Noise")
    reason = panel.get_by_label("Reason")
    reason.select_option("Other")
    panel.get_by_role("button", name="Submit").click()
    panel.get_by_text("Tell us more when the reason is “Other”.").wait_for()  # a clear error, in place
    # after the error, only the "not useful" reasons, "Other" once, still selected
    expect(panel.get_by_label("Reason").locator("option[value='Other']")).to_have_count(1)
    expect(panel.get_by_label("Reason").locator("option[value='TruePositive']")).to_have_count(0)
    expect(panel.get_by_label("Reason")).to_have_value("Other")
    panel.get_by_label("Additional feedback").fill("A scheduled key rotation <b>job</b>")
    panel.get_by_label("The security team may email me about this feedback").check()
    panel.get_by_role("button", name="Submit").click()
    panel.get_by_text("You said this alert was").wait_for()
    assert "A scheduled key rotation <b>job</b>" in panel.inner_text()  # shown as text
    feedback = Feedback.objects.get()
    assert (feedback.useful, feedback.reason, feedback.may_contact) == (False, "Other", True)
    assert page.url.endswith(f"/alerts/{alert.pk}/")  # no page load: htmx swapped the panel
    panel.get_by_role("link", name="Edit").click()
    panel.get_by_label("Yes").check()
    panel.get_by_label("Reason").select_option("TruePositive")
    panel.get_by_role("button", name="Submit").click()
    panel.get_by_text("It found real malicious activity").wait_for()
    feedback.refresh_from_db()
    assert feedback.useful and feedback.versions.count() == 2
    browser_events.assert_clean(expected_statuses=(400,))  # the form sent back with its error
