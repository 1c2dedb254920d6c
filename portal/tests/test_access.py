"""Every URL requires sign-in; another subscription's objects are 404; wrong methods are 405; errors are styled."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from portal.testing.factories import make_vault

PUBLIC = {"/accounts/login/", "/healthz", "/favicon.ico", "/accounts/sso/", "/accounts/sso/callback/"}


def _walk(patterns: list[Any], prefix: str = "") -> list[str]:
    urls = []
    for p in patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            urls.extend(_walk(p.url_patterns, route))
        elif isinstance(p, URLPattern):
            urls.append(route)
    return urls


def _concrete(route: str) -> str:
    route = route.lstrip("^").rstrip("$").replace("\\Z", "").replace("\\/", "/")
    route = re.sub(r"<int:[^>]+>", "1", route)
    route = re.sub(r"<uuid:[^>]+>", "00000000-0000-0000-0000-000000000001", route)
    route = re.sub(r"<path:[^>]+>", "x/y", route)
    route = re.sub(r"<(?:str:|slug:)?[^>]+>", "x", route)
    route = re.sub(r"\(\?P<[^>]+>[^)]*\)", "1", route)  # admin regex routes
    route = re.sub(r"[\^$?()+*\[\]\\|]", "", route)
    return "/" + route


def all_urls() -> list[str]:
    return sorted({_concrete(r) for r in _walk(get_resolver().url_patterns)})


def test_the_walk_covers_the_portal():
    urls = all_urls()
    assert "/keyvaults/" in urls and "/admin/" in urls and "/account/preferences/" in urls
    assert len(urls) > 20


@pytest.mark.django_db
@pytest.mark.parametrize("url", all_urls())
def test_anonymous_requests_are_sent_to_sign_in(client, url):
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        if url in PUBLIC:
            assert response.status_code in (200, 301, 302, 405)
            continue
        if url.startswith(("/api/v1/", "/api/schema/")):  # the API answers 401 itself, in its error shape
            assert response.status_code in (401, 405), (
                f"{method.upper()} {url} answered {response.status_code}"
            )
            if response.status_code == 401:
                assert response["WWW-Authenticate"].startswith("Bearer")
                assert response.json()["error"]["status"] == 401
            continue
        assert response.status_code == 302, (
            f"{method.upper()} {url} answered {response.status_code} to an anonymous user"
        )
        location = response["Location"]
        if location.startswith(
            "/admin/login/"
        ):  # the admin's own redirect, which lands on the portal sign-in
            location = client.get(location)["Location"]
        assert location.startswith(reverse("login")), location


@pytest.mark.django_db
def test_admin_sign_in_goes_through_the_throttled_form(client):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2F"


def test_a_signed_in_user_who_is_not_staff_is_told_the_admin_is_for_staff(client, personas):
    """/admin/ went to /admin/login/, to the sign-in page, which sent a signed-in user back to /admin/: a loop."""
    assert not personas.reader.is_staff
    client.force_login(personas.reader)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert len(response.redirect_chain) == 1  # /admin/ -> /admin/login/, and there it stops
    body = response.content.decode()
    assert "The administration is for staff" in body and 'href="/"' in body
    # staff go on to where they were going; an off-site next is not followed
    personas.reader.is_staff = True
    personas.reader.save(update_fields=["is_staff"])
    assert client.get("/admin/login/?next=/admin/alerts/").url == "/admin/alerts/"
    assert client.get("/admin/login/?next=https://evil.example/").url == "/admin/"


def test_outsider_gets_404_for_another_subscriptions_objects(client, personas):
    vault = make_vault(personas.sub)
    client.force_login(personas.outsider)
    assert client.get(reverse("inventory:vault_overview", args=[vault.pk])).status_code == 404
    assert client.get(reverse("web:subscription_access", args=[personas.sub.pk])).status_code == 404
    assert (
        client.post(reverse("web:subscription_access", args=[personas.sub.pk]), {"role": "owner"}).status_code
        == 404
    )
    # ...and does not see them in lists either
    assert vault.name not in client.get(reverse("inventory:vaults")).content.decode()
    assert "Contoso Production" not in client.get(reverse("web:subscriptions")).content.decode()


def test_reader_sees_their_subscription(client, personas):
    vault = make_vault(personas.sub, name="kv-readable")
    client.force_login(personas.reader)
    response = client.get(reverse("inventory:vault_overview", args=[vault.pk]))
    assert response.status_code == 200
    assert "kv-readable" in response.content.decode()


def test_wrong_method_is_405(client, personas):
    client.force_login(personas.owner)
    assert client.post(reverse("inventory:vaults")).status_code == 405
    assert client.get(reverse("web:timezone")).status_code == 405
    assert client.delete(reverse("web:subscriptions")).status_code == 405


def test_unknown_url_is_a_styled_404(client, personas):
    client.force_login(personas.owner)
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "This page doesn't exist" in body and "portal.css" in body


def test_server_error_page_shows_no_details(rf):
    from portal.web.errors import server_error

    response = server_error(rf.get("/"))
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body and "Traceback" not in body
