"""Sign-in with failed-login throttling (per account name and per client address)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator

from portal.audit.services import audit_record, client_ip


def _keys(request: HttpRequest, username: str) -> list[str]:
    ip = client_ip(request) or "unknown"
    name = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
    return [f"login-fail:user:{name}", f"login-fail:ip:{ip}"]


def is_throttled(request: HttpRequest, username: str) -> bool:
    limit = settings.LOGIN_FAILURE_LIMIT
    user_key, ip_key = _keys(request, username)
    # The per-address limit is looser: several people may share one address (NAT).
    return (cache.get(user_key, 0) >= limit) or (cache.get(ip_key, 0) >= limit * 4)


def record_failure(request: HttpRequest, username: str) -> None:
    for key in _keys(request, username):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def clear_failures(request: HttpRequest, username: str) -> None:
    cache.delete(_keys(request, username)[0])


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed sign-in attempts. Wait %(minutes)s minutes and try again.",
    }

    def clean(self) -> dict:
        username = self.cleaned_data.get("username") or ""
        if self.request is not None and is_throttled(self.request, username):
            raise self.get_throttled_error()
        try:
            return super().clean()
        except ValidationError:
            if self.request is not None:
                record_failure(self.request, username)
                audit_record(
                    actor=None,
                    action="auth.login_failed",
                    object_type="auth.user",
                    object_repr=username[:150],
                    request=self.request,
                )
            raise

    def get_throttled_error(self) -> ValidationError:
        return ValidationError(
            self.error_messages["throttled"],
            code="throttled",
            params={"minutes": max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)},
        )


@method_decorator(login_not_required, name="dispatch")
class LoginView(auth_views.LoginView):
    form_class = ThrottledAuthenticationForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from portal.accounts import oidc

        return {**super().get_context_data(**kwargs), "sso_enabled": oidc.enabled()}

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        clear_failures(self.request, form.get_user().get_username())
        response = super().form_valid(form)
        audit_record(actor=form.get_user(), action="auth.login", obj=form.get_user(), request=self.request)
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if any(e.code == "throttled" for e in form.non_field_errors().as_data()):
            response.status_code = 429
        return response
