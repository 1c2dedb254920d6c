from __future__ import annotations

import pytest
from django.urls import reverse

from portal.audit.models import AuditRecord
from portal.testing.factories import PASSWORD, make_user


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()


@pytest.mark.django_db
def test_sign_in_and_out(client):
    make_user("alice")
    response = client.post(reverse("login"), {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("web:preferences")).status_code == 200
    assert AuditRecord.objects.filter(action="auth.login").count() == 1
    client.post(reverse("logout"))
    assert client.get(reverse("web:preferences")).status_code == 302


@pytest.mark.django_db
def test_failed_sign_ins_are_throttled(client, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    make_user("bob")
    for _ in range(3):
        response = client.post(reverse("login"), {"username": "bob", "password": "wrong"})
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.content.decode()
    # now even the right password is refused, with a clear message and 429
    response = client.post(reverse("login"), {"username": "bob", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert AuditRecord.objects.filter(action="auth.login_failed").count() == 3
    # another account from another address is unaffected
    make_user("carol")
    other = client.__class__(REMOTE_ADDR="10.1.1.1")
    assert other.post(reverse("login"), {"username": "carol", "password": PASSWORD}).status_code == 302


@pytest.mark.django_db
def test_login_page_is_csrf_protected():
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    make_user("dave")
    response = client.post(reverse("login"), {"username": "dave", "password": PASSWORD})
    assert response.status_code == 403
