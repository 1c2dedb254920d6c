"""Every seed flow in Chromium, once per demo sign-in, as a new user would try them on the first day.

For each of the demo's sign-ins (`manage.py demo_users`: admin, owner, secadmin, analyst, reader, outsider), signed in
through the real sign-in form against the emulator's synced demo data and a real Celery worker: enable Defender for
Key Vault (a vault's Security page → Try it free → Upgrade, and Pricing & settings → Key Vault → Save), open an alert,
change its status, give feedback, suppress similar alerts, edit the rule, open the admin. It checks what the role
may and may not do, and that none of the first-use defects comes back: pending states settle without a reload, the
trial reads 30 days, an unsaved toggle says so, the rule form pre-fills only what Azure accepts and keeps the expiry
on an edit, feedback keeps its reason across Yes/No, the admin answers non-staff instead of looping.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from alerts.models import Alert
from portal.accounts.management.commands.demo_users import DEMO_PASSWORD
from portal.accounts.selectors import can_write, subscription_pks_for
from portal.inventory.models import KeyVault, Subscription
from pricing.models import Pricing
from suppression.models import SuppressionRule
from sync.orchestrator import sync_subscription

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

SETTLE_MS = 30_000  # a write-back through the worker and the emulator, seen by the page's polling


@pytest.fixture
def demo(emulator: Any) -> dict[str, Any]:
    for sub in emulator.discover():
        sync_subscription(sub.pk, trigger="test")
    call_command("demo_users", quiet=True)
    from django.contrib.auth.models import User

    return {u.username: u for u in User.objects.all()}


def _sign_in(page: Page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def _same_document(page: Page) -> Any:
    return page.evaluate_handle("document.body")


def _target(user: Any) -> tuple[Subscription | None, bool]:
    """A subscription the user may change (one whose Key Vault plan is off, if any), and whether they may."""
    visible = subscription_pks_for(user)
    subs = list(Subscription.objects.order_by("subscription_id"))
    if visible is not None:
        subs = [s for s in subs if s.pk in visible]
    writable = [s for s in subs if can_write(user, s.pk)]
    if writable:
        off = [s for s in writable if Pricing.objects.get(subscription=s, name="KeyVaults").tier == "Free"]
        return (off or writable)[0], True
    return (subs[0] if subs else None), False


def _enable_key_vault(page: Page, sub: Subscription) -> None:
    vault = KeyVault.objects.filter(subscription=sub).order_by("name").first()
    page.goto(f"/keyvaults/{vault.pk}/security/")
    expect(page.get_by_role("heading", name="Security alerts")).to_be_visible()  # listed even while off
    if Pricing.objects.get(subscription=sub, name="KeyVaults").tier == "Free":
        page.get_by_role("link", name="Try it free for the first 30 days").click()
        page.get_by_role("button", name="Upgrade").click()
        body = _same_document(page)
        page.locator(".vault-defender .status-on").wait_for(timeout=SETTLE_MS)  # settles in place
        assert page.evaluate("b => b === document.body", body)
        assert "Free trial: 30 days left" in page.locator(".vault-defender").inner_text()
    expect(page.locator(".vault-defender .status-on")).to_be_visible()


def _pricing_off_then_on(page: Page, sub: Subscription) -> None:
    page.goto(f"/pricing/{sub.pk}/")
    listed = page.locator("#plans tbody tr").count()
    on = page.locator("#plans tbody input[type=checkbox]:checked").count()
    expect(page.locator("#plans-on")).to_have_text(f"Azure Defender: {on} of {listed} plans on")
    row = page.locator("tr", has=page.get_by_role("checkbox", name="Key Vault"))
    for checked, label in ((False, "Off"), (True, "On")):
        page.get_by_role("checkbox", name="Key Vault").set_checked(checked)
        expect(row.locator(".toggle-label")).to_have_text(label)
        expect(row.locator(".badge.unsaved")).to_be_visible()
        page.get_by_role("button", name="Save", exact=True).click()
        row = page.locator("tr", has=page.get_by_role("checkbox", name="Key Vault"))
        body = _same_document(page)
        row.get_by_text("in step with Azure").wait_for(timeout=SETTLE_MS)
        assert page.evaluate("b => b === document.body", body)
        expect(row.locator(".toggle-label")).to_have_text(label)


def _alert_status_and_feedback(page: Page, alert: Alert, *, writer: bool) -> None:
    page.goto(f"/alerts/{alert.pk}/")
    if writer:
        page.get_by_label("Change status").select_option("InProgress")
        page.get_by_role("button", name="Change status").click()
        body = _same_document(page)
        page.locator("#alert-status .status-inprogress").wait_for()
        page.locator("#alert-status .badge.pending").wait_for(state="detached", timeout=SETTLE_MS)
        assert page.evaluate("b => b === document.body", body)
    else:
        expect(page.get_by_role("button", name="Change status")).to_have_count(0)
    panel = page.locator("#feedback")
    panel.get_by_label("No").check()
    expect(panel.get_by_label("Reason").locator("option[value='TruePositive']")).to_have_count(0)
    panel.get_by_label("Reason").select_option("Noise")
    panel.get_by_label("Yes").check()
    expect(panel.get_by_label("Reason").locator("option[value='Noise']")).to_have_count(0)
    panel.get_by_label("No").check()
    expect(panel.get_by_label("Reason")).to_have_value("Noise")
    panel.get_by_role("button", name="Submit").click()
    panel.get_by_text("You said this alert was").wait_for()


def _suppress_similar_then_edit(page: Page, alert: Alert, name: str) -> None:
    page.goto(f"/alerts/{alert.pk}/?tab=action")
    page.get_by_role("link", name="Create suppression rule").click()
    fields = [page.locator(f"#id_c{i}_field").input_value() for i in range(5)]
    assert "entities.account.upn" not in fields and "entities.cloudapplication.appid" not in fields
    assert any(fields), "the alert's entities are pre-filled"
    expect(page.get_by_label("Reason")).to_have_value("SpecificEntityFalsePositive")
    page.get_by_label("Rule name").fill(name)
    page.get_by_label("Expiration date").fill("2027-06-30")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.get_by_text(f"Suppression rule {name} was saved and is being saved to Azure").wait_for()
    rule = SuppressionRule.objects.get(name=name)
    assert not rule.local_only
    body = _same_document(page)
    page.locator(f"#rule-push-{rule.pk}").get_by_text("Azure (in step").wait_for(timeout=SETTLE_MS)
    assert page.evaluate("b => b === document.body", body)
    # edit only the comment: the expiry stays (the form shows it as the date input needs it)
    page.goto(f"/alerts/rules/{rule.pk}/")
    expect(page.get_by_label("Expiration date")).to_have_value("2027-06-30")
    page.get_by_label("Comment").fill("Checked with the application's owner")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.get_by_text(f"Suppression rule {name} was saved").wait_for()
    rule.refresh_from_db()
    assert rule.comment == "Checked with the application's owner"
    assert rule.expiration_date.date().isoformat() == "2027-06-30"


def _admin(page: Page, *, staff: bool) -> None:
    response = page.goto("/admin/")
    if staff:
        assert response is not None and response.status == 200
        expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    else:
        assert response is not None and response.status == 403
        expect(page.get_by_role("heading", name="The administration is for staff")).to_be_visible()


@pytest.mark.parametrize("username", ["admin", "owner", "secadmin", "analyst", "reader", "outsider"])
def test_the_seed_flows_as_each_demo_sign_in(
    username: str, page: Page, live_server: Any, demo: dict[str, Any], celery_worker: Any, browser_events: Any
) -> None:
    user = demo[username]
    _sign_in(page, username)
    sub, writer = _target(user)
    if sub is None:  # outsider: sees nothing, anywhere
        page.goto("/alerts/")
        assert page.locator("#alerts-table tbody tr[data-row-url]").count() == 0
        vault = KeyVault.objects.first()
        assert page.goto(f"/keyvaults/{vault.pk}/security/").status == 404
        alert = Alert.objects.first()
        assert page.goto(f"/alerts/{alert.pk}/").status == 404
        _admin(page, staff=False)
        browser_events.assert_clean(expected_statuses=(403, 404))
        return
    alert = Alert.objects.filter(subscription=sub, status="Active").order_by("-time_generated").first()
    if writer:
        _enable_key_vault(page, sub)
        _pricing_off_then_on(page, sub)
        _alert_status_and_feedback(page, alert, writer=True)
        _suppress_similar_then_edit(page, alert, f"walk-{username}")
    else:
        vault = KeyVault.objects.filter(subscription=sub).first()
        page.goto(f"/keyvaults/{vault.pk}/security/")
        expect(page.get_by_role("link", name="Try it free for the first 30 days")).to_have_count(0)
        expect(page.get_by_role("link", name="Upgrade")).to_have_count(0)
        page.goto(f"/pricing/{sub.pk}/")
        expect(page.get_by_role("checkbox", name="Key Vault")).to_be_disabled()
        expect(
            page.get_by_text("Only Security Admins and Owners of this subscription can change")
        ).to_be_visible()
        _alert_status_and_feedback(page, alert, writer=False)
        page.goto(f"/alerts/{alert.pk}/?tab=action")
        expect(page.get_by_role("link", name="Create suppression rule")).to_have_count(0)
        assert page.goto(f"/alerts/rules/new/?from_alert={alert.pk}").status == 403
    _admin(page, staff=user.is_staff)
    browser_events.assert_clean(expected_statuses=(403,))
