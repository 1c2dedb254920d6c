"""The admin is no side door: scoped rows, role checks, writes through services, secrets never shown."""

from __future__ import annotations

from django.urls import reverse

from portal.accounts.models import RoleAssignment
from portal.audit.models import AuditRecord
from portal.inventory.models import AzureConnection
from portal.inventory.services import connection_save, connection_secret
from portal.testing.factories import make_user, make_vault


def test_admin_lists_only_the_users_subscriptions(client, personas):
    mine = make_vault(personas.sub, name="kv-mine")
    theirs = make_vault(personas.other, name="kv-theirs")
    client.force_login(personas.secadmin)
    body = client.get(reverse("admin:inventory_keyvault_changelist")).content.decode()
    assert "kv-mine" in body and "kv-theirs" not in body
    assert client.get(reverse("admin:inventory_keyvault_change", args=[theirs.pk])).status_code in (302, 404)
    assert client.get(reverse("admin:inventory_keyvault_change", args=[mine.pk])).status_code == 200


def test_only_owners_grant_roles_in_the_admin_and_it_is_audited(client, personas):
    newcomer = make_user("newcomer")
    client.force_login(personas.secadmin)  # staff, but not an Owner
    add_url = reverse("admin:accounts_roleassignment_add")
    assert client.get(add_url).status_code == 403
    client.force_login(personas.owner)
    response = client.post(
        add_url, {"subscription": personas.sub.pk, "user": newcomer.pk, "role": "security_reader"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert RoleAssignment.objects.get(user=newcomer).role == "security_reader"
    assert AuditRecord.objects.filter(action="role.grant", actor=personas.owner).exists()
    # an Owner of one subscription cannot grant on another through the admin's form
    response = client.post(add_url, {"subscription": personas.other.pk, "user": newcomer.pk, "role": "owner"})
    assert response.status_code == 200  # form error: not a valid choice
    assert not RoleAssignment.objects.filter(user=newcomer, subscription=personas.other).exists()


def test_connection_secrets_are_encrypted_and_never_rendered(client, personas):
    conn = connection_save(
        actor=personas.superuser,
        data={"name": "Prod tenant", "tenant_id": "t", "client_id": "c"},
        secret="s3cr3t-value-123",
    )
    conn.refresh_from_db()
    assert "s3cr3t-value-123" not in conn.secret_encrypted
    assert connection_secret(conn) == "s3cr3t-value-123"
    client.force_login(personas.superuser)
    for url in (
        reverse("admin:inventory_azureconnection_change", args=[conn.pk]),
        reverse("admin:inventory_azureconnection_changelist"),
    ):
        body = client.get(url).content.decode()
        assert "s3cr3t-value-123" not in body and conn.secret_encrypted not in body
    assert "s3cr3t" not in str(list(AuditRecord.objects.values("before", "after")))
    # non-superusers never see connections
    client.force_login(personas.owner)
    assert client.get(reverse("admin:inventory_azureconnection_changelist")).status_code == 403


def test_connection_secret_from_environment(monkeypatch, personas):
    conn = AzureConnection.objects.create(
        name="env", tenant_id="t", client_id="c", secret_env_var="KV_TEST_SECRET"
    )
    monkeypatch.setenv("KV_TEST_SECRET", "from-env")
    assert connection_secret(conn) == "from-env"


def test_audit_log_is_read_only_and_scoped(client, personas):
    from portal.audit.services import audit_record

    audit_record(actor=personas.owner, action="test.mine", obj=personas.sub)
    audit_record(actor=personas.outsider, action="test.theirs", obj=personas.other)
    client.force_login(personas.owner)
    body = client.get(reverse("admin:audit_auditrecord_changelist")).content.decode()
    assert "test.mine" in body and "test.theirs" not in body
    record = AuditRecord.objects.get(action="test.mine")
    assert (
        client.post(reverse("admin:audit_auditrecord_delete", args=[record.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert AuditRecord.objects.filter(pk=record.pk).exists()
