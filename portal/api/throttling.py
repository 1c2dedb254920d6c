"""Rate limits per user, whatever the number of their tokens and sessions: 429 with Retry-After.

A budget per token gave a user with 20 tokens (and a browser session) 21 budgets. The portal has no service
accounts (a token always acts for a person), so every request of a person counts against that person's budget."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from portal.api.models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self) -> str:
        return settings.API_RATE_LIMIT  # read per request (not frozen at import), e.g. "600/min"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"user-{request.auth.user_id}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
