"""What every page's chrome needs: the menu, the theme, the time zone, the indicators the apps registered (the sync's
"synced N min ago")."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from portal.web import chrome as registry
from portal.web.formfields import cleaned
from portal.web.forms import SearchForm


def _menu(request: HttpRequest) -> list[dict[str, Any]]:
    path = request.path
    superuser = bool(getattr(request.user, "is_superuser", False))
    sections: list[dict[str, Any]] = []
    for title in registry.SECTIONS:
        entries: list[dict[str, Any]] = []
        for item in registry.menu_items(title, superuser=superuser):
            try:
                url = reverse(item.url_name)
            except NoReverseMatch:
                continue
            active = path == url or (url != "/" and path.startswith(url))
            entries.append({"label": item.label, "url": url, "icon": item.icon, "active": active})
        dynamic = registry.REGISTRY.menu_sections.get(title)
        if dynamic is not None:
            entries.extend(dynamic(request))
        if entries:
            sections.append({"title": title, "items": entries})
    # one current entry: the longest URL the path is under (/alerts/overview/ is Overview, not Security alerts too)
    current = [i for section in sections for i in section["items"] if i["active"]]
    best = max(current, key=lambda i: len(i["url"]), default=None)
    for entry in current:
        entry["active"] = entry is best
    return sections


def chrome(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"chrome": {"theme": request.COOKIES.get("theme", "auto"), "menu": []}}
    pref = getattr(request, "user_preference", None)
    return {
        "chrome": {
            "theme": pref.theme if pref else "auto",
            "timezone": pref.timezone if pref else "",
            "timezone_from_browser": pref.timezone_from_browser if pref else True,
            "shortcuts": pref.keyboard_shortcuts if pref else True,
            "chart_open": pref.alerts_chart_open if pref else False,
            "menu": _menu(request),
            "menu_collapsed": request.COOKIES.get("menu") == "collapsed",
            "search_query": cleaned(SearchForm(request.GET), "q", "")
            if request.resolver_match and request.resolver_match.url_name == "search"
            else "",
            **registry.indicators(user),
        }
    }
