"""A database created at d4054a3 and filled with data migrates to the current layout with every row, link,
permission and admin entry intact.

The dump (`d4054a3.sql.gz`, made by `make_dump.py` with d4054a3's own code) is loaded into a fresh database, the
current code's `manage.py migrate` runs on it, and the result is compared with `d4054a3_expected.json`. Models are
found by their name (the lower-cased class name) in the current app registry, so a model that moves to another app
keeps the checks valid: its content type, permissions, admin log entries and audit records must then name the app
the current code registers it under.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from portal.testing import services
from portal.testing.fixtures import ROOT, worker_env

from . import make_dump

pytestmark = pytest.mark.services

# Columns whose values the new layout changes on purpose, each checked by the test named.
CHANGED_BY_DESIGN = {
    ("contenttype", "app_label"): "test_content_types_follow_their_models",
    ("auditrecord", "object_type"): "test_audit_object_types_name_the_current_apps",
    ("alert", "incident_id"): "test_incidents_keep_their_alerts",
    ("alert", "suppressed_by_id"): "test_suppressed_alerts_keep_their_rules",
}
# Tables that migrate adds rows to (the content types and permissions of new models): their old rows must be there.
GROWS = {"contenttype", "permission"}
SKIP_TABLES = {"django_migrations"}


@dataclass
class Migrated:
    conn: Any
    expected: dict[str, Any]

    def rows(self, query: Any, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.conn.execute(query, params or []).fetchall()


def _models() -> dict[str, list[Any]]:
    from django.apps import apps

    found: dict[str, list[Any]] = {}
    for model in apps.get_models(include_auto_created=True):
        found.setdefault(model._meta.model_name, []).append(model)
    return found


def model_named(name: str) -> Any:
    """The current code's model of this name (lower-cased class name); it must exist, once."""
    found = _models().get(name, [])
    assert found, f"the current code has no model named {name!r} (it existed at {make_dump.COMMIT})"
    assert len(found) == 1, f"several models are named {name!r}: {[m._meta.label for m in found]}"
    return found[0]


def app_of(name: str) -> str:
    return model_named(name)._meta.app_label


def _server_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}"


@pytest.fixture(scope="module")
def migrated() -> Iterator[Migrated]:
    services.need_postgres()
    psql = shutil.which("psql")
    if psql is None:
        services.missing("psql (the PostgreSQL client)")
    import psycopg

    expected = json.loads(make_dump.EXPECTED.read_text())
    server = _server_url()
    dbname = f"migcheck_{make_dump.COMMIT}_{uuid.uuid4().hex[:8]}"
    url = f"{server}/{dbname}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
    try:
        load = subprocess.run(
            [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", url],
            input=gzip.decompress(make_dump.DUMP.read_bytes()),
            capture_output=True,
            timeout=120,
        )
        assert load.returncode == 0, load.stderr.decode(errors="replace")[-3000:]
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--no-input", "-v1"],
            cwd=ROOT,
            env=worker_env({"DATABASE_URL": url, "DEBUG": "1"}),
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert migrate.returncode == 0, f"migrate failed:\n{migrate.stdout[-3000:]}\n{migrate.stderr[-5000:]}"
        with psycopg.connect(url) as conn:
            yield Migrated(make_dump.session(conn), expected)
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def test_every_table_keeps_its_rows_and_values(migrated: Migrated) -> None:
    """Every table of d4054a3 (found by its model, wherever the table went): the same rows, every column's values
    unchanged (a hash per column), except the columns the new layout changes on purpose (CHANGED_BY_DESIGN)."""
    conn = migrated.conn
    problems: list[str] = []
    tables_now = set(make_dump.public_tables(conn))
    for old_table, old in sorted(migrated.expected["tables"].items()):
        if old_table in SKIP_TABLES:
            continue
        name = old["model"]
        table = old_table
        if name:
            models_now = _models().get(name, [])
            if len(models_now) != 1:
                problems.append(f"{old_table} ({old['app_label']}.{name}): models named so now: {models_now}")
                continue
            table = models_now[0]._meta.db_table
        where = f"{old_table} ({old['app_label']}.{name})" + (f" → {table}" if table != old_table else "")
        if table not in tables_now:
            problems.append(f"{where}: the table is gone ({old['count']} rows)")
            continue
        columns_now = set(make_dump.table_columns(conn, table))
        checked = []
        for column in old["columns"]:
            if (name, column) in CHANGED_BY_DESIGN:
                continue
            if column not in columns_now:
                problems.append(
                    f"{where}: column {column} was dropped (its values were not checked elsewhere)"
                )
                continue
            checked.append(column)
        pk = make_dump.primary_key(conn, table)
        if pk != old["pk"]:
            problems.append(f"{where}: primary key {old['pk']} became {pk}")
            continue
        max_pk = old["max_pk"] if name in GROWS else None
        count, hashes = make_dump.fingerprint(conn, table, checked, pk, max_pk=max_pk)
        if count != old["count"]:
            problems.append(f"{where}: {old['count']} rows before, {count} after")
        changed = [c for c in checked if hashes[c] != old["columns"][c]]
        if changed:
            problems.append(f"{where}: values changed in {', '.join(changed)}")
    assert not problems, "\n".join(problems)


def test_content_types_follow_their_models(migrated: Migrated) -> None:
    """Each content type keeps its id (permissions, grants and the admin log point at it) and names the app the
    current code registers its model under; no model has a second, stale content type."""
    now = {r[0]: (r[1], r[2]) for r in migrated.rows("SELECT id, app_label, model FROM django_content_type")}
    problems = []
    for ct_id, app_label, model in migrated.expected["content_types"]:
        want = (app_of(model), model)
        if now.get(ct_id) != want:
            problems.append(f"content type {ct_id} ({app_label}.{model}): {now.get(ct_id)}, expected {want}")
    per_name = Counter(model for _, model in now.values())
    registered = _models()
    for name, n in sorted(per_name.items()):
        if n > len(registered.get(name, [])):
            labels = sorted(f"{a}.{m}" for a, m in now.values() if m == name)
            problems.append(f"{name}: {n} content types ({', '.join(labels)})")
    assert not problems, "\n".join(problems)


def test_permissions_name_the_same_models(migrated: Migrated) -> None:
    """The model permissions granted to users and groups still name the same models, under their current apps."""
    rows = migrated.rows(
        "SELECT 'user', u.username, p.codename, ct.app_label, ct.model FROM auth_user_user_permissions x "
        "JOIN auth_user u ON u.id = x.user_id JOIN auth_permission p ON p.id = x.permission_id "
        "JOIN django_content_type ct ON ct.id = p.content_type_id "
        "UNION ALL "
        "SELECT 'group', g.name, p.codename, ct.app_label, ct.model FROM auth_group_permissions x "
        "JOIN auth_group g ON g.id = x.group_id JOIN auth_permission p ON p.id = x.permission_id "
        "JOIN django_content_type ct ON ct.id = p.content_type_id"
    )
    expected = migrated.expected["permissions"]
    moved = {(r[3], r[4]) for r in expected if app_of(r[4]) != r[3]}
    assert moved, "the dump grants no permission on a model that moved: this test would prove nothing"
    before = Counter((k, who, codename, model) for k, who, codename, _, model in expected)
    after = Counter((k, who, codename, model) for k, who, codename, _, model in rows)
    assert before == after, (
        f"grants lost: {sorted((before - after).elements())}; grants gained: {sorted((after - before).elements())}"
    )
    wrong = [r for r in rows if r[3] != app_of(r[4])]
    assert not wrong, f"grants naming a model under an app other than its current one: {wrong}"


def test_admin_log_points_at_existing_models(migrated: Migrated) -> None:
    """Each admin LogEntry keeps its object and points at a content type whose model class exists, under its
    current app; the entries whose object existed still find it."""
    from django.apps import apps

    now = {
        r[0]: r[1:]
        for r in migrated.rows(
            "SELECT l.id, l.object_id, l.object_repr, l.action_flag, ct.app_label, ct.model, u.username "
            "FROM django_admin_log l JOIN django_content_type ct ON ct.id = l.content_type_id "
            "JOIN auth_user u ON u.id = l.user_id"
        )
    }
    expected = migrated.expected["log_entries"]
    assert any(app_of(e[5]) != e[4] for e in expected), "no admin log entry of a model that moved"
    problems = []
    for entry_id, object_id, text, flag, _app_label, model, username, existed in expected:
        want = (object_id, text, flag, app_of(model), model, username)
        got = now.get(entry_id)
        if got != want:
            problems.append(f"LogEntry {entry_id}: {got}, expected {want}")
            continue
        model_class = apps.get_model(got[3], got[4])
        found = make_dump.object_exists(migrated.conn, model_class._meta.db_table, object_id)
        if found != existed:
            problems.append(f"LogEntry {entry_id}: its {model_class._meta.label} {object_id} exists: {found}")
    if len(now) != len(expected):
        problems.append(f"{len(expected)} entries before, {len(now)} after")
    assert not problems, "\n".join(problems)


def _fk(model: Any, target: Any) -> Any:
    return next(
        (
            f
            for f in model._meta.concrete_fields
            if f.is_relation and (f.many_to_one or f.one_to_one) and f.related_model is target
        ),
        None,
    )


def test_suppressed_alerts_keep_their_rules(migrated: Migrated) -> None:
    """Each alert a rule suppressed (Alert.suppressed_by at d4054a3) is still linked to that rule, through whatever
    model links an alert to a suppression rule now (suppression.SuppressedAlert)."""
    from django.apps import apps
    from psycopg import sql

    alert, rule, subscription = (
        model_named("alert"),
        model_named("suppressionrule"),
        model_named("subscription"),
    )
    links = [
        (m, _fk(m, alert), _fk(m, rule))
        for m in apps.get_models(include_auto_created=True)
        if _fk(m, rule) is not None and (m is alert or _fk(m, alert) is not None)
    ]
    assert len(links) == 1, (
        f"models linking alerts to suppression rules: {[m._meta.label for m, _, _ in links]}"
    )
    link, to_alert, to_rule = links[0]
    alert_column = alert._meta.pk.column if link is alert else to_alert.column
    query = sql.SQL(
        "SELECT a.arm_id, s.subscription_id, r.name FROM {link} l JOIN {alerts} a ON a.{apk} = l.{acol} "
        "JOIN {rules} r ON r.{rpk} = l.{rcol} JOIN {subs} s ON s.{spk} = r.{rsub}"
    ).format(
        link=sql.Identifier(link._meta.db_table),
        alerts=sql.Identifier(alert._meta.db_table),
        apk=sql.Identifier(alert._meta.pk.column),
        acol=sql.Identifier(alert_column),
        rules=sql.Identifier(rule._meta.db_table),
        rpk=sql.Identifier(rule._meta.pk.column),
        rcol=sql.Identifier(to_rule.column),
        subs=sql.Identifier(subscription._meta.db_table),
        spk=sql.Identifier(subscription._meta.pk.column),
        rsub=sql.Identifier(_fk(rule, subscription).column),
    )
    now = {r[0]: [r[1], r[2]] for r in migrated.rows(query)}
    expected = migrated.expected["suppressed"]
    assert expected, "the dump has no suppressed alert: this test would prove nothing"
    missing = {k: v for k, v in expected.items() if now.get(k) != v}
    extra = sorted(set(now) - set(expected))
    assert not missing and not extra, (
        f"in {link._meta.label}: {len(missing)} of {len(expected)} suppressed alerts lost or moved to another rule "
        f"({dict(list(missing.items())[:5])}), {len(extra)} alerts suppressed that were not ({extra[:5]})"
    )


def test_incidents_keep_their_alerts(migrated: Migrated) -> None:
    """Each incident has the alerts it had (Alert.incident at d4054a3): now those of its subscription with its
    correlation key (triage.selectors.incident_members), or through a foreign key if the alert has one again."""
    from psycopg import sql

    alert, incident, subscription = model_named("alert"), model_named("incident"), model_named("subscription")
    by_fk = _fk(alert, incident)
    if by_fk is not None:
        join = sql.SQL("a.{} = i.{}").format(
            sql.Identifier(by_fk.column), sql.Identifier(incident._meta.pk.column)
        )
    else:
        join = sql.SQL("a.{asub} = i.{isub} AND a.correlation_key = i.correlation_key").format(
            asub=sql.Identifier(_fk(alert, subscription).column),
            isub=sql.Identifier(_fk(incident, subscription).column),
        )
    query = sql.SQL(
        "SELECT s.subscription_id, i.correlation_key, i.title, "
        "coalesce(array_agg(a.arm_id ORDER BY a.arm_id) FILTER (WHERE a.arm_id IS NOT NULL), '{{}}') "
        "FROM {incidents} i JOIN {subs} s ON s.{spk} = i.{isub} LEFT JOIN {alerts} a ON {join} "
        "GROUP BY s.subscription_id, i.correlation_key, i.title"
    ).format(
        incidents=sql.Identifier(incident._meta.db_table),
        subs=sql.Identifier(subscription._meta.db_table),
        spk=sql.Identifier(subscription._meta.pk.column),
        isub=sql.Identifier(_fk(incident, subscription).column),
        alerts=sql.Identifier(alert._meta.db_table),
        join=join,
    )
    now = {(r[0], r[1]): (r[2], list(r[3])) for r in migrated.rows(query)}
    expected = {
        (i["subscription"], i["correlation_key"]): (i["title"], i["alerts"])
        for i in migrated.expected["incidents"]
    }
    assert expected and any(len(v[1]) > 1 for v in expected.values()), "the dump has no incident with alerts"
    differ = {
        k: (expected.get(k), now.get(k)) for k in set(expected) | set(now) if expected.get(k) != now.get(k)
    }
    assert not differ, f"{len(differ)} incidents differ (before, after): {dict(list(differ.items())[:3])}"


def test_audit_object_types_name_the_current_apps(migrated: Migrated) -> None:
    """Audit records keep their action and object, and their object_type names the model's current app
    (`alerts.suppressionrule` became `suppression.suppressionrule`, and so on)."""
    names = _models()

    def current(object_type: str) -> str:
        _, _, model = object_type.partition(".")
        return f"{app_of(model)}.{model}" if model in names else object_type

    expected = migrated.expected["audit"]
    assert any(current(r[2]) != r[2] for r in expected), "no audit record of a model that moved"
    now = {
        r[0]: list(r)
        for r in migrated.rows("SELECT id, action, object_type, object_id FROM audit_auditrecord")
    }
    wrong = [
        (now.get(r[0]), [r[0], r[1], current(r[2]), r[3]])
        for r in expected
        if now.get(r[0]) != [r[0], r[1], current(r[2]), r[3]]
    ]
    assert not wrong, f"{len(wrong)} audit records (after, expected): {wrong[:10]}"


def test_sequences_continue_after_the_rows(migrated: Migrated) -> None:
    """Every table's id sequence is past its highest id: the next insert does not collide with a migrated row."""
    from django.db import models
    from psycopg import sql

    problems = []
    seen = set()
    for model_list in _models().values():
        for model in model_list:
            pk = model._meta.pk
            table = model._meta.db_table
            if (
                not isinstance(pk, models.AutoField | models.BigAutoField | models.SmallAutoField)
                or table in seen
            ):
                continue
            seen.add(table)
            (sequence,) = migrated.rows("SELECT pg_get_serial_sequence(%s, %s)", [table, pk.column])[0]
            if sequence is None:
                continue
            (last,) = migrated.rows("SELECT pg_sequence_last_value(%s::regclass)", [sequence])[0]
            (highest,) = migrated.rows(
                sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(pk.column), sql.Identifier(table))
            )[0]
            next_id = 1 if last is None else last + 1
            if highest is not None and next_id <= highest:
                problems.append(f"{table}: next id {next_id}, highest {highest}")
    assert not problems, "\n".join(problems)


def test_suppressed_alerts_keep_when_they_were_suppressed(migrated: Migrated) -> None:
    """The link's time is when the rule dismissed the alert (its "suppressed" activity event), not the alert's
    last change: suppressing an open alert does not touch its updated_at, so that would be the last sync's time."""
    rows = migrated.rows(
        "SELECT l.alert_id, l.suppressed_at, (SELECT MAX(e.created_at) FROM alerts_alertevent e "
        "WHERE e.alert_id = l.alert_id AND e.kind = 'suppressed') FROM suppression_suppressedalert l"
    )
    with_event = [r for r in rows if r[2] is not None]
    assert len(with_event) >= 8  # the dump suppresses open alerts and alerts on arrival
    assert [r[0] for r in with_event if r[1] != r[2]] == []
