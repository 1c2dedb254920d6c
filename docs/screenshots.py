#!/usr/bin/env python
"""The user guide's screenshots, taken in Chromium (Debian's `chromium`, driven by Playwright) against the demo.

    python3 dev.py screenshots            # starts a fresh demo on a free port, takes them, stops it
    python3 dev.py screenshots --url http://127.0.0.1:8000   # against a demo already running

Writes docs/img/*.png (1440×900 unless named otherwise), the images docs/USER_GUIDE.md and the README show. Every step
waits for what it shows: a screenshot of a page that failed is an error, not a picture of the error.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

OUT = Path(__file__).resolve().parent / "img"
PASSWORD = "kv-demo-password"  # noqa: S105 - the demo's documented sign-in
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def sign_in(page: Page, base: str, username: str) -> None:
    page.context.clear_cookies()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def shot(page: Page, name: str, *, full: bool = False) -> None:
    page.wait_for_load_state("networkidle")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
    print(f"  docs/img/{name}.png")


def take(base: str) -> None:
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": 1440, "height": 900}, timezone_id="UTC")
        page = context.new_page()
        page.set_default_timeout(20_000)

        # 1. Security Center → Pricing & settings → a subscription → Key Vault On → Save (as an Owner)
        sign_in(page, base, "owner")
        page.goto(f"{base}/pricing/")
        shot(page, "01-pricing-subscriptions")
        page.get_by_role("link", name="Fabrikam Security Lab").first.click()
        box = page.get_by_role("checkbox", name="Key Vault")
        if box.is_checked():  # the demo has it on: off first (not shown), so that the picture switches it on
            box.uncheck()
            page.get_by_role("button", name="Save", exact=True).click()
            expect(page.locator("#plan-KeyVaults")).to_contain_text("in step with Azure", timeout=60_000)
        page.get_by_role("checkbox", name="Key Vault").check()
        shot(page, "02-pricing-plans")
        page.get_by_role("button", name="Save", exact=True).click()
        page.locator(".messages").get_by_text("to Azure", exact=False).wait_for()
        shot(page, "03-pricing-saved")

        # 2. A key vault → Security → Try it free → Upgrade (Contoso Development: its plan is Off, its trial unused)
        page.goto(f"{base}/keyvaults/")
        page.get_by_label("Subscription").select_option(label="Contoso Development")
        page.wait_for_url(lambda url: "subscription=" in url)
        page.locator("#vaults-table table a[href*='/keyvaults/']").first.click()
        page.locator(".resource-menu").get_by_role("link", name="Security", exact=True).click()
        expect(page.get_by_role("heading", name="Security alerts")).to_be_visible()
        shot(page, "04-vault-security")
        page.get_by_role("link", name="Try it free for the first 30 days").click()
        shot(page, "05-vault-upgrade")

        # 3. Security alerts → an alert beside the list → its page → respond (as an analyst's lead: secadmin)
        sign_in(page, base, "secadmin")
        page.goto(f"{base}/alerts/")
        expect(page.locator("#alerts-table tbody tr").first).to_be_visible()
        page.locator("#counters .count-total").wait_for()
        shot(page, "10-alerts-list")
        page.locator("#alerts-table tbody tr a[data-pane-link]").first.click()
        page.locator("#pane [data-pane-pk]").wait_for()
        shot(page, "11-alerts-pane")
        page.locator("#pill-severity summary").click()
        shot(page, "12-alerts-filter-pill")
        page.locator("#pill-severity summary").click()
        page.get_by_role("link", name="View full details").click()
        expect(page.get_by_role("heading", name="Entities")).to_be_visible()
        shot(page, "13-alert-details")
        page.get_by_role("link", name="Take action").first.click()
        shot(page, "14-alert-take-action")

        # 4. Was this useful? → Reason → Additional feedback → consent → Submit
        panel = page.locator("#feedback")
        if panel.count():
            panel.scroll_into_view_if_needed()
            panel.get_by_label("No").check()
            panel.get_by_label("Reason").select_option(index=1)
            page.evaluate("document.querySelector('#feedback').scrollIntoView()")
            page.locator("#feedback").screenshot(path=str(OUT / "15-was-this-useful.png"))
            print("  docs/img/15-was-this-useful.png")

        # 5. Suppress similar alerts → the rule form, prefilled from the alert
        page.get_by_role("link", name="Create suppression rule").first.click()
        expect(page.get_by_label("Rule name")).to_be_visible()
        shot(page, "16-suppression-rule")
        page.goto(f"{base}/alerts/rules/")
        shot(page, "17-suppression-rules")

        # 6. Email notifications
        page.goto(f"{base}/alerts/email-notifications/")
        shot(page, "18-email-notifications")

        # 7. Triage: incidents and the owner of an alert
        page.goto(f"{base}/incidents/")
        shot(page, "19-incidents")

        # Overview, a narrow screen, the dark theme
        page.goto(f"{base}/alerts/overview/")
        shot(page, "20-overview")
        narrow = browser.new_context(viewport={"width": 390, "height": 844}, timezone_id="UTC")
        phone = narrow.new_page()
        sign_in(phone, base, "analyst")
        phone.goto(f"{base}/alerts/")
        phone.locator("#counters .count-total").wait_for()
        shot(phone, "21-alerts-390")
        phone.locator("#menu-toggle").click()
        shot(phone, "22-menu-drawer-390")
        narrow.close()
        page.context.add_cookies([{"name": "theme", "value": "dark", "url": base}])
        page.goto(f"{base}/account/preferences/")
        page.locator("#id_theme").select_option("dark")
        page.get_by_role("button", name="Save").click()
        page.goto(f"{base}/alerts/")
        page.locator("#counters .count-total").wait_for()
        shot(page, "23-alerts-dark")
        page.goto(f"{base}/account/preferences/")
        page.locator("#id_theme").select_option("auto")  # leave the demo user as found
        page.get_by_role("button", name="Save").click()
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="the running demo, e.g. http://127.0.0.1:8000")
    args = parser.parse_args()
    take(re.sub(r"/+$", "", args.url))


if __name__ == "__main__":
    main()
