"""The API documentation in real Chromium: Swagger UI from our own static files, within the CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.testing.fixtures import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_api_docs_render_under_the_csp_without_a_cdn(page, live_server, personas, browser_events):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    sign_in(page, live_server, personas.reader)
    page.goto("/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Defender for Key Vault console API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert page.locator(".opblock-summary-path", has_text="/api/v1/alerts/{id}/status/").count() == 1
    assert all(url.startswith(live_server.url) for url in requests), [
        u for u in requests if live_server.url not in u
    ]
    browser_events.assert_clean()  # no CSP violation, no console error
    page.goto("/account/preferences/")
    page.goto("/api/tokens/")
    page.get_by_label("Name (what uses it)").fill("docs test")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#token-value")).to_contain_text("kvd_")
