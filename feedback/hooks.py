"""What feedback plugs into the layers below it at start-up (FeedbackConfig.ready): the alert page's "Was this
useful?" panel and the Feedback menu entry."""

from __future__ import annotations

from feedback.views import panel_context
from portal.web import chrome, slots
from portal.web.http import signed_in_user


def register_all() -> None:
    slots.register(
        slots.Panel(
            "alert.panels",
            "feedback",
            "feedback/_panel.html",
            lambda r, alert: panel_context(signed_in_user(r), alert),
            order=10,
        )
    )
    chrome.menu_item(
        chrome.MenuItem("Security Center", "Feedback", "feedback:insights", "feedback", order=60)
    )
