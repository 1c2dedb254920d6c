"""Sign-in and its throttle: device cookies, per (account, address) locks, per-account and per-address waits.

Time is a fake clock (`login.clock`); each test has its own cache key prefix (Redis) or cache directory (file
cache), so no test clears a cache that other xdist workers share.
"""

from __future__ import annotations

import itertools
import uuid

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from portal.accounts import login
from portal.audit.models import AuditRecord
from portal.testing.factories import PASSWORD, make_user

URL = "/accounts/login/"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def clock(monkeypatch, settings, tmp_path) -> FakeClock:
    if "FileBasedCache" in settings.CACHES["default"]["BACKEND"]:
        # its own directory, and no culling at 300 entries (spraying 100 user names makes 400 keys)
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path / "cache"),
                "OPTIONS": {"MAX_ENTRIES": 100_000},
            }
        }
    fake = FakeClock()
    monkeypatch.setattr(login, "clock", fake, raising=False)
    monkeypatch.setattr(login, "KEY_PREFIX", f"login-test-{uuid.uuid4().hex}", raising=False)
    settings.LOGIN_FAILURE_LIMIT = 5
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 10
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 100
    settings.LOGIN_BACKOFF_MAX_SECONDS = 300
    settings.LOGIN_DEVICE_COOKIE_AGE = 365 * 86400
    settings.TRUSTED_PROXY_HEADER = ""
    settings.TRUSTED_PROXY_COUNT = 1
    return fake


def browser(address: str = "127.0.0.1", **headers: str) -> Client:
    return Client(REMOTE_ADDR=address, **headers)


def sign_in(client: Client, username: str, password: str = PASSWORD, **extra):
    return client.post(URL, {"username": username, "password": password}, **extra)


def fail(client: Client, username: str, **extra) -> None:
    response = sign_in(client, username, "wrong-password", **extra)
    assert response.status_code == 200, response.status_code
    assert "Please enter a correct username and password" in response.content.decode()


def assert_refused(response, seconds: int | None = None) -> None:
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    if seconds is not None:
        assert response["Retry-After"] == str(seconds)


def signed_in_browser(username: str, address: str = "127.0.0.1") -> Client:
    """A browser in which `username` has signed in (so it holds their device cookie), signed out again."""
    client = browser(address)
    assert sign_in(client, username).status_code == 302
    assert login.DEVICE_COOKIE in client.cookies
    client.post(reverse("logout"))
    return client


def attack_account(username: str, failures: int) -> None:
    """`failures` failed sign-ins for `username`, at most 4 per address (under the per-(account, address) lock)."""
    for i in range(failures):
        fail(browser(f"203.0.113.{i // 4 + 1}"), username)


@pytest.mark.django_db
def test_sign_in_and_out_sets_a_device_cookie():
    make_user("alice")
    client = browser()
    response = sign_in(client, "alice", secure=True)
    assert response.status_code == 302
    assert client.get(reverse("web:preferences")).status_code == 200
    assert AuditRecord.objects.filter(action="auth.login").count() == 1
    cookie = response.cookies[login.DEVICE_COOKIE]
    assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Lax"
    assert cookie["path"] == URL and int(cookie["max-age"]) == 365 * 86400
    entries = signing.loads(cookie.value, salt=login.DEVICE_COOKIE_SALT)
    assert entries[0]["a"] == login.account_key("alice") and entries[0]["n"] and entries[0]["t"]
    client.post(reverse("logout"))
    assert client.get(reverse("web:preferences")).status_code == 302
    # not Secure over plain HTTP (development)
    assert not sign_in(browser(), "alice").cookies[login.DEVICE_COOKIE]["secure"]


@pytest.mark.django_db
def test_owner_with_device_cookie_signs_in_while_the_account_is_attacked(clock):
    make_user("alice")
    owner = signed_in_browser("alice", "10.0.0.1")
    # 5 failures from the owner's own address (a shared NAT) lock that pair; 5 more elsewhere make 10 ...
    for _ in range(5):
        fail(browser("10.0.0.1"), "alice")
    attack_account("alice", 5)
    # ... and the attacker keeps going, one guess per wait
    clock.advance(1)
    fail(browser("203.0.113.50"), "alice")
    clock.advance(2)
    fail(browser("203.0.113.51"), "alice")
    assert_refused(sign_in(browser("10.0.0.1"), "alice"), 897)  # the pair's lock (since its 5th failure)
    assert_refused(sign_in(browser("198.51.100.1"), "alice"), 4)  # the account's wait
    # the owner's browser, with alice's device cookie, is refused by none of it
    assert sign_in(owner, "alice").status_code == 302
    assert AuditRecord.objects.filter(action="auth.login_failed").count() == 12


@pytest.mark.django_db
def test_a_new_browser_waits_and_the_wait_doubles(clock):
    make_user("bob")
    attack_account("bob", 10)
    new = browser("198.51.100.7")
    response = sign_in(new, "bob")
    assert_refused(response, 1)
    assert "Try again in 1 s." in response.content.decode()
    expected = [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    for i, (wait, after) in enumerate(itertools.pairwise(expected)):
        clock.advance(wait - 0.5)
        assert_refused(sign_in(new, "bob"), 1)  # not yet (and a refused attempt counts as nothing)
        clock.advance(0.5)
        fail(browser(f"203.0.113.{100 + i}"), "bob")  # the attacker's one guess for this wait
        assert_refused(sign_in(browser(f"203.0.113.{200 + i}"), "bob"), after)
        response = sign_in(new, "bob")
        assert_refused(response, after)
        assert f"Try again in {after} s." in response.content.decode()
    # other accounts are not affected
    make_user("bobby")
    assert sign_in(browser("198.51.100.7"), "bobby").status_code == 302
    # after the wait the right password works, and the browser gets bob's device cookie
    clock.advance(300)
    response = sign_in(new, "bob")
    assert response.status_code == 302
    assert login.DEVICE_COOKIE in response.cookies
    assert AuditRecord.objects.filter(action="auth.login_failed").count() == 20


@pytest.mark.django_db
def test_parallel_attempts_get_no_more_guesses(clock):
    """Places are taken before the password is checked: attempts in progress count."""
    pair = [login.Attempt(_request("10.0.0.9"), "mallory") for _ in range(6)]
    assert [a.begin() for a in pair] == [0, 0, 0, 0, 0, 1]
    for attempt in pair[:5]:
        attempt.failed()
    assert login.Attempt(_request("10.0.0.9"), "mallory").begin() == 900
    # past the account's limit, one attempt per wait
    for i in range(10):
        attempt = login.Attempt(_request(f"10.1.0.{i}"), "oscar")
        assert attempt.begin() == 0
        attempt.failed()
    clock.advance(1)
    first, second = (login.Attempt(_request(f"10.2.0.{i}"), "oscar") for i in range(2))
    assert first.begin() == 0
    assert second.begin() == 1
    first.abandoned()  # (an error, not a failure) gives the place back
    assert login.Attempt(_request("10.2.0.3"), "oscar").begin() == 0


@pytest.mark.django_db
def test_an_address_spraying_usernames_is_refused_but_not_a_device_cookie_from_it():
    make_user("erin")
    erin = signed_in_browser("erin", "192.0.2.50")
    sprayer = browser("192.0.2.50")
    for i in range(100):
        fail(sprayer, f"user{i}")
    # without a device cookie, anyone at that address waits (even with the right password)
    assert_refused(sign_in(browser("192.0.2.50"), "erin"), 1)
    assert_refused(sign_in(sprayer, "user100"), 1)
    # with erin's device cookie, erin signs in from that address
    assert sign_in(erin, "erin").status_code == 302
    # another address is not affected
    make_user("frank")
    assert sign_in(browser("192.0.2.51"), "frank").status_code == 302


@pytest.mark.django_db
def test_five_failures_lock_the_account_and_address_pair_only(clock):
    make_user("frank")
    for _ in range(5):
        fail(browser("10.0.0.5"), "frank")
    response = sign_in(browser("10.0.0.5"), "frank")
    assert_refused(response, 900)
    assert "Try again in 15 minutes" in response.content.decode()
    # the same account from another address, and another account from that address, still sign in
    assert sign_in(browser("10.0.0.6"), "frank").status_code == 302
    make_user("grace")
    assert sign_in(browser("10.0.0.5"), "grace").status_code == 302
    # the lock ends after the window
    clock.advance(899)
    assert_refused(sign_in(browser("10.0.0.5"), "frank"), 1)
    clock.advance(1)
    assert sign_in(browser("10.0.0.5"), "frank").status_code == 302


@pytest.mark.django_db
def test_a_success_clears_the_pair_counter():
    make_user("heidi")
    for _ in range(4):
        fail(browser("10.0.0.7"), "heidi")
    assert sign_in(browser("10.0.0.7"), "heidi").status_code == 302
    for _ in range(4):
        fail(browser("10.0.0.7"), "heidi")
    assert sign_in(browser("10.0.0.7"), "heidi").status_code == 302


@pytest.mark.django_db
def test_a_device_cookie_holder_has_its_own_limit():
    make_user("ivan")
    owner = signed_in_browser("ivan", "10.0.0.8")
    for _ in range(5):
        fail(owner, "ivan")
    assert_refused(sign_in(owner, "ivan"), 900)
    # its failures lock that cookie, not the address or the account
    assert sign_in(browser("10.0.0.8"), "ivan").status_code == 302


@pytest.mark.django_db
def test_a_forged_or_foreign_device_cookie_gives_no_exemption(settings, clock):
    make_user("gina")
    make_user("hank")
    genuine = signed_in_browser("gina").cookies[login.DEVICE_COOKIE].value
    foreign = signed_in_browser("hank").cookies[login.DEVICE_COOKIE].value
    attack_account("gina", 10)
    forged = [
        genuine[:-3] + ("AAA" if not genuine.endswith("AAA") else "BBB"),  # wrong signature
        signing.dumps(signing.loads(genuine, salt=login.DEVICE_COOKIE_SALT), salt="another-salt"),
        signing.dumps(
            signing.loads(genuine, salt=login.DEVICE_COOKIE_SALT), salt=login.DEVICE_COOKIE_SALT, key="x" * 50
        ),
        signing.dumps([{"a": login.account_key("gina"), "n": "x", "t": clock()}], salt="x"),
        foreign,  # hank's genuine cookie
        "garbage",
    ]
    for value in forged:
        client = browser()
        client.cookies[login.DEVICE_COOKIE] = value
        assert_refused(sign_in(client, "gina"), 1)
    # the genuine cookie works, but not once it is older than LOGIN_DEVICE_COOKIE_AGE
    client = browser()
    client.cookies[login.DEVICE_COOKIE] = genuine
    assert sign_in(client, "gina").status_code == 302
    settings.LOGIN_DEVICE_COOKIE_AGE = 3600
    clock.advance(3601)
    attack_account("gina", 10)
    client = browser()
    client.cookies[login.DEVICE_COOKIE] = genuine
    assert_refused(sign_in(client, "gina"))


@pytest.mark.django_db
def test_the_proxy_header_is_ignored_unless_configured():
    make_user("judy")
    # unset: a client's X-Forwarded-For does not move it to another address
    for i in range(5):
        fail(browser("10.9.9.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{i}"), "judy")
    assert_refused(sign_in(browser("10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.99"), "judy"))
    # nor does it lock the address it names
    assert sign_in(browser("10.9.9.10", HTTP_X_FORWARDED_FOR="198.51.100.0"), "judy").status_code == 302


@pytest.mark.django_db
def test_the_configured_proxy_header_gives_the_address(settings):
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    make_user("karl")
    proxy = "10.0.0.254"
    # the proxy appends the client's address; what the client sent itself (left) is not trusted
    for i in range(5):
        fail(browser(proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.{i}, 198.51.100.20"), "karl")
    assert_refused(sign_in(browser(proxy, HTTP_X_FORWARDED_FOR="198.51.100.21, 198.51.100.20"), "karl"))
    assert_refused(sign_in(browser(proxy, HTTP_X_FORWARDED_FOR="198.51.100.20:4711"), "karl"))  # with a port
    # another client behind the same proxy is not locked
    assert (
        sign_in(browser(proxy, HTTP_X_FORWARDED_FOR="198.51.100.20, 198.51.100.21"), "karl").status_code
        == 302
    )
    # two proxies: the second address from the right
    settings.TRUSTED_PROXY_COUNT = 2
    assert_refused(sign_in(browser(proxy, HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.20, 10.0.0.253"), "karl"))
    # X-Real-IP
    settings.TRUSTED_PROXY_HEADER = "X-Real-IP"
    settings.TRUSTED_PROXY_COUNT = 1
    assert_refused(sign_in(browser(proxy, HTTP_X_REAL_IP="198.51.100.20"), "karl"))
    assert sign_in(browser(proxy, HTTP_X_REAL_IP="198.51.100.22"), "karl").status_code == 302
    # configured but the header is missing or not an address: REMOTE_ADDR
    assert login.client_address(_request(proxy)) == proxy
    assert login.client_address(_request(proxy, HTTP_X_REAL_IP="not-an-ip")) == proxy


def test_client_address_groups_ipv6_by_64():
    assert login.client_address(_request("2001:db8:1:2::7")) == "2001:db8:1:2::/64"
    assert login.client_address(_request("2001:db8:1:2:ffff::1")) == "2001:db8:1:2::/64"
    assert login.client_address(_request("::ffff:192.0.2.1")) == "192.0.2.1"
    assert login.client_address(_request("")) == "unknown"


def _request(address: str, **meta: str):
    from django.test import RequestFactory

    return RequestFactory().get(URL, REMOTE_ADDR=address, **meta)


@pytest.mark.django_db
def test_login_page_is_csrf_protected():
    client = Client(enforce_csrf_checks=True)
    make_user("dave")
    response = client.post(reverse("login"), {"username": "dave", "password": PASSWORD})
    assert response.status_code == 403
