"""What every page's chrome needs: the menu, the theme, the time zone, the sync indicator."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

# (section, label, url name, icon). Items whose URL does not exist (a feature not installed) are left out.
MENU: list[tuple[str, list[tuple[str, str, str]]]] = [
    (
        "Security Center",
        [
            ("Overview", "alerts:overview", "overview"),
            ("Security alerts", "alerts:list", "alerts"),
            ("Incidents", "alerts:incidents", "incidents"),
            ("Alert types", "alerts:types", "types"),
            ("Suppression rules", "alerts:rules", "rules"),
            ("Feedback", "feedback:insights", "feedback"),
            ("Metrics", "alerts:metrics", "metrics"),
            ("Pricing & settings", "pricing:subscriptions", "pricing"),
            ("Email notifications", "alerts:email_settings", "mail"),
            ("Sync status", "inventory:sync_status", "sync"),
        ],
    ),
    ("Key Vault", [("Key vaults", "inventory:vaults", "vault")]),
    (
        "Settings",
        [
            ("Subscriptions & access", "web:subscriptions", "access"),
            ("Preferences", "web:preferences", "prefs"),
        ],
    ),
]


def _menu(request: HttpRequest) -> list[dict[str, Any]]:
    path = request.path
    sections = []
    for title, items in MENU:
        entries = []
        for label, name, icon in items:
            try:
                url = reverse(name)
            except NoReverseMatch:
                continue
            active = path == url or (url != "/" and path.startswith(url))
            entries.append({"label": label, "url": url, "icon": icon, "active": active})
        if entries:
            sections.append({"title": title, "items": entries})
    return sections


def chrome(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"chrome": {"theme": request.COOKIES.get("theme", "auto"), "menu": []}}
    pref = getattr(request, "user_preference", None)
    from portal.inventory.selectors import sync_indicator_for

    return {
        "chrome": {
            "theme": pref.theme if pref else "auto",
            "timezone": pref.timezone if pref else "",
            "timezone_from_browser": pref.timezone_from_browser if pref else True,
            "menu": _menu(request),
            "menu_collapsed": request.COOKIES.get("menu") == "collapsed",
            "search_query": request.GET.get("q", "")
            if request.resolver_match and request.resolver_match.url_name == "search"
            else "",
            "sync": sync_indicator_for(user),
        }
    }
