"""A generated walk over every page URL pattern that takes an object id (the API has its own matrix): for an object of
someone else's subscription the answer is 404 (its existence is not revealed), a reader's write is refused, and
role changes take effect on the next request. A new pattern with an id fails here until it is added."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from alerts.models import BulkStatusJob
from feedback.services import feedback_submit
from notifications.models import Notification, SecurityContact
from portal.accounts.models import Role, RoleAssignment
from portal.api.services import token_create
from portal.testing.factories import alert_item, grant, make_alerts, make_vault
from pricing.models import Pricing
from suppression.models import SuppressionRule
from triage import services as triage
from triage.models import Incident
from triage.webhooks import webhook_save

pytestmark = pytest.mark.django_db

# the kinds of portal.web.pending and the object each is read for
PENDING_KINDS = {
    "alert-status": "alert",
    "rule": "rule",
    "contact": "contact",
    "plan-row": "pricing",
    "vault-defender": "vault",
    "log-collection": "vault",
    "storage-listing": "vault",
}
PENDING_WRITERS_ONLY = {
    "storage-listing"
}  # the storage accounts to pick from: Collect access logs is a writer's

# url name -> (object key, reader's POST allowed?, reader's GET allowed?)
ROUTES: dict[str, tuple[str, bool, bool]] = {
    "web:subscription_access": ("sub", False, True),
    "web:role_revoke": ("sub+assignment", False, False),
    "inventory:vault_overview": ("vault", False, True),
    "pricing_vault:security": ("vault", False, True),
    "pricing_vault:upgrade": ("vault", False, False),
    "accesslogs:collect": ("vault", False, False),  # a reader: 403 (the Security page shows them the state)
    "accesslogs:stop": ("vault", False, False),
    "accesslogs:evidence_json": ("alert", False, False),  # a Defender alert has none: 404
    "sync:sync_now": ("sub", False, False),
    "api:token_revoke_page": ("token", False, False),  # someone else's token: 404
    "triage:assign": ("alert", False, False),
    "triage:comment_add": ("alert", False, False),
    "triage:comment_edit": ("comment", False, False),  # the author's only
    "triage:view_delete": ("view", False, False),  # a private view of someone else: 404
    "triage:incident": ("incident", False, True),
    "triage:alert_incident": ("alert", False, False),  # a redirect to the incident (tested in triage)
    "web:pending": ("pending", False, True),  # every kind of pending state (PENDING_KINDS)
    "triage:incident_status": ("incident", False, False),
    "triage:incident_assign": ("incident", False, False),
    "triage:webhook": ("webhook", False, True),
    "triage:webhook_test": ("webhook", False, False),
    "triage:webhook_delete": ("webhook", False, False),
    "alerts:bulk_job": ("job", False, False),  # its creator's only
    "suppression:rule_edit": ("rule", False, True),
    "suppression:rule_state": ("rule", False, False),
    "suppression:rule_delete": ("rule", False, False),
    "suppression:rule_apply": ("rule", False, False),
    "notifications:email_settings_edit": ("sub", False, True),
    "notifications:delivery": ("delivery", False, True),
    "notifications:delivery_retry": ("delivery", False, False),
    "alerts:detail": ("alert", False, True),
    "alerts:status": ("alert", False, False),
    "alerts:pane": ("alert", False, False),  # without htmx, a redirect to the list with the pane open
    "pricing:plans": ("sub", False, True),
    "feedback:reply": ("feedback", False, False),
    "feedback:panel": ("alert", True, True),  # readers answer "Was this useful?"
}


def _patterns(patterns: list[Any], ns: str = "") -> list[tuple[str, str]]:
    found = []
    for p in patterns:
        if isinstance(p, URLResolver):
            if str(p.pattern).startswith(("admin/", "api/")):
                continue  # the admin has its own scoping tests; the API its own matrix
            found += _patterns(p.url_patterns, f"{ns}:{p.namespace}".strip(":") if p.namespace else ns)
        elif isinstance(p, URLPattern) and "<" in str(p.pattern):
            found.append((f"{ns}:{p.name}", str(p.pattern)))
    return found


@pytest.fixture
def objects(personas: Any) -> dict[str, Any]:
    p = personas
    vault = make_vault(p.sub)
    alerts = make_alerts(p.sub, [alert_item(p.sub, vault=vault, n=i, correlation="c-1") for i in (1, 2)])
    triage.incidents_attach(alert_ids=[a.pk for a in alerts], subscription_pk=p.sub.pk)
    comment = triage.comment_add(user=p.secadmin, alert=alerts[0], body="mine")
    view = triage.saved_view_save(user=p.secadmin, name="private", query="", shared=False)
    hook, _ = webhook_save(
        user=p.secadmin, subscription=p.sub, name="h", url="https://h.example.com", events=["alert.created"]
    )
    rule = SuppressionRule.objects.create(
        subscription=p.sub, name="r1", alert_type="*", reason="Other", comment="x", local_only=True
    )
    job = BulkStatusJob.objects.create(
        user=p.secadmin, query="", status="Active", total=0, created_at=timezone.now()
    )
    delivery = Notification.objects.create(
        alert=alerts[0],
        subscription=p.sub,
        recipient="a@contoso.com",
        kind="alert",
        severity="Medium",
        state=Notification.State.FAILED,
        message_id="<x@kv>",
        created_at=timezone.now(),
    )
    feedback = feedback_submit(
        user=p.reader, alert=alerts[0], useful=False, reason="NotRelevant", may_contact=True
    )
    token, _ = token_create(user=p.secadmin, name="t")
    return {
        "sub": {"pk": p.sub.pk},
        "sub+assignment": {
            "pk": p.sub.pk,
            "assignment_pk": RoleAssignment.objects.get(subscription=p.sub, user=p.reader).pk,
        },
        "vault": {"pk": vault.pk},
        "alert": {"pk": alerts[0].pk},
        "comment": {"pk": comment.pk},
        "view": {"pk": view.pk},
        "incident": {"pk": Incident.objects.get().pk},
        "webhook": {"pk": hook.pk},
        "job": {"pk": job.pk},
        "rule": {"pk": rule.pk},
        "delivery": {"pk": delivery.pk},
        "feedback": {"pk": feedback.pk},
        "token": {"pk": token.pk},
        "contact": {"pk": SecurityContact.objects.create(subscription=p.sub, emails="soc@contoso.com").pk},
        "pricing": {"pk": Pricing.objects.create(subscription=p.sub, name="KeyVaults", tier="Free").pk},
    }


def test_every_id_route_is_covered():
    routes = dict(_patterns(get_resolver().url_patterns))
    missing = sorted(set(routes) - set(ROUTES))
    assert not missing, f"add these URL patterns to ROUTES: {missing}"


def test_outsiders_get_404_and_readers_cannot_write(
    client, personas, objects, django_capture_on_commit_callbacks
):
    p = personas
    problems = []
    with django_capture_on_commit_callbacks(execute=False):
        targets = []
        for name, (key, reader_post, reader_get) in ROUTES.items():
            if name == "web:pending":
                targets += [
                    (
                        name,
                        {"kind": kind, "pk": objects[obj]["pk"]},
                        reader_post,
                        reader_get and kind not in PENDING_WRITERS_ONLY,
                    )
                    for kind, obj in PENDING_KINDS.items()
                ]
                continue
            kwargs = dict(objects[key])
            if name == "feedback:panel":
                kwargs = {"alert_pk": kwargs["pk"]}
            targets.append((name, kwargs, reader_post, reader_get))
        for name, kwargs, reader_post, reader_get in targets:
            url = reverse(name, kwargs=kwargs)
            client.force_login(p.outsider)
            for method in ("get", "post"):
                status = getattr(client, method)(url).status_code
                if status not in (404, 405):
                    problems.append(f"outsider {method.upper()} {url}: {status}")
            client.force_login(p.reader)
            status = client.post(url).status_code
            if not reader_post and status not in (403, 404, 405):
                problems.append(f"reader POST {url}: {status} (a write must be refused)")
            status = client.get(url).status_code
            if reader_get and status != 200:
                problems.append(f"reader GET {url}: {status}")
    assert not problems, "\n".join(problems)


def test_role_changes_take_effect_on_the_next_request(client, personas, objects):
    p = personas
    url = reverse("alerts:status", args=[objects["alert"]["pk"]])
    client.force_login(p.reader)
    assert client.post(url, {"status": "InProgress"}).status_code == 403
    RoleAssignment.objects.filter(subscription=p.sub, user=p.reader).update(role=Role.SECURITY_ADMIN)
    assert client.post(url, {"status": "InProgress"}).status_code == 302  # promoted: allowed at once
    RoleAssignment.objects.filter(subscription=p.sub, user=p.reader).delete()
    assert client.get(reverse("alerts:detail", args=[objects["alert"]["pk"]])).status_code == 404  # revoked
    grant(p.reader, p.sub, Role.READER)
    assert client.get(reverse("alerts:detail", args=[objects["alert"]["pk"]])).status_code == 200
