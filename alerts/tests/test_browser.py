"""The Security alerts blade in real headless Chromium, against the emulator (real SDK, real Celery worker)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from alerts.models import Alert, BulkStatusJob
from portal.accounts.models import Role
from portal.testing.factories import grant, make_user
from portal.testing.fixtures import sign_in, wait_for
from sync.orchestrator import sync_subscription

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(emulator):
    """The emulator's demo subscriptions, synced; an analyst who is Security Admin of all of them."""
    subs = emulator.discover()
    for sub in subs:
        sync_subscription(sub.pk, trigger="test")
    analyst = make_user("sam")
    for sub in subs:
        grant(analyst, sub, Role.SECURITY_ADMIN)
    return {"subs": subs, "user": analyst}


def test_filter_by_severity_and_vault_then_open_an_alert(page, live_server, world, browser_events):
    sign_in(page, live_server, world["user"])
    page.goto("/alerts/")
    page.locator("#pill-severity summary").click()
    page.get_by_role("checkbox", name=re.compile(r"^Medium\b")).check()  # its label ends with its count
    page.wait_for_url(lambda url: "severity=Medium" in url)  # the filter lives in the URL
    # (Playwright's `expect` retries without eval, which the CSP forbids)
    expect(
        page.locator("#alerts-table tbody tr td:nth-child(2)").filter(has_not_text="Medium")
    ).to_have_count(0)
    assert page.locator("#alerts-table tbody tr").count() > 0
    # ...and a vault: pick the vault of a Medium alert
    expected = Alert.objects.filter(
        severity="Medium", status__in=["Active", "InProgress"], vault__isnull=False
    ).first()
    page.locator("#pill-more summary").click()
    page.get_by_label("Key vault", exact=True).select_option(str(expected.vault_id))
    page.wait_for_url(lambda url: f"vault={expected.vault_id}" in url)
    expect(
        page.locator("#alerts-table tbody tr td:nth-child(5)").filter(has_not_text=expected.vault.name)
    ).to_have_count(0)
    # the back button restores the previous filter (filters live in the URL)
    page.go_back()
    page.wait_for_url(lambda url: f"vault={expected.vault_id}" not in url)
    page.wait_for_load_state("networkidle")  # htmx restores the page from the server: let it land
    page.go_forward()
    page.wait_for_url(lambda url: f"vault={expected.vault_id}" in url)
    page.wait_for_load_state("networkidle")
    expect(
        page.locator("#alerts-table tbody tr td:nth-child(5)").filter(has_not_text=expected.vault.name)
    ).to_have_count(0)
    page.locator("#alerts-table tbody tr td:nth-child(3) a").first.click()  # opens beside the list
    page.locator("#pane [data-pane-pk]").wait_for()
    with page.expect_navigation(url=lambda url: "/alerts/" in url and "?" not in url):
        page.get_by_role("link", name="View full details").click()
    assert page.get_by_role("heading", name="Entities").is_visible()
    browser_events.assert_clean()


def test_change_status_pending_then_confirmed_by_azure(
    page, live_server, world, celery_worker, emulator, browser_events
):
    alert = Alert.objects.filter(status="Active").order_by("-time_generated").first()
    sign_in(page, live_server, world["user"])
    page.goto(f"/alerts/{alert.pk}/")
    page.get_by_label("Change status").select_option("Dismissed")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator("#alert-status [role=alert]")).to_contain_text("Say why the alert is closed")
    page.get_by_label("Classification").select_option("FalsePositive")
    page.get_by_label("Comment", exact=True).fill("Our scanner")
    page.get_by_role("button", name="Change status").click()
    page.locator("#alert-status .status-dismissed").wait_for()
    marker = page.evaluate_handle("document.body")
    # pending until the worker's write-back is confirmed by the emulator (204): the badge settles in place
    page.locator("#alert-status .badge.pending").wait_for(state="detached", timeout=30_000)
    assert page.evaluate("b => b === document.body", marker)  # no reload
    assert Alert.objects.get(pk=alert.pk).pending_status == ""
    assert emulator.control("GET", "alerts", id=alert.azure_id)["properties"]["status"] == "Dismissed"
    page.reload()
    assert "Status change confirmed by Azure" in page.locator("#activity-title + ol").inner_text()
    browser_events.assert_clean(expected_statuses=(400,))  # the close refused without a classification


def test_bulk_dismiss_everything_matching_a_filter(page, live_server, world, celery_worker, browser_events):
    target = Alert.objects.filter(status__in=["Active", "InProgress"], alert_type="KV_TORAccess")
    expected = target.count()
    assert expected > 1
    sign_in(page, live_server, world["user"])
    page.goto("/alerts/?type=KV_TORAccess")
    assert not page.get_by_role("link", name="…or all alerts matching this filter").is_visible()
    page.get_by_label("Select all alerts on this page").check()  # the bulk bar appears with a selection
    page.get_by_role("link", name="…or all alerts matching this filter").click()
    assert page.get_by_text(f"{expected} alerts match this filter").is_visible()
    page.get_by_label("Classification (asked once for all of them)").select_option("BenignPositive")
    page.get_by_role("button", name=f"Set {expected} alerts to Dismissed").click()
    page.wait_for_url("**/bulk/jobs/*/")
    page.get_by_text("Back to the alerts").wait_for(timeout=30_000)
    job = BulkStatusJob.objects.get()
    assert job.state == "done" and job.done == expected
    assert not Alert.objects.filter(alert_type="KV_TORAccess", status__in=["Active", "InProgress"]).exists()
    browser_events.assert_clean()


def _current_pk(page) -> str:
    return page.locator("#alerts-table tbody tr.is-current").get_attribute("data-pk") or ""


def test_the_side_pane_follows_j_and_k_only_from_the_list_and_keeps_its_place(
    page, live_server, world, browser_events
):
    sign_in(page, live_server, world["user"])
    page.goto("/alerts/")
    rows = page.locator("#alerts-table tbody tr")
    first, second = rows.nth(0).get_attribute("data-pk"), rows.nth(1).get_attribute("data-pk")
    # j on the page, outside the list: nothing moves, no pane
    page.locator("h1").click()
    page.keyboard.press("j")
    assert (
        page.locator("#alerts-table tbody tr.is-current").count() == 0 and page.locator("#pane").is_hidden()
    )
    # typing j in a field types it
    page.locator("#global-search-input").focus()
    page.keyboard.type("j")
    assert page.locator("#global-search-input").input_value() == "j" and page.locator("#pane").is_hidden()
    assert page.locator("#alerts-table tbody tr.is-current").count() == 0
    # a click on a title opens the alert beside the list; the URL records it
    rows.nth(0).locator("td:nth-child(3) a").click()
    page.locator(f'#pane [data-pane-pk="{first}"]').wait_for()
    page.wait_for_url(lambda url: f"open={first}" in url)
    assert _current_pk(page) == first
    # j/k from the list: the pane follows
    page.keyboard.press("j")
    page.locator(f'#pane [data-pane-pk="{second}"]').wait_for()
    page.wait_for_url(lambda url: f"open={second}" in url)
    assert _current_pk(page) == second
    page.keyboard.press("k")
    page.locator(f'#pane [data-pane-pk="{first}"]').wait_for()
    page.keyboard.press("j")
    page.locator(f'#pane [data-pane-pk="{second}"]').wait_for()
    # x selects the current row
    page.keyboard.press("x")
    assert rows.nth(1).locator("input[type=checkbox]").is_checked()
    # reload keeps it; back goes to the alert before
    page.reload()
    page.locator(f'#pane [data-pane-pk="{second}"]').wait_for()
    assert _current_pk(page) == second
    page.go_back()
    page.wait_for_url(lambda url: f"open={first}" in url)
    page.locator(f'#pane [data-pane-pk="{first}"]').wait_for()
    # Esc while typing in a field keeps the pane (and what was typed)
    comment = page.locator("#pane #close-comment")
    comment.fill("seen before")
    comment.press("Escape")
    assert page.locator("#pane").is_visible() and comment.input_value() == "seen before"
    # a row's checkbox is in the list: j moves from it
    rows.nth(0).locator("input[type=checkbox]").focus()
    page.keyboard.press("j")
    page.locator(f'#pane [data-pane-pk="{second}"]').wait_for()
    # Esc closes it, and the URL forgets it
    rows.nth(0).locator("td:nth-child(3) a").focus()
    page.keyboard.press("Escape")
    expect(page.locator("#pane")).to_be_hidden()
    page.wait_for_url(lambda url: "open=" not in url)
    browser_events.assert_clean()


def test_single_key_shortcuts_can_be_switched_off(page, live_server, world, browser_events):
    sign_in(page, live_server, world["user"])
    page.goto("/account/preferences/")
    page.get_by_label("Single-key keyboard shortcuts").uncheck()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Preferences saved.").wait_for()
    page.goto("/alerts/")
    page.locator("#alerts-table tbody tr td:nth-child(3) a").first.focus()
    page.keyboard.press("j")
    page.keyboard.press("?")
    assert page.locator("#alerts-table tbody tr.is-current").count() == 0
    assert page.locator("#pane").is_hidden() and page.locator("#shortcut-help").is_hidden()
    browser_events.assert_clean()


def test_a_sortable_header_sorts_and_the_others_are_not_links(page, live_server, world, browser_events):
    sign_in(page, live_server, world["user"])
    page.goto("/alerts/")
    head = page.locator("#alerts-table thead")
    assert head.locator("a").count() == 2
    assert head.get_by_role("columnheader", name="Alert title").locator("a").count() == 0
    head.get_by_role("link", name="Severity").click()
    page.wait_for_url(lambda url: "sort=severity" in url)
    expect(head.locator('th[aria-sort="descending"]')).to_contain_text("Severity")
    ranks = {"High": 3, "Medium": 2, "Low": 1, "Informational": 0}
    shown = [ranks[t.strip()] for t in page.locator("#alerts-table tbody .sev").all_inner_texts()]
    assert shown == sorted(shown, reverse=True) and len(set(shown)) > 1
    browser_events.assert_clean()


def test_a_status_change_in_the_pane_settles_in_the_pane_and_the_list(
    page, live_server, world, celery_worker, emulator, browser_events
):
    sign_in(page, live_server, world["user"])
    page.goto("/alerts/?status=Active")
    row = page.locator("#alerts-table tbody tr").first
    pk = row.get_attribute("data-pk")
    row.locator("td:nth-child(3) a").click()
    pane = page.locator(f'#pane [data-pane-pk="{pk}"]')
    pane.wait_for()
    marker = page.evaluate_handle("document.body")
    pane.get_by_label("Change status").select_option("Resolved")
    pane.get_by_label("Classification").select_option("TruePositive")
    pane.get_by_role("button", name="Change status").click()
    # the pane's badge and the list row's badge both settle, polled by the one pending mechanism
    page.locator(f"#pane-alert-status-badge-{pk} .status-resolved").wait_for()
    page.locator(f"#alert-status-badge-{pk} .status-resolved").wait_for()
    page.locator(f"#pane-alert-status-badge-{pk} .badge.pending").wait_for(state="detached", timeout=30_000)
    page.locator(f"#alert-status-badge-{pk} .badge.pending").wait_for(state="detached", timeout=30_000)
    assert page.evaluate("b => b === document.body", marker)  # no reload
    alert = Alert.objects.get(pk=pk)
    assert alert.status == "Resolved" and alert.pending_status == ""
    assert emulator.control("GET", "alerts", id=alert.azure_id)["properties"]["status"] == "Resolved"
    browser_events.assert_clean()


def test_new_alerts_banner_after_a_sync(page, live_server, world, emulator, settings, browser_events):
    settings.LIVE_POLL_SECONDS = 1
    sub = world["subs"][0]
    sign_in(page, live_server, world["user"])
    page.goto("/alerts/")
    rows_before = page.locator("#alerts-table tbody tr").count()
    emulator.add_alerts(sub.subscription_id, count=2, alert_type="KV_SuspiciousIPAccess", severity="Medium")
    sync_subscription(sub.pk, trigger="test")
    banner = page.get_by_role("link", name="2 new alerts — show them")
    banner.wait_for(timeout=15_000)
    assert page.locator("#alerts-table tbody tr").count() == rows_before  # rows don't jump
    banner.click()
    expect(page.locator(".new-banner")).to_have_count(0)
    browser_events.assert_clean()


def test_sample_alerts_arrive_through_the_sync(page, live_server, world, celery_worker, browser_events):
    sign_in(page, live_server, world["user"])
    page.goto("/alerts/")
    page.get_by_role("link", name="Sample alerts").click()
    page.get_by_label("Subscription").select_option(str(world["subs"][0].pk))
    page.get_by_role("button", name="Create sample alerts").click()
    page.get_by_text("Sample alerts were requested").wait_for()
    wait_for(
        lambda: Alert.objects.filter(title__startswith="[SAMPLE ALERT]").count() >= 14,
        timeout=60,
        what=f"sample alerts synced\n{celery_worker.logs()}",
    )
    page.goto("/alerts/?q=sample alert")
    assert page.locator("#alerts-table tbody tr").count() >= 14
    browser_events.assert_clean()


def test_overview_and_alert_types_pages(page, live_server, world, browser_events):
    sign_in(page, live_server, world["user"])
    page.goto("/alerts/overview/")
    assert page.get_by_role("heading", name="Open alerts by severity").is_visible()
    assert page.locator(".chart svg rect").count() > 0
    page.get_by_role("link", name="Alert types").first.click()
    assert page.locator("table code").count() == 14
    browser_events.assert_clean()


def test_csv_export_of_the_whole_table(page, live_server, world, browser_events):
    sign_in(page, live_server, world["user"])
    page.goto("/alerts/?status=Active&status=InProgress&status=Resolved&status=Dismissed")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download CSV").click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) - 1 == Alert.objects.count() > 400
    browser_events.assert_clean()


PAYLOADS = [
    "<script>alert('t')</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(2)>",
    "javascript:alert(3)",
    "{{7*7}} {% debug %}",
    "<iframe src=javascript:alert(4)>",
    "</textarea><script>alert(5)</script>",
    '<a href="javascript:alert(6)">x</a>',
    "<style>body{display:none}</style>",
    "' onmouseover='alert(7)",
]


def test_an_alert_full_of_xss_payloads_runs_nothing(page, live_server, world, emulator, browser_events):
    sub = world["subs"][0]
    p = PAYLOADS
    overrides = {
        "alertDisplayName": p[0] + p[1],
        "description": p[2] + p[4],
        "compromisedEntity": p[1],
        "remediationSteps": p,
        "intent": p[5],
        "productName": p[3],
        "alertUri": p[3],
        "extendedProperties": {f"{x} key": x for x in p},
        "extendedLinks": [
            {"Href": p[3], "Label": p[0], "Category": p[1]},
            {"Href": "data:text/html,<script>alert(8)</script>", "Label": p[2]},
        ],
        "entities": [
            {
                "$id": "1",
                "address": p[1],
                "type": "ip",
                "location": {"city": p[0], "countryCode": p[2], "asn": p[3]},
            },
            {"$id": "2", "name": p[0], "upnSuffix": p[1], "displayName": p[6], "type": "account"},
            {"$id": "3", "appId": p[7], "name": p[8], "type": "cloud-application"},
            {"$id": "4", "weird": p[9], "type": p[0]},
        ],
        "supportingEvidence": {
            "type": "tabularEvidences",
            "title": p[0],
            "columns": [p[1], "b"],
            "rows": [[p[2], p[3]]],
        },
        "techniques": [p[0]],
        "correlationKey": p[1],
    }
    emulator.add_alerts(sub.subscription_id, count=1, alert_type="KV_TORAccess", overrides=overrides)
    sync_subscription(sub.pk, trigger="test")
    alert = Alert.objects.get(description__startswith="<svg")
    sign_in(page, live_server, world["user"])
    for url in (
        f"/alerts/{alert.pk}/",
        f"/alerts/{alert.pk}/?tab=action",
        "/alerts/?q=onerror",
        "/search/?q=script",
        "/alerts/overview/",
    ):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        injected = page.evaluate(
            """() => [...document.querySelectorAll('img[src="x"], svg[onload], iframe, main script, [onerror], [onmouseover], main style')]
                .map(e => e.outerHTML.slice(0, 80))"""
        )
        assert injected == [], (url, injected)
        bad_links = page.evaluate(
            "() => [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href')).filter(h => /^(javascript|data):/i.test(h))"
        )
        assert bad_links == [], (url, bad_links)
    page.goto(f"/alerts/{alert.pk}/")
    assert (
        "{{7*7}} {% debug %}" in page.locator("#desc-title + p").inner_text()
    )  # shown as text, not evaluated
    browser_events.assert_clean()


def test_editing_only_a_rules_comment_keeps_its_expiry_here_and_in_azure(
    page, live_server, world, celery_worker, emulator, browser_events
):
    """The edit form filled the date input with "30/06/2027" (the en-GB format), which Chromium shows as an empty
    field: saving a comment-only edit erased the expiry, and the erased date was pushed to Azure."""
    from portal.arm import operations
    from portal.inventory.azure import config_for
    from suppression.models import SuppressionRule

    rule = SuppressionRule.objects.filter(
        state="Enabled", expiration_date__isnull=False, in_azure=True
    ).first()
    expiry = rule.expiration_date
    sign_in(page, live_server, world["user"])
    page.goto(f"/alerts/rules/{rule.pk}/")
    expect(page.get_by_label("Expiration date")).to_have_value(expiry.date().isoformat())
    page.get_by_label("Comment").fill("Nightly CI secret rotation (reviewed)")
    page.get_by_role("button", name="Apply").click()
    page.get_by_text(f"Suppression rule {rule.name} was saved").wait_for()
    rule.refresh_from_db()
    assert rule.comment == "Nightly CI secret rotation (reviewed)"
    assert rule.expiration_date.date() == expiry.date()
    wait_for(
        lambda: SuppressionRule.objects.get(pk=rule.pk).push_state == "",
        timeout=30,
        what=f"the rule pushed to Azure\n{celery_worker.logs()}",
    )
    sub = rule.subscription
    in_azure = next(
        r
        for r in operations.list_suppression_rules(config_for(sub.connection), sub.subscription_id)
        if r["name"] == rule.name
    )
    assert in_azure["properties"]["comment"] == "Nightly CI secret rotation (reviewed)"
    assert in_azure["properties"]["expirationDateUtc"].startswith(expiry.date().isoformat())
    browser_events.assert_clean()


def test_a_custom_range_is_applied_with_apply_not_when_chosen(page, live_server, world, browser_events):
    """Choosing "Custom range" replaced the list with "give a start or an end" before a date could be typed."""
    sign_in(page, live_server, world["user"])
    page.goto("/alerts/")
    rows_before = page.locator("#alerts-table tbody tr").count()
    page.locator("#pill-range summary").click()
    page.get_by_label("Time range").select_option("custom")
    page.get_by_label("From", exact=True).fill("2020-01-01T00:00")
    expect(page.locator("#results .form-errors")).to_have_count(0)
    assert "range=custom" not in page.url and page.locator("#alerts-table tbody tr").count() == rows_before
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(lambda url: "range=custom" in url and "start=2020-01-01T00%3A00" in url)
    expect(page.locator("#results .form-errors")).to_have_count(0)
    page.locator("#counters .count-total").wait_for()
    browser_events.assert_clean()


def test_the_filters_work_without_javascript(browser, live_server, world):
    """The pills are <details>, the filter a GET form: with JavaScript off, Severity → Medium → Apply filters the list
    and the address keeps it; the title is a link to the alert's page."""
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        sign_in(page, live_server, world["user"])
        page.goto("/alerts/")
        page.locator("#pill-severity summary").click()
        page.get_by_role("checkbox", name=re.compile(r"^Medium\b")).check()
        page.get_by_role("button", name="Apply").click()
        page.wait_for_url(lambda url: "severity=Medium" in url)
        severities = page.locator("#alerts-table tbody .sev").all_inner_texts()
        assert severities and {s.strip() for s in severities} == {"Medium"}
        page.locator("#alerts-table tbody a[data-pane-link]").first.click()
        page.wait_for_url(lambda url: re.search(r"/alerts/\d+/$", url) is not None)
        assert page.get_by_role("heading", name="Entities").is_visible()
    finally:
        context.close()
