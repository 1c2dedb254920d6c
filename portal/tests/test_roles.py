"""Roles per subscription: who sees and changes what, granted to users or groups, changed at once, audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse

from portal.accounts import selectors as access
from portal.accounts.models import Role, RoleAssignment
from portal.accounts.services import role_grant
from portal.audit.models import AuditRecord
from portal.inventory.models import KeyVault
from portal.testing.factories import make_user, make_vault


def test_visibility_and_write_rights_follow_the_role(personas):
    p = personas
    vault = make_vault(p.sub)
    assert list(access.subscriptions_visible_to(p.reader)) == [p.sub]
    assert list(access.subscriptions_visible_to(p.outsider)) == [p.other]
    assert set(access.subscriptions_visible_to(p.superuser)) == {p.sub, p.other}
    assert access.get_for_user(KeyVault.objects.all(), p.reader, pk=vault.pk) == vault
    with pytest.raises(PermissionDenied):
        access.get_for_user(KeyVault.objects.all(), p.reader, pk=vault.pk, write=True)
    assert access.get_for_user(KeyVault.objects.all(), p.secadmin, pk=vault.pk, write=True) == vault
    with pytest.raises(PermissionDenied):
        access.get_for_user(KeyVault.objects.all(), p.secadmin, pk=vault.pk, grant=True)
    with pytest.raises(Http404):
        access.get_for_user(KeyVault.objects.all(), p.outsider, pk=vault.pk)
    with pytest.raises(Http404):
        access.get_for_user(KeyVault.objects.all(), p.reader, pk="not-a-number")


def test_a_role_granted_to_a_group_applies_to_its_members(personas):
    analyst = make_user("analyst")
    group = Group.objects.create(name="SOC")
    analyst.groups.add(group)
    assert not access.can_see(analyst, personas.sub.pk)
    role_grant(actor=personas.owner, subscription=personas.sub, role=Role.SECURITY_ADMIN, group=group)
    access.forget_roles(analyst)
    assert access.can_write(analyst, personas.sub.pk)
    # the strongest of a direct and a group role wins
    RoleAssignment.objects.create(subscription=personas.sub, user=analyst, role=Role.READER)
    access.forget_roles(analyst)
    assert access.role_on(analyst, personas.sub.pk) == Role.SECURITY_ADMIN


def test_only_owners_grant(personas):
    with pytest.raises(PermissionDenied):
        role_grant(actor=personas.secadmin, subscription=personas.sub, role=Role.OWNER, user=personas.reader)
    role_grant(
        actor=personas.owner, subscription=personas.sub, role=Role.SECURITY_READER, user=personas.reader
    )
    assert (
        RoleAssignment.objects.get(subscription=personas.sub, user=personas.reader).role
        == Role.SECURITY_READER
    )
    record = AuditRecord.objects.get(action="role.grant")
    assert record.actor == personas.owner and record.before == {"role": "reader"}
    assert record.after["role"] == "security_reader"


def test_owner_grants_and_revokes_on_the_access_page(client, personas):
    newcomer = make_user("newcomer")
    client.force_login(personas.owner)
    url = reverse("web:subscription_access", args=[personas.sub.pk])
    response = client.post(url, {"principal_type": "user", "username": "newcomer", "role": "security_admin"})
    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(user=newcomer)
    assert assignment.role == "security_admin" and assignment.granted_by == personas.owner
    # takes effect at once, for the newcomer's next request
    client.force_login(newcomer)
    assert client.get(reverse("web:subscription_access", args=[personas.sub.pk])).status_code == 200
    client.force_login(personas.owner)
    client.post(reverse("web:role_revoke", args=[personas.sub.pk, assignment.pk]))
    assert not RoleAssignment.objects.filter(user=newcomer).exists()
    client.force_login(newcomer)
    assert client.get(reverse("web:subscription_access", args=[personas.sub.pk])).status_code == 404
    assert list(AuditRecord.objects.values_list("action", flat=True).order_by("id")) == [
        "role.grant",
        "role.revoke",
    ]


def test_bad_grant_input_gets_a_clear_error(client, personas):
    client.force_login(personas.owner)
    url = reverse("web:subscription_access", args=[personas.sub.pk])
    response = client.post(url, {"principal_type": "user", "username": "nobody", "role": "owner"})
    assert response.status_code == 400
    assert "No active user is called" in response.content.decode()
    response = client.post(url, {"principal_type": "user", "username": "reader", "role": "god"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert RoleAssignment.objects.get(user=personas.reader).role == Role.READER  # unchanged


def test_non_owners_cannot_grant_or_revoke(client, personas):
    client.force_login(personas.secadmin)
    url = reverse("web:subscription_access", args=[personas.sub.pk])
    assert client.get(url).status_code == 200  # may see who has access
    assert (
        client.post(url, {"principal_type": "user", "username": "secadmin", "role": "owner"}).status_code
        == 403
    )
    assignment = RoleAssignment.objects.get(user=personas.reader)
    assert client.post(reverse("web:role_revoke", args=[personas.sub.pk, assignment.pk])).status_code == 403
    client.force_login(personas.outsider)
    assert client.post(reverse("web:role_revoke", args=[personas.sub.pk, assignment.pk])).status_code == 404
    assert RoleAssignment.objects.filter(pk=assignment.pk).exists()


def test_new_subscriptions_get_the_connections_default_role(personas):
    from portal.inventory.services import subscription_upsert

    group = Group.objects.create(name="SOC team")
    connection = personas.sub.connection
    connection.default_group = group
    connection.default_role = Role.SECURITY_READER
    connection.save()
    subscription, created = subscription_upsert(
        connection=connection,
        data={"subscription_id": "00000000-0000-0000-0000-00000000abcd", "display_name": "New"},
    )
    assert created
    assert RoleAssignment.objects.get(subscription=subscription, group=group).role == Role.SECURITY_READER
    # a connection without a default grants nothing
    connection.default_role = ""
    connection.save()
    subscription, _ = subscription_upsert(
        connection=connection,
        data={"subscription_id": "00000000-0000-0000-0000-00000000abce", "display_name": "N2"},
    )
    assert not RoleAssignment.objects.filter(subscription=subscription).exists()
