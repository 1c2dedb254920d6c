"""Make the database that `test_from_d4054a3` migrates: created and filled by the code of commit d4054a3.

    .venv/bin/python tests/migrations_check/make_dump.py [--pg postgres://postgres@127.0.0.1:5432] [--keep]

1. A git worktree of d4054a3 in a temporary directory, run with this project's .venv python (d4054a3 needs nothing
   that the current requirements lack).
2. A fresh PostgreSQL database, migrated by d4054a3's `manage.py migrate` (DEBUG=1, its own var dir).
3. Filled by d4054a3's own code (`--seed`, in the worktree): what `dev.py run` does, without starting the emulator
   server: the emulator's demo data (its `Runtime`, in-process) is served to the portal's ARM reads, then
   `load_connections`, `sync_azure`, `demo_users`; then explicit rows through d4054a3's services: a local
   suppression rule applied to open alerts (Alert.suppressed_by) and alerts it suppresses on arrival, incidents
   (Alert.incident) with a status and an assignee, security contacts, notification preferences, a second sync whose
   new alerts are notified (batches, deliveries, a retried failure) and posted to a webhook, feedback with its
   history and a reply, comments, assignments, a resolved alert, saved views, an API token, a failed and a running
   sync run, a held sync lease, audit records naming the models that move (alerts.suppressionrule,
   alerts.securitycontact, alerts.notification*, inventory.syncrun, inventory.synclease), users and groups granted
   model permissions on them, and admin LogEntry rows pointing at their content types.
4. `pg_dump --no-owner --no-privileges` into d4054a3.sql.gz.
5. d4054a3_expected.json: per table its model, row count and a hash of every column; the content types, the
   permission grants, the admin log, suppressed alerts, incidents with their alerts, audit object types.

The database and the worktree are removed at the end (unless --keep). The helpers at the top (`fingerprint`,
`table_columns`, ...) are shared with the test, so both sides hash a table the same way.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

COMMIT = "d4054a3"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DUMP = HERE / f"{COMMIT}.sql.gz"
EXPECTED = HERE / f"{COMMIT}_expected.json"
ARM_BASE = (
    "https://emulator.invalid"  # the connections' endpoint: never contacted, the reads are served in-process
)

# Both sides read values as text under the same session settings.
SESSION_SETTINGS = [
    "SET TimeZone = 'UTC'",
    "SET DateStyle = 'ISO, YMD'",
    "SET IntervalStyle = 'postgres'",
    "SET extra_float_digits = 1",
]


# --- shared with the test: how a table is read --------------------------------------------------------------


def session(conn: Any) -> Any:
    for statement in SESSION_SETTINGS:
        conn.execute(statement)
    return conn


def public_tables(conn: Any) -> list[str]:
    rows = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    ).fetchall()
    return [r[0] for r in rows]


def table_columns(conn: Any, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def primary_key(conn: Any, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY a.attnum",
        [f'public."{table}"'],
    ).fetchall()
    return [r[0] for r in rows]


def fingerprint(
    conn: Any, table: str, columns: list[str], pk: list[str], *, max_pk: int | None = None
) -> tuple[int, dict[str, str]]:
    """(row count, {column: md5 of its values in primary key order}); with max_pk, only the rows up to it."""
    from psycopg import sql

    order = sql.SQL(", ").join(sql.Identifier(c) for c in pk)
    parts = [sql.SQL("count(*)")]
    for column in columns:
        parts.append(
            sql.SQL(
                "md5(coalesce(string_agg(coalesce({}::text, '<NULL>'), E'\\x1e' ORDER BY {}), ''))"
            ).format(sql.Identifier(column), order)
        )
    query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(parts), sql.Identifier(table))
    params: list[Any] = []
    if max_pk is not None:
        query = query + sql.SQL(" WHERE {} <= %s").format(sql.Identifier(pk[0]))
        params.append(max_pk)
    row = conn.execute(query, params).fetchone()
    return row[0], dict(zip(columns, row[1:], strict=True))


def object_exists(conn: Any, table: str, pk: str) -> bool:
    from psycopg import sql

    (column,) = primary_key(conn, table)
    query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {} WHERE {}::text = %s)").format(
        sql.Identifier(table), sql.Identifier(column)
    )
    return bool(conn.execute(query, [pk]).fetchone()[0])


# --- the seed: runs inside the d4054a3 worktree --------------------------------------------------------------


def _fake_arm(rt: Any) -> None:
    """Serve the portal's ARM reads from the emulator's in-process runtime (its route handlers, no server)."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    import orjson

    from emulator.identity import Principal
    from emulator.routing import Ctx, resolve
    from emulator.web import Request
    from portal.arm import operations

    calls = {"n": 0}

    class Session:
        def __init__(self, config: Any) -> None:
            self.config = config

    def raw_get(session: Session, url: str) -> Any:
        calls["n"] += 1
        parts = urlsplit(url)
        path = unquote(parts.path).rstrip("/")
        query: dict[str, str] = {}
        for key, value in parse_qsl(parts.query, keep_blank_values=True):
            query.setdefault(key.lower(), value)
        req = Request(
            method="GET",
            path=path,
            raw_path=parts.path,
            query_string=parts.query,
            query=query,
            headers={},
            body=b"",
            base_url=f"{parts.scheme}://{parts.netloc}",
        )
        route, match, _ = resolve("GET", path)
        if route is None or match is None:
            raise RuntimeError(f"the emulator has no route for GET {path}")
        ctx = Ctx(rt, req)
        ctx.principal = Principal(
            tenant_id=session.config.tenant_id,
            client_id=session.config.client_id,
            object_id="00000000-0000-0000-0000-000000000000",
            audience=ARM_BASE,
            expires=0,
        )
        if route.scope == "subscription":
            ctx.sub = rt.state.subscription(match["sub"])
        response = route.handler(ctx, match)
        if response.status != 200:
            raise RuntimeError(f"GET {url}: {response.status} {response.body[:300]!r}")
        return orjson.loads(response.body)

    operations.call = lambda config, fn: fn(Session(config))
    operations._raw_get = raw_get
    operations.arm_calls = lambda config: calls["n"]


def seed(var_dir: Path, models_out: Path) -> None:
    worktree = Path.cwd()
    sys.path.insert(0, str(worktree))
    import django

    django.setup()
    import portal

    assert Path(portal.__file__).resolve().is_relative_to(worktree), portal.__file__

    from datetime import timedelta

    from alerts.contact_services import contact_save, notification_retry, preference_save
    from alerts.suppression_services import rule_apply_to_active, rule_save
    from django.apps import apps
    from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
    from django.contrib.auth.models import Group, Permission, User
    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db.models import Count
    from django.utils import timezone
    from portal.inventory.sync import lease_acquire

    from alerts.models import (
        Alert,
        BulkStatusJob,
        Notification,
        NotificationBatch,
        NotificationPreference,
        SecurityContact,
        Status,
        SuppressionRule,
    )
    from alerts.services import alert_set_status
    from alerts.tasks import notify_new_alerts
    from emulator import actions
    from emulator.server import Runtime
    from feedback.services import feedback_reply, feedback_submit
    from portal.accounts.models import Role, UserPreference
    from portal.accounts.services import role_grant
    from portal.api.services import token_create
    from portal.audit.services import audit_record
    from portal.inventory.models import Subscription, SyncLease, SyncRun
    from triage.models import Incident
    from triage.services import (
        alert_assign,
        comment_add,
        incident_assign,
        incident_set_status,
        saved_view_save,
    )
    from triage.webhooks import webhook_save

    rt = Runtime(preset="demo", seed=7, page_size=100, throttle=False, alerts=None, control_token="unused")
    _fake_arm(rt)

    # What dev.py run does after migrate, with the emulator served in-process.
    connections = var_dir / "connections.json"
    connections.write_text(json.dumps(rt.connections()))
    call_command("load_connections", str(connections))
    call_command("sync_azure")
    call_command("demo_users", "--quiet")

    now = timezone.now()
    subs = list(Subscription.objects.order_by("subscription_id"))
    sub0, sub1, sub2 = subs[0], subs[1], subs[2]
    admin = User.objects.get(username="admin")
    owner = User.objects.get(username="owner")
    secadmin = User.objects.get(username="secadmin")
    analyst = User.objects.get(username="analyst")
    reader = User.objects.get(username="reader")
    soc = Group.objects.get(name="SOC analysts")

    # Users and groups granted model permissions, many of them on models that move to other apps.
    def perms(*names: str) -> list[Permission]:
        found = []
        for name in names:
            app_label, codename = name.split(".")
            found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
        return found

    ruth = User.objects.create_user("ruth", "ruth.rules@contoso.example", "kv-demo-password", is_staff=True)
    editors = Group.objects.create(name="Rule editors")
    editors.permissions.add(
        *perms(
            "alerts.change_suppressionrule",
            "alerts.view_suppressionrule",
            "alerts.view_securitycontact",
            "alerts.view_notification",
            "inventory.view_syncrun",
            "inventory.change_synclease",
            "triage.view_incident",
            "alerts.view_alert",
        )
    )
    soc.permissions.add(
        *perms(
            "alerts.view_suppressionrule",
            "alerts.view_securitycontact",
            "inventory.view_syncrun",
            "feedback.view_feedback",
            "triage.view_alertcomment",
        )
    )
    ruth.groups.add(editors)
    role_grant(actor=owner, subscription=sub0, role=Role.SECURITY_READER, group=soc)
    role_grant(actor=owner, subscription=sub1, role=Role.SECURITY_ADMIN, group=editors)
    secadmin.groups.add(editors)
    ruth.user_permissions.add(
        *perms(
            "alerts.change_suppressionrule",
            "alerts.delete_suppressionrule",
            "alerts.change_notificationpreference",
            "alerts.view_notificationbatch",
            "inventory.view_syncrun",
            "inventory.view_synclease",
        )
    )
    owner.user_permissions.add(*perms("alerts.add_suppressionrule", "alerts.change_securitycontact"))
    UserPreference.objects.create(
        user=analyst, timezone="Europe/Paris", timezone_from_browser=False, theme="dark"
    )

    # A local suppression rule for an alert type with open alerts, applied to them (Alert.suppressed_by).
    open_types = (
        Alert.objects.filter(
            subscription=sub0, status__in=[Status.ACTIVE, Status.IN_PROGRESS], suppressed_by__isnull=True
        )
        .values("alert_type")
        .annotate(n=Count("id"))
        .filter(n__gte=2, n__lte=12)
        .order_by("-n", "alert_type")
    )
    rule_type = open_types[0]["alert_type"]
    local_rule = rule_save(
        user=owner,
        subscription=sub0,
        data={
            "name": "mig-local-noise",
            "alert_type": rule_type,
            "reason": "Noise",
            "comment": "Known scanner, until the vault is retired",
            "conditions": [],
            "local_only": True,
        },
    )
    applied = rule_apply_to_active(user=owner, rule=local_rule)
    assert applied >= 2, applied
    rule_save(
        user=owner,
        subscription=sub0,
        rule=local_rule,
        data={
            "name": "mig-local-noise",
            "alert_type": rule_type,
            "reason": "Noise",
            "comment": "Known scanner, until the vault is retired (edited)",
            "conditions": [],
            "local_only": True,
        },
    )
    rule_save(
        user=secadmin,
        subscription=sub1,
        data={
            "name": "mig-disabled",
            "alert_type": "*",
            "reason": "Other",
            "comment": "Paused",
            "state": "Disabled",
            "conditions": [{"field": "entities.ip.address", "in": ["203.0.113.9"]}],
            "local_only": True,
        },
    )

    # Incidents (Alert.incident): one gets a status and an assignee.
    incident = Incident.objects.filter(subscription=sub0).order_by("-alert_count", "id").first()
    assert incident is not None
    incident_set_status(user=owner, incident=incident, status=Status.IN_PROGRESS)
    incident_assign(user=owner, incident=incident, assignee=analyst)

    # Security contacts, notification preferences, a webhook: before the second sync, so its alerts use them.
    contact_save(
        user=owner,
        subscription=sub0,
        data={
            "emails": "secops@contoso.com;kv-owners@contoso.com;soc-lead@contoso.com",
            "notify_by_role": True,
            "roles": ["Owner"],
            "minimal_severity": "Low",
            "alert_notifications": True,
            "portal_notifications": True,
        },
    )
    preference_save(user=owner, mode=NotificationPreference.Mode.IMMEDIATE, minimal_severity="Low")
    preference_save(user=analyst, mode=NotificationPreference.Mode.HOURLY, minimal_severity="Medium")
    preference_save(user=reader, mode=NotificationPreference.Mode.OFF, minimal_severity="High")
    webhook_save(
        user=owner,
        subscription=sub0,
        name="SOAR",
        url="http://127.0.0.1:9/kv-hook",
        events=["alert.created", "alert.status_changed"],
    )

    # A second sync with new alerts (not backlog): an incident of its own, two suppressed on arrival by the local
    # rule, notification batches, deliveries, webhook deliveries.
    actions.create_alerts(
        rt.state,
        {
            "subscription_id": sub0.subscription_id,
            "count": 4,
            "severity": "High",
            "overrides": {"correlationKey": "mig-check-incident-new"},
        },
    )
    actions.create_alerts(
        rt.state, {"subscription_id": sub0.subscription_id, "count": 2, "alert_type": rule_type}
    )
    actions.create_alerts(
        rt.state, {"subscription_id": sub1.subscription_id, "count": 3, "severity": "Medium"}
    )
    call_command("sync_azure")
    batches = list(NotificationBatch.objects.order_by("id"))
    assert batches, "the second sync queued no notification batch"
    notify_new_alerts.apply(kwargs={"batch_pk": batches[0].pk})  # planned and sent; the others stay queued
    failed = Notification.objects.filter(kind="alert").order_by("id").first()
    if failed is not None:
        Notification.objects.filter(pk=failed.pk).update(
            state=Notification.State.FAILED, error="SMTP 451 try later", attempts=3
        )
        failed.refresh_from_db()
        notification_retry(user=owner, notification=failed)

    # Feedback with its history and a reply, comments, assignments, a resolved alert.
    alerts0 = list(Alert.objects.filter(subscription=sub0, suppressed_by__isnull=True).order_by("id")[:8])
    feedback_submit(user=analyst, alert=alerts0[0], useful=False, reason="Noise", text="Seen every night")
    feedback_submit(user=analyst, alert=alerts0[0], useful=False, reason="FalsePositive", text="CI job")
    mine = feedback_submit(
        user=owner, alert=alerts0[1], useful=True, reason="TruePositive", text="Caught it", may_contact=True
    )
    feedback_reply(user=admin, feedback=mine, body="Thanks, we opened a ticket.")
    feedback_submit(user=secadmin, alert=alerts0[2], useful=True, reason="GoodContext")
    members = list(Alert.objects.filter(incident=incident).order_by("id"))
    comment_add(user=owner, alert=members[0], body="Looking at the caller IP now.")
    comment_add(user=secadmin, alert=members[0], body="Same IP as last week's incident.")
    comment_add(user=owner, alert=alerts0[3], body="Vault owner informed.")
    alert_assign(user=owner, alert=alerts0[4], assignee=analyst)
    alert_assign(user=owner, alert=alerts0[5], group=soc)
    alert_set_status(
        user=owner,
        alert=alerts0[6],
        status=Status.RESOLVED,
        classification="TruePositive",
        comment="Key rotated",
    )
    saved_view_save(user=analyst, name="High on prod", query="severity=High", shared=False)
    saved_view_save(user=owner, name="Team queue", query="status=Active&assignee=none", shared=True)
    token_create(user=analyst, name="SOAR script")
    BulkStatusJob.objects.create(
        user=owner,
        query="severity=Low",
        status=Status.DISMISSED,
        classification="BenignPositive",
        total=3,
        done=3,
        state=BulkStatusJob.State.DONE,
        created_at=now,
        started_at=now,
        finished_at=now,
    )

    # Sync runs that did not succeed, and a lease held by a worker.
    SyncRun.objects.create(
        subscription=sub1,
        status=SyncRun.Status.FAILED,
        trigger="schedule",
        started_at=now - timedelta(hours=2),
        finished_at=now - timedelta(hours=2) + timedelta(seconds=3),
        errors=["ArmThrottled: Number of 'read' requests for subscription exceeded"],
        worker="celery@worker-1",
    )
    running = SyncRun.objects.create(
        subscription=sub2,
        status=SyncRun.Status.RUNNING,
        trigger="manual",
        started_at=now,
        pages=2,
        resume_token=f"{ARM_BASE}/subscriptions/{sub2.subscription_id}/providers/Microsoft.Security/alerts?$skipToken=x",
        worker="celery@worker-2",
    )
    assert lease_acquire(sub2.pk, "celery@worker-2", seconds=600)
    lease = SyncLease.objects.get(subscription=sub2)

    # Audit records of the models that move, written as d4054a3 writes them (object_type = the model's label).
    audit_record(actor=admin, action="sync.lease_inspected", obj=lease)
    audit_record(actor=None, action="sync.run_abandoned", obj=running)
    leftover = NotificationBatch.objects.order_by("id").last()
    if leftover is not None:
        audit_record(actor=admin, action="notification.batch_requeued", obj=leftover)

    # The admin's history: entries for objects of models that move, and of models that stay.
    targets: list[tuple[Any, int, User]] = [
        (local_rule, CHANGE, ruth),
        (SuppressionRule.objects.filter(in_azure=True).order_by("id").first(), CHANGE, admin),
        (SecurityContact.objects.get(subscription=sub0), CHANGE, admin),
        (NotificationPreference.objects.get(user=analyst), CHANGE, admin),
        (Notification.objects.order_by("id").first(), CHANGE, admin),
        (leftover, CHANGE, admin),
        (SyncRun.objects.filter(status=SyncRun.Status.SUCCEEDED).order_by("id").first(), CHANGE, admin),
        (lease, CHANGE, ruth),
        (members[0], CHANGE, admin),
        (incident, CHANGE, admin),
        (analyst, CHANGE, admin),
        (editors, ADDITION, admin),
    ]
    for obj, flag, user in targets:
        if obj is None:
            continue
        LogEntry.objects.create(
            action_time=now,
            user=user,
            content_type=ContentType.objects.get_for_model(obj),
            object_id=str(obj.pk),
            object_repr=str(obj)[:200],
            action_flag=flag,
            change_message=json.dumps(
                [{"changed": {"fields": ["State"]}}] if flag == CHANGE else [{"added": {}}]
            ),
        )
    LogEntry.objects.create(  # a deleted rule: the entry outlives its object
        action_time=now,
        user=ruth,
        content_type=ContentType.objects.get_for_model(SuppressionRule),
        object_id="999999",
        object_repr="old-rule",
        action_flag=DELETION,
        change_message="",
    )

    models = [
        {
            "app_label": m._meta.app_label,
            "model": m._meta.model_name,
            "db_table": m._meta.db_table,
        }
        for m in apps.get_models(include_auto_created=True)
    ]
    models_out.write_text(json.dumps(models))


# --- the expected facts, read from the seeded database -------------------------------------------------------


def expected_facts(conn: Any, models: list[dict[str, str]]) -> dict[str, Any]:
    by_table = {m["db_table"]: m for m in models}
    tables: dict[str, Any] = {}
    for table in public_tables(conn):
        model = by_table.get(table)
        columns = table_columns(conn, table)
        pk = primary_key(conn, table)
        max_pk = None
        if len(pk) == 1:
            value = conn.execute(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = 'public' "
                "AND table_name = %s AND column_name = %s",
                [table, pk[0]],
            ).fetchone()[0]
            if value in ("integer", "bigint"):
                from psycopg import sql

                max_pk = conn.execute(
                    sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(pk[0]), sql.Identifier(table))
                ).fetchone()[0]
        count, hashes = fingerprint(conn, table, columns, pk)
        tables[table] = {
            "app_label": model["app_label"] if model else None,
            "model": model["model"] if model else None,
            "count": count,
            "pk": pk,
            "max_pk": max_pk,
            "columns": hashes,
        }

    def rows(query: str) -> list[list[Any]]:
        return [list(r) for r in conn.execute(query).fetchall()]

    incidents = [
        {"subscription": r[0], "correlation_key": r[1], "title": r[2], "alerts": r[3]}
        for r in rows(
            "SELECT s.subscription_id, i.correlation_key, i.title, "
            "coalesce(array_agg(a.arm_id ORDER BY a.arm_id) FILTER (WHERE a.id IS NOT NULL), '{}') "
            "FROM triage_incident i JOIN inventory_subscription s ON s.id = i.subscription_id "
            "LEFT JOIN alerts_alert a ON a.incident_id = i.id "
            "GROUP BY s.subscription_id, i.correlation_key, i.title ORDER BY 1, 2"
        )
    ]
    # each admin log entry, and whether its object existed (a deleted object's entry outlives it)
    log_entries = rows(
        "SELECT l.id, l.object_id, l.object_repr, l.action_flag, ct.app_label, ct.model, u.username "
        "FROM django_admin_log l JOIN django_content_type ct ON ct.id = l.content_type_id "
        "JOIN auth_user u ON u.id = l.user_id ORDER BY l.id"
    )
    tables_of = {(m["app_label"], m["model"]): m["db_table"] for m in models}
    for entry in log_entries:
        entry.append(object_exists(conn, tables_of[(entry[4], entry[5])], entry[1]))
    return {
        "commit": subprocess.run(
            ["git", "rev-parse", COMMIT], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip(),
        "tables": tables,
        "content_types": rows("SELECT id, app_label, model FROM django_content_type ORDER BY id"),
        "permissions": rows(
            "SELECT 'user', u.username, p.codename, ct.app_label, ct.model FROM auth_user_user_permissions x "
            "JOIN auth_user u ON u.id = x.user_id JOIN auth_permission p ON p.id = x.permission_id "
            "JOIN django_content_type ct ON ct.id = p.content_type_id "
            "UNION ALL "
            "SELECT 'group', g.name, p.codename, ct.app_label, ct.model FROM auth_group_permissions x "
            "JOIN auth_group g ON g.id = x.group_id JOIN auth_permission p ON p.id = x.permission_id "
            "JOIN django_content_type ct ON ct.id = p.content_type_id ORDER BY 1, 2, 3"
        ),
        "user_groups": rows(
            "SELECT u.username, g.name FROM auth_user_groups x JOIN auth_user u ON u.id = x.user_id "
            "JOIN auth_group g ON g.id = x.group_id ORDER BY 1, 2"
        ),
        "log_entries": log_entries,
        "suppressed": {
            r[0]: [r[1], r[2]]
            for r in rows(
                "SELECT a.arm_id, s.subscription_id, r.name FROM alerts_alert a "
                "JOIN alerts_suppressionrule r ON r.id = a.suppressed_by_id "
                "JOIN inventory_subscription s ON s.id = r.subscription_id ORDER BY 1"
            )
        },
        "incidents": incidents,
        # alerts with no incident whose (subscription, correlation key) is an incident's: membership by key would
        # add them (expected: none)
        "unattached_by_key": rows(
            "SELECT a.arm_id FROM alerts_alert a JOIN triage_incident i ON i.subscription_id = a.subscription_id "
            "AND i.correlation_key = a.correlation_key WHERE a.incident_id IS NULL ORDER BY 1"
        ),
        "audit": rows("SELECT id, action, object_type, object_id FROM audit_auditrecord ORDER BY id"),
    }


# --- the script ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="server URL, no database")
    parser.add_argument("--keep", action="store_true", help="keep the database and the worktree")
    parser.add_argument("--seed", nargs=2, metavar=("VAR_DIR", "MODELS_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed:
        seed(Path(args.seed[0]), Path(args.seed[1]))
        return

    import psycopg

    python = sys.executable
    tmp = Path(tempfile.mkdtemp(prefix=f"mig-{COMMIT}-"))
    worktree = tmp / "wt"
    dbname = f"mig_seed_{COMMIT}_{uuid.uuid4().hex[:8]}"
    server = args.pg.rstrip("/")
    url = f"{server}/{dbname}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), COMMIT], check=True)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTEST", "PORTAL_", "DJANGO_", "REDIS_", "DATABASE_", "EMAIL_", "AZURE_"))
        }
        env.update(
            {
                "DATABASE_URL": url,
                "DEBUG": "1",
                "DJANGO_SETTINGS_MODULE": "portal.settings",
                "PORTAL_VAR_DIR": str(tmp / "var"),
                "AZURE_ARM_ENDPOINT": ARM_BASE,
                "AZURE_AUTHORITY_HOST": ARM_BASE,
                "PYTHONPATH": str(worktree),
            }
        )
        subprocess.run(
            [python, "manage.py", "migrate", "--no-input", "-v0"], cwd=worktree, env=env, check=True
        )
        models_json = tmp / "models.json"
        subprocess.run(
            [python, str(Path(__file__).resolve()), "--seed", str(tmp / "var"), str(models_json)],
            cwd=worktree,
            env=env,
            check=True,
        )
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", "--dbname", url],
            capture_output=True,
            check=True,
        ).stdout
        DUMP.write_bytes(gzip.compress(dump, compresslevel=9, mtime=0))
        with psycopg.connect(url) as conn:
            facts = expected_facts(session(conn), json.loads(models_json.read_text()))
        EXPECTED.write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
        tables = facts["tables"]
        print(
            f"{DUMP.relative_to(ROOT)}: {DUMP.stat().st_size / 1e6:.2f} MB ({len(dump) / 1e6:.1f} MB of SQL); "
            f"{len(tables)} tables, {sum(t['count'] for t in tables.values())} rows, "
            f"{tables['alerts_alert']['count']} alerts, {len(facts['suppressed'])} suppressed, "
            f"{len(facts['incidents'])} incidents, {len(facts['permissions'])} grants, "
            f"{len(facts['log_entries'])} admin log entries, {len(facts['audit'])} audit records"
        )
    finally:
        if args.keep:
            print(f"kept: database {dbname}, worktree {worktree}")
        else:
            with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False
            )
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
