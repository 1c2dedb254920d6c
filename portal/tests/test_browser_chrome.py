"""The chrome in real headless Chromium: sign in, see the shell, toggle dark mode (persisted), keyboard help."""

from __future__ import annotations

import pytest

from portal.accounts.models import UserPreference
from portal.testing.factories import PASSWORD, make_personas

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_see_the_chrome_and_toggle_dark_mode(page, live_server, browser_events):
    p = make_personas()
    page.goto("/")
    assert "/accounts/login/" in page.url
    page.get_by_label("User name").fill(p.owner.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/alerts/overview/**")
    # the shell: top bar, left menu, breadcrumbs, blade
    assert page.get_by_role("banner").is_visible()
    nav = page.get_by_role("navigation", name="Portal menu")
    assert nav.get_by_role("link", name="Key vaults").is_visible()
    assert page.get_by_role("navigation", name="Breadcrumb").is_visible()
    assert page.get_by_role("heading", level=1).inner_text() == "Overview"
    assert page.get_by_role("searchbox", name="Search alerts and key vaults").is_visible()
    # htmx is served from static/ and loaded
    assert page.evaluate("typeof htmx !== 'undefined' && htmx.version.startsWith('2.')")

    # theme: auto -> light -> dark, persisted server-side (survives a reload)
    html = page.locator("html")
    assert html.get_attribute("data-theme") == "auto"
    toggle = page.get_by_role("button", name="Switch theme (now: auto)")
    toggle.click()
    page.get_by_role("button", name="Switch theme (now: light)").click()
    assert html.get_attribute("data-theme") == "dark"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(27, 26, 25)"

    def saved() -> bool:
        return UserPreference.objects.filter(user=p.owner, theme="dark").exists()

    from portal.testing.fixtures import wait_for

    wait_for(saved, what="theme saved")
    page.reload()
    assert page.locator("html").get_attribute("data-theme") == "dark"

    # the browser's time zone was recorded for displaying times
    wait_for(
        lambda: UserPreference.objects.filter(user=p.owner, timezone="Europe/Paris").exists(), what="timezone"
    )

    # keyboard: "?" opens the shortcut help, Escape closes it; "/" focuses search
    page.locator("main").click()
    page.keyboard.press("?")
    assert page.get_by_role("dialog", name="Keyboard shortcuts").is_visible()
    page.keyboard.press("Escape")
    assert not page.get_by_role("dialog", name="Keyboard shortcuts").is_visible()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "global-search-input"
    browser_events.assert_clean()


def test_menu_collapses(page, live_server, browser_events):
    from portal.testing.fixtures import sign_in

    p = make_personas()
    sign_in(page, live_server, p.reader)
    page.goto("/keyvaults/")
    page.get_by_role("button", name="Show or hide the portal menu").click()
    assert "menu-collapsed" in page.locator("body").get_attribute("class")
    page.reload()
    assert "menu-collapsed" in page.locator("body").get_attribute("class")
    browser_events.assert_clean()
