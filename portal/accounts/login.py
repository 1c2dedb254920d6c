"""Sign-in with failed-login throttling and device cookies.

OWASP, "Slow Down Online Guessing Attacks with Device Cookies". A successful sign-in sets a signed, long-lived
cookie naming the account (`DEVICE_COOKIE`). What is counted where (in Django's cache; a counter is forgotten
after LOGIN_FAILURE_WINDOW_SECONDS without a failure):

* With a valid device cookie for the account tried: failures per (account, that cookie) only. LOGIN_FAILURE_LIMIT
  of them lock that cookie for the account for LOGIN_FAILURE_WINDOW_SECONDS. Nobody else's failures refuse it.
* Without one: failures per (account, client address), locked the same way after LOGIN_FAILURE_LIMIT; and
  - per account: from the LOGIN_ACCOUNT_FAILURE_LIMIT-th failure, attempts for the account without its device
    cookie wait 1 s, 2 s, 4 s, … (at most LOGIN_BACKOFF_MAX_SECONDS) after the last one, one attempt per wait;
  - per client address: the same from the LOGIN_ADDRESS_FAILURE_LIMIT-th failure (any accounts) from it.

A refused attempt is answered at once with HTTP 429 and Retry-After (no sleeping), checks no password and counts
as nothing. An attempt reserves its place in each counter before the password is checked, so parallel requests
cannot get more guesses than the limits allow (atomic with Redis; best effort with the file cache).

The client address is REMOTE_ADDR, or with TRUSTED_PROXY_HEADER set, the TRUSTED_PROXY_COUNT-th address from the
right of that header (the one the trusted proxy added). IPv6 addresses are counted per /64.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import math
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import AuthenticationForm
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.decorators import method_decorator

from portal.audit.services import audit_record

KEY_PREFIX = "login-throttle"
DEVICE_COOKIE = "portal_device"
DEVICE_COOKIE_SALT = "portal.accounts.login.device-cookie"
DEVICE_COOKIE_ENTRIES = 5  # accounts remembered per browser (a shared workstation)
SLOT_SECONDS = 60  # how long an admitted attempt holds its slot if it never finishes (a crash)

clock = time.time  # tests replace it


# --- who and where --------------------------------------------------------------------------------------------


def account_key(username: str) -> str:
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]


def _parse_ip(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    raw = raw.strip()
    candidates = [raw]
    if raw.startswith("[") and "]" in raw:  # [v6]:port
        candidates.append(raw[1 : raw.index("]")])
    elif raw.count(":") == 1:  # v4:port (Azure Application Gateway adds the port)
        candidates.append(raw.split(":")[0])
    for candidate in candidates:
        try:
            return ipaddress.ip_address(candidate)
        except ValueError:
            continue
    return None


def client_address(request: HttpRequest) -> str:
    """The address to count failures against: REMOTE_ADDR unless a trusted proxy header is configured."""
    ip = None
    header = settings.TRUSTED_PROXY_HEADER.strip()
    if header:
        values = request.META.get("HTTP_" + header.upper().replace("-", "_"), "").split(",")
        position = max(1, settings.TRUSTED_PROXY_COUNT)
        if len(values) >= position:
            ip = _parse_ip(values[-position])
    if ip is None:
        ip = _parse_ip(request.META.get("REMOTE_ADDR", ""))
    if ip is None:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


# --- device cookies -------------------------------------------------------------------------------------------


def _device_entries(request: HttpRequest) -> list[dict[str, Any]]:
    """The browser's valid device cookie entries ({"a": account key, "n": nonce, "t": issued}), newest first."""
    raw = request.COOKIES.get(DEVICE_COOKIE)
    if not raw:
        return []
    try:
        entries = signing.loads(raw, salt=DEVICE_COOKIE_SALT)
    except (signing.BadSignature, ValueError):
        return []
    if not isinstance(entries, list):
        return []
    now = clock()
    return [
        e
        for e in entries
        if isinstance(e, dict)
        and isinstance(e.get("a"), str)
        and isinstance(e.get("n"), str)
        and isinstance(e.get("t"), int | float)
        and 0 <= now - e["t"] < settings.LOGIN_DEVICE_COOKIE_AGE
    ]


def device_nonce(request: HttpRequest, account: str) -> str | None:
    """The nonce of the browser's device cookie for `account`, if it has a valid one."""
    return next((e["n"] for e in _device_entries(request) if e["a"] == account), None)


def issue_device_cookie(request: HttpRequest, response: HttpResponse, username: str) -> None:
    account = account_key(username)
    entry = {"a": account, "n": secrets.token_urlsafe(12), "t": int(clock())}
    others = [e for e in _device_entries(request) if e["a"] != account]
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps([entry, *others][:DEVICE_COOKIE_ENTRIES], salt=DEVICE_COOKIE_SALT, compress=True),
        max_age=settings.LOGIN_DEVICE_COOKIE_AGE,
        path=reverse("login"),
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


# --- counters -------------------------------------------------------------------------------------------------


@dataclass
class Counter:
    """Failures (and attempts in progress) under one key; forgotten LOGIN_FAILURE_WINDOW_SECONDS after the last.

    From `limit` on, an attempt waits: the whole window after the last failure (`backoff=False`, a lock), or
    1 s doubling per further failure up to LOGIN_BACKOFF_MAX_SECONDS (`backoff=True`), and then only one attempt
    is let through per wait.
    """

    name: str
    limit: int
    backoff: bool
    reserved: bool = False
    slot: str | None = None

    def _key(self, part: str) -> str:
        return f"{KEY_PREFIX}:{self.name}:{part}"

    @staticmethod
    def _ttl() -> int:
        return settings.LOGIN_FAILURE_WINDOW_SECONDS + settings.LOGIN_BACKOFF_MAX_SECONDS + SLOT_SECONDS

    def _state(self, now: float) -> tuple[int, float | None]:
        n_key, last_key = self._key("n"), self._key("last")
        got = cache.get_many([n_key, last_key])
        count, last = int(got.get(n_key, 0)), got.get(last_key)
        if last is not None and now - last >= settings.LOGIN_FAILURE_WINDOW_SECONDS:
            cache.delete_many([n_key, last_key])
            return 0, None
        return count, last

    def _delay(self, count: int) -> float:
        if not self.backoff:
            return settings.LOGIN_FAILURE_WINDOW_SECONDS
        doubled: int = 2 ** min(count - self.limit, 32)  # the exponent is never negative: count >= limit
        return min(settings.LOGIN_BACKOFF_MAX_SECONDS, doubled)

    def _wait(self, count: int, last: float | None, now: float) -> float:
        if count < self.limit:
            return 0
        if last is None:  # the attempts over the limit are still in progress
            return 1
        return max(0.0, last + self._delay(count) - now)

    def wait(self, now: float) -> float:
        """Seconds until an attempt may be made (0: now)."""
        return self._wait(*self._state(now), now)

    def reserve(self, now: float) -> float:
        """Take a place for an attempt; 0 if taken, else the seconds to wait."""
        count, last = self._state(now)
        wait = self._wait(count, last, now)
        if wait:
            return wait
        if count >= self.limit:  # past its wait: one attempt per wait
            self.slot = self._key(f"slot:{last}")
            if not cache.add(self.slot, 1, timeout=SLOT_SECONDS):
                self.slot = None
                return 1
        n_key = self._key("n")
        cache.add(n_key, 0, timeout=self._ttl())
        try:
            reached = cache.incr(n_key)
        except ValueError:  # expired between the two
            reached = 1
            cache.set(n_key, reached, timeout=self._ttl())
        cache.touch(n_key, self._ttl())
        self.reserved = True
        if self.slot is None and reached > self.limit:  # others crossed the limit meanwhile
            self.release()
            return 1
        return 0

    def release(self) -> None:
        """Give the place back (the attempt was refused elsewhere, or did not fail)."""
        if self.reserved:
            with contextlib.suppress(ValueError):  # gone meanwhile (expired or cleared)
                cache.decr(self._key("n"))
            self.reserved = False
        if self.slot is not None:
            cache.delete(self.slot)
            self.slot = None

    def failed(self, now: float) -> None:
        cache.set(self._key("last"), now, timeout=self._ttl())
        self.reserved = False

    def succeeded(self, now: float, *, clear: bool) -> None:
        if clear:
            cache.delete_many([self._key("n"), self._key("last")])
            self.reserved = False
            return
        slot_used = self.slot is not None
        self.slot = None
        self.release()
        if slot_used:  # the next attempt without a device cookie waits again from now
            cache.set(self._key("last"), now, timeout=self._ttl())


class Attempt:
    """One sign-in attempt: the counters it is checked against and counted in."""

    def __init__(self, request: HttpRequest, username: str) -> None:
        account = account_key(username)
        address = client_address(request)
        nonce = device_nonce(request, account)
        limit = settings.LOGIN_FAILURE_LIMIT
        if nonce is not None:
            self.pair = Counter(f"device:{account}:{nonce}", limit, backoff=False)
            self.shared: list[Counter] = []
        else:
            self.pair = Counter(f"pair:{account}:{address}", limit, backoff=False)
            self.shared = [
                Counter(f"account:{account}", settings.LOGIN_ACCOUNT_FAILURE_LIMIT, backoff=True),
                Counter(f"address:{address}", settings.LOGIN_ADDRESS_FAILURE_LIMIT, backoff=True),
            ]

    @property
    def counters(self) -> list[Counter]:
        return [self.pair, *self.shared]

    def begin(self) -> float:
        """0 if the attempt may go ahead (its places reserved), else the seconds to wait."""
        now = clock()
        wait = max(c.wait(now) for c in self.counters)
        if wait:
            return wait
        taken: list[Counter] = []
        for counter in self.counters:
            wait = counter.reserve(now)
            if wait:
                for other in taken:
                    other.release()
                return wait
            taken.append(counter)
        return 0

    def failed(self) -> None:
        now = clock()
        for counter in self.counters:
            counter.failed(now)

    def succeeded(self) -> None:
        now = clock()
        self.pair.succeeded(now, clear=True)
        for counter in self.shared:
            counter.succeeded(now, clear=False)

    def abandoned(self) -> None:
        for counter in self.counters:
            counter.release()


def _wait_text(seconds: int) -> str:
    return f"{seconds} s" if seconds < 600 else f"{math.ceil(seconds / 60)} minutes"


# --- the form and the view ------------------------------------------------------------------------------------


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed sign-in attempts. Try again in %(wait)s.",
    }
    retry_after: int | None = None

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        password = self.cleaned_data.get("password")
        if self.request is None or not username or not password:
            return super().clean()  # nothing is checked without both, so nothing is counted
        attempt = Attempt(self.request, username)
        wait = attempt.begin()
        if wait:
            self.retry_after = max(1, math.ceil(wait))
            raise self.get_throttled_error()
        try:
            cleaned = super().clean()
        except ValidationError:
            attempt.failed()
            audit_record(
                actor=None,
                action="auth.login_failed",
                object_type="auth.user",
                object_repr=username[:150],
                request=self.request,
            )
            raise
        except BaseException:
            attempt.abandoned()
            raise
        attempt.succeeded()
        return cleaned

    def get_throttled_error(self) -> ValidationError:
        return ValidationError(
            self.error_messages["throttled"],
            code="throttled",
            params={"wait": _wait_text(self.retry_after or settings.LOGIN_FAILURE_WINDOW_SECONDS)},
        )


if TYPE_CHECKING:  # LoginView is generic in its form in django-stubs only (not subscriptable at run time)
    _LoginViewBase = auth_views.LoginView[ThrottledAuthenticationForm]
else:
    _LoginViewBase = auth_views.LoginView


@method_decorator(login_not_required, name="dispatch")
class LoginView(_LoginViewBase):
    form_class = ThrottledAuthenticationForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from portal.accounts import oidc

        return {**super().get_context_data(**kwargs), "sso_enabled": oidc.enabled()}

    def form_valid(self, form: ThrottledAuthenticationForm) -> HttpResponse:
        user = form.get_user()
        response = super().form_valid(form)
        issue_device_cookie(self.request, response, user.get_username())
        audit_record(actor=user, action="auth.login", obj=user, request=self.request)
        return response

    def form_invalid(self, form: ThrottledAuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        if getattr(form, "retry_after", None) and any(
            e.code == "throttled" for e in form.non_field_errors().as_data()
        ):
            response.status_code = 429
            response["Retry-After"] = str(form.retry_after)
        return response
