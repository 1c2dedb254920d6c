"""Show times in each user's own time zone (stored in their preferences, first taken from the browser)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class UserTimezoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tzname = ""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            from portal.accounts.models import UserPreference

            pref = (
                UserPreference.objects.filter(user=user)
                .only("timezone", "theme", "timezone_from_browser", "keyboard_shortcuts", "alerts_chart_open")
                .first()
            )
            request.user_preference = pref  # type: ignore[attr-defined]  # added here for the chrome; HttpRequest does not declare it
            tzname = pref.timezone if pref else ""
        if tzname:
            try:
                timezone.activate(zoneinfo.ZoneInfo(tzname))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)
