"""What the analyst's pages promise about their layout, measured in Chromium on the demo data (issue 22, in part):
no word broken across lines in a table cell or badge, one highlighted menu item, and no page wider than the window
(tables scroll inside their own box), at 1440×900 and 1280×720. (390×844 is not there yet: issue 22 stays open.)

A word is broken when the characters of one word sit on two line boxes: the script walks the text of each cell
and badge, and for each word compares the top of its first and last character (a line may break after a hyphen). Identifiers, hashes, URLs and
e-mail addresses (one "word" of 25 or more characters, or containing '/', '@' or '=') may wrap anywhere.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import Page

from alerts.models import Alert
from portal.inventory.models import KeyVault
from portal.testing.fixtures import sign_in
from sync.orchestrator import sync_subscription

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

BROKEN_WORDS_JS = """
(selector) => {
  const broken = [];
  for (const el of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent;
      const re = /[^\\s-]+/g;  // a line may break after a hyphen, as in print
      let m;
      while ((m = re.exec(text))) {
        const word = m[0];
        if (word.length < 2 || word.length >= 25 || /[\\/@=]/.test(word)) continue;
        const first = document.createRange(), last = document.createRange();
        first.setStart(node, m.index); first.setEnd(node, m.index + 1);
        last.setStart(node, m.index + word.length - 1); last.setEnd(node, m.index + word.length);
        const a = first.getClientRects()[0], b = last.getClientRects()[0];
        if (a && b && Math.abs(a.top - b.top) > a.height / 2) broken.push(word);
      }
    }
  }
  return broken;
}
"""
CELLS = ".grid td, .grid th, .badge, .status, .sev, .tag, .resource-menu a, .leftnav a"


@pytest.fixture
def owner(emulator: Any) -> User:
    for sub in emulator.discover():
        sync_subscription(sub.pk, trigger="test")
    call_command("demo_users", quiet=True)
    return User.objects.get(username="owner")


def _pages() -> list[str]:
    alert = Alert.objects.order_by("-time_generated").first()
    vault = KeyVault.objects.order_by("name").first()
    assert alert is not None and vault is not None
    return [
        "/alerts/",
        f"/alerts/{alert.pk}/",
        f"/alerts/{alert.pk}/?tab=action",
        f"/keyvaults/{vault.pk}/security/",
        "/keyvaults/",
        "/alerts/rules/",
        "/alerts/overview/",
    ]


@pytest.mark.parametrize("size", [(1440, 900), (1280, 720)], ids=["1440x900", "1280x720"])
def test_no_word_breaks_and_one_current_menu_item(
    page: Page, live_server: Any, owner: User, size: tuple[int, int]
) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    sign_in(page, live_server, owner)
    problems = []
    for url in _pages():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        broken = page.evaluate(BROKEN_WORDS_JS, CELLS)
        if broken:
            problems.append(f"{url}: words broken across lines: {sorted(set(broken))[:10]}")
        current = page.locator('#leftnav a[aria-current="page"]').count()
        if current != 1:
            problems.append(f"{url}: {current} highlighted menu items")
        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if wide > 1:
            problems.append(f"{url}: the page is {wide} px wider than the window")
    assert problems == [], "\n".join(problems)


def test_the_check_sees_a_broken_word(page: Page, live_server: Any, owner: User) -> None:
    """The measurement can fail: a cell too narrow for its word is caught."""
    sign_in(page, live_server, owner)
    page.goto("/alerts/rules/")
    page.evaluate(
        # styles set through the CSSOM: the page's CSP refuses inline style attributes
        "() => { const t = document.createElement('table'); t.className = 'grid';"
        " const cell = t.insertRow().insertCell(); const d = document.createElement('div');"
        " d.textContent = 'Suspicious'; d.style.width = '3ch'; d.style.overflowWrap = 'anywhere';"
        " cell.append(d); document.querySelector('main, body').prepend(t); }"
    )
    assert "Suspicious" in page.evaluate(BROKEN_WORDS_JS, CELLS)
