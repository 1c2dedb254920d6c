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
            ("Incidents", "triage:incidents", "incidents"),
            ("Alert types", "alerts:types", "types"),
            ("Suppression rules", "suppression:rules", "rules"),
            ("Feedback", "feedback:insights", "feedback"),
            ("Metrics", "triage:metrics", "metrics"),
            ("Pricing & settings", "pricing:subscriptions", "pricing"),
            ("Email notifications", "notifications:email_settings", "mail"),
            ("Sync status", "inventory:sync_status", "sync"),
        ],
    ),
    ("Key Vault", [("Key vaults", "inventory:vaults", "vault")]),
    (
        "Settings",
        [
            ("Subscriptions & access", "web:subscriptions", "access"),
            ("Webhooks", "triage:webhooks", "webhooks"),
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
        if title == "Security Center":
            sections.append(_saved_views_section(request))
    if getattr(request.user, "is_superuser", False):
        sections[-1]["items"].append(_item(request, "Retention", "triage:retention", "retention"))
    return [s for s in sections if s and s["items"]]


def _item(request: HttpRequest, label: str, name: str, icon: str) -> dict[str, Any]:
    url = reverse(name)
    return {"label": label, "url": url, "icon": icon, "active": request.path.startswith(url)}


def _saved_views_section(request: HttpRequest) -> dict[str, Any]:
    """The user's saved views of Security alerts, and the ones shared with the team."""
    try:
        from triage.selectors import saved_views_menu
    except ImportError:  # pragma: no cover - the triage app is not installed
        return {}
    full = request.get_full_path()
    items = []
    for view in saved_views_menu(request.user):
        url = reverse("alerts:list") + (f"?{view['query']}" if view["query"] else "")
        label = view["name"] + (" (shared)" if view["shared"] and not view["mine"] else "")
        items.append({"label": label, "url": url, "icon": "view", "active": full == url})
    return {"title": "Saved views", "items": items}


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
