"""Both enabling flows of Defender for Key Vault in Chromium, written back to the emulator by a real worker."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.accounts.models import Role
from portal.inventory.models import KeyVault
from portal.testing.factories import grant, make_user
from portal.testing.fixtures import sign_in
from pricing.models import Pricing
from sync.orchestrator import sync_subscription

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(emulator):
    subs = emulator.discover()
    for sub in subs:
        sync_subscription(sub.pk, trigger="test")
    user = make_user("sam")
    for sub in subs:
        grant(user, sub, Role.SECURITY_ADMIN)
    off = next(s for s in subs if Pricing.objects.get(subscription=s, name="KeyVaults").tier == "Free")
    return {"user": user, "sub": off}


def _kv_upstream(emulator, sub):
    state = emulator.control("GET", "state")
    return next(s for s in state["subscriptions"] if s["subscription_id"].lower() == sub.subscription_id)[
        "pricings"
    ]["KeyVaults"]


def test_pricing_and_settings_key_vault_on_then_save(
    page, live_server, world, emulator, celery_worker, browser_events
):
    sub = world["sub"]
    sign_in(page, live_server, world["user"])
    page.goto("/pricing/")
    page.get_by_role("link", name=sub.display_name).click()
    rows = page.locator("#plans tbody tr")
    header = page.locator("#plans-on")
    # the header counts what the table lists
    listed, on = rows.count(), page.locator("#plans tbody input[type=checkbox]:checked").count()
    assert header.inner_text() == f"Azure Defender: {on} of {listed} plans on"
    row = page.locator("tr", has=page.get_by_role("checkbox", name="Key Vault"))
    page.get_by_role("checkbox", name="Key Vault").check()
    # before Save, the row reads what Save will write, marked unsaved
    expect(row.locator(".toggle-label")).to_have_text("On")
    expect(row.locator(".badge.unsaved")).to_be_visible()
    page.get_by_role("checkbox", name="Key Vault").uncheck()
    expect(row.locator(".toggle-label")).to_have_text("Off")
    expect(row.locator(".badge.unsaved")).to_be_hidden()
    page.get_by_role("checkbox", name="Key Vault").check()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saving Key Vault to Azure").wait_for()
    # the row says it is being saved, then settles in place once Azure has confirmed (no reload)
    marker = page.evaluate_handle("document.body")  # the same document before and after: nothing reloaded
    row.get_by_text("in step with Azure").wait_for(timeout=30_000)
    expect(row.get_by_text("saving to Azure")).to_have_count(0)
    assert page.evaluate("b => b === document.body", marker)
    assert _kv_upstream(emulator, sub) == "Standard"
    assert "days left" in row.inner_text() and "PerKeyVault" in row.inner_text()
    assert "30 days left" in row.inner_text()  # rounded up, right after the upgrade
    browser_events.assert_clean()


def test_vault_security_try_it_free_then_upgrade(
    page, live_server, world, emulator, celery_worker, browser_events
):
    sub = world["sub"]
    vault = KeyVault.objects.filter(subscription=sub).first()
    sign_in(page, live_server, world["user"])
    page.goto("/keyvaults/")
    page.get_by_role("link", name=vault.name, exact=True).click()
    page.get_by_role("link", name="Security", exact=True).click()
    # with the plan off, the vault's existing alerts are still listed, under the offer
    expect(page.get_by_role("heading", name="Security alerts")).to_be_visible()
    assert page.locator("#alerts-table tbody tr[data-row-url]").count() > 0
    page.get_by_role("link", name="Try it free for the first 30 days").click()
    assert page.get_by_role("radio", name=sub.display_name, exact=False).is_checked()
    page.get_by_role("button", name="Upgrade").click()
    page.get_by_text("is being enabled").wait_for()
    marker = page.evaluate_handle("document.body")
    # "Being enabled…" settles in place, without a reload, once Azure has confirmed
    page.locator(".vault-defender .status-on").wait_for(timeout=30_000)
    assert page.evaluate("b => b === document.body", marker)
    assert _kv_upstream(emulator, sub) == "Standard"
    assert "Free trial: 30 days left" in page.locator(".vault-defender").inner_text()
    rows = page.locator("#alerts-table tbody tr[data-row-url]")
    assert rows.count() > 0
    assert all(
        vault.name in t for t in page.locator("#alerts-table tbody tr td:nth-child(4)").all_inner_texts()
    )
    browser_events.assert_clean()
