"""Writes for suppression rules: save / state / delete (kept in step with Azure by tasks), apply to new alerts, Simulate.

Every change is audited. Applying rules to a page of new alerts costs a fixed number of queries, not one per alert
per rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, Exists, F, OuterRef, Value, When
from django.http import HttpRequest
from django.utils import timezone

from alerts.models import LOCAL_TYPE_PREFIX, Alert, Status
from alerts.status import Source, alerts_set_status
from portal import recovery
from portal.accounts.selectors import can_write
from portal.audit.services import audit_record
from portal.hashing import content_hash
from portal.inventory.models import Subscription
from suppression import tasks
from suppression.models import SuppressedAlert, SuppressionRule
from suppression.rules import ALL_FIELDS, NAME_RE, REASONS, rule_fields, rule_matches, uses_local_fields

if TYPE_CHECKING:
    from django.contrib.auth.models import User

RULE_FIELDS = (
    "name",
    "alert_type",
    "reason",
    "state",
    "comment",
    "expiration_date",
    "conditions",
    "local_only",
)
REASON_VALUES = {value for value, _ in REASONS}


def audit_rule(
    rule: SuppressionRule,
    action: str,
    *,
    actor: User | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> None:
    audit_record(
        actor=actor,
        action=action,
        obj=rule,
        before=before,
        after=after,
        request=request,
        subscription=rule.subscription_id,
        object_repr=rule.name,
    )


def _snapshot(rule: SuppressionRule) -> dict[str, Any]:
    data = {f: getattr(rule, f) for f in RULE_FIELDS}
    data["expiration_date"] = rule.expiration_date.isoformat() if rule.expiration_date else None
    return data


def validate_rule(data: dict[str, Any], *, now: datetime | None = None) -> dict[str, Any]:
    """The rule's fields, checked as Azure would (and more): a clear error per field, nothing saved half-way."""
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    if not NAME_RE.match(name):
        errors.setdefault("name", []).append(
            "2–50 characters: letters, digits, “-” and “_”, starting with a letter or a digit."
        )
    alert_type = str(data.get("alert_type") or "").strip()
    if not alert_type:
        errors.setdefault("alert_type", []).append("Choose an alert type, or * for all types.")
    reason = data.get("reason") or ""
    if reason not in REASON_VALUES:
        errors.setdefault("reason", []).append("Choose one of the reasons.")
    comment = str(data.get("comment") or "").strip()
    if reason == "Other" and not comment:
        errors.setdefault("comment", []).append("Explain the reason in the comment when it is “Other”.")
    state = data.get("state") or SuppressionRule.State.ENABLED
    if state not in (SuppressionRule.State.ENABLED, SuppressionRule.State.DISABLED):
        errors.setdefault("state", []).append("A rule is Enabled or Disabled.")
    expiration = data.get("expiration_date")
    if expiration is not None and expiration <= (now or timezone.now()):
        errors.setdefault("expiration_date", []).append("The expiration date must be in the future.")
    conditions = []
    for i, condition in enumerate(data.get("conditions") or []):
        field_name = str(condition.get("field", "")).strip().lower()
        if field_name not in ALL_FIELDS:
            errors.setdefault("conditions", []).append(f"Condition {i + 1}: unknown field {field_name!r}.")
            continue
        if "in" in condition:
            values = [str(v).strip() for v in condition["in"] if str(v).strip()]
            if not values:
                errors.setdefault("conditions", []).append(f"Condition {i + 1}: give at least one value.")
                continue
            conditions.append({"field": field_name, "in": values})
        elif "contains" in condition:
            value = str(condition["contains"]).strip()
            if not value:
                errors.setdefault("conditions", []).append(f"Condition {i + 1}: give the text it contains.")
                continue
            conditions.append({"field": field_name, "contains": value})
        else:
            errors.setdefault("conditions", []).append(f"Condition {i + 1}: choose Equals or Contains.")
    if errors:
        raise ValidationError(errors)
    # a rule on local detections' types (accesslogs) lives here only: Azure never sees those alerts
    local_only = (
        bool(data.get("local_only"))
        or uses_local_fields(conditions)
        or alert_type.startswith(LOCAL_TYPE_PREFIX)
    )
    return {
        "name": name,
        "alert_type": alert_type,
        "reason": reason,
        "state": state,
        "comment": comment,
        "expiration_date": expiration,
        "conditions": conditions,
        "local_only": local_only,
    }


def _check(user: User | None, subscription: Subscription) -> None:
    if user is not None and not can_write(user, subscription.pk):
        raise PermissionDenied(
            "Only Security Admins and Owners of this subscription manage its suppression rules."
        )


def rule_save(
    *,
    user: User | None,
    subscription: Subscription,
    data: dict[str, Any],
    rule: SuppressionRule | None = None,
    request: HttpRequest | None = None,
) -> SuppressionRule:
    """Create or update a rule; unless it is local-only, it is created/updated in Azure by a task (PUT)."""
    _check(user, subscription)
    if rule is not None and rule.subscription_id != subscription.pk:
        raise ValidationError(
            {"subscription": "A rule cannot move to another subscription; create a new one."}
        )
    values = validate_rule(data)
    now = timezone.now()
    with transaction.atomic():
        clash = SuppressionRule.objects.filter(subscription=subscription, name__iexact=values["name"])
        if rule is not None:
            clash = clash.exclude(pk=rule.pk)
        if clash.exists():
            raise ValidationError({"name": "A rule with this name already exists in this subscription."})
        if rule is not None and rule.name.lower() != values["name"].lower() and rule.in_azure:
            raise ValidationError({"name": "A rule that exists in Azure can't be renamed; create a new one."})
        created = rule is None
        before = None if rule is None else _snapshot(rule)
        rule = rule or SuppressionRule(subscription=subscription, created_by=user if user else None)
        for key, value in values.items():
            setattr(rule, key, value)
        rule.updated_by = user if user else None
        rule.local_modified_at = now
        rule.push_state = "" if rule.local_only else "pending"
        rule.push_error = ""
        rule.save()
        audit_rule(
            rule,
            "rule.create" if created else "rule.update",
            actor=user,
            before=before,
            after=_snapshot(rule),
            request=request,
        )
        if not rule.local_only:
            queue_push(rule)
        elif rule.in_azure:
            queue_push(rule, delete=True)  # became local-only: it leaves Azure
    return rule


def rule_set_state(
    *, user: User, rule: SuppressionRule, state: str, request: HttpRequest | None = None
) -> SuppressionRule:
    data = {f: getattr(rule, f) for f in RULE_FIELDS}
    data["state"] = state
    if rule.expiration_date and rule.expiration_date <= timezone.now():
        data["expiration_date"] = None if state == SuppressionRule.State.DISABLED else rule.expiration_date
    return rule_save(user=user, subscription=rule.subscription, data=data, rule=rule, request=request)


def rule_delete(*, user: User, rule: SuppressionRule, request: HttpRequest | None = None) -> None:
    """Delete here and in Azure. Alerts it dismissed stay dismissed."""
    _check(user, rule.subscription)
    with transaction.atomic():
        audit_rule(rule, "rule.delete", actor=user, before=_snapshot(rule), request=request)
        if rule.in_azure:
            sub_pk, name = rule.subscription_id, rule.name
            transaction.on_commit(lambda: tasks.delete_rule_in_azure.delay(sub_pk, name))
        rule.delete()


def queue_push(rule: SuppressionRule, *, delete: bool = False) -> None:
    SuppressionRule.objects.filter(pk=rule.pk).update(push_state="pending")
    if delete:
        sub_pk, name = rule.subscription_id, rule.name
        transaction.on_commit(lambda: tasks.delete_rule_in_azure.delay(sub_pk, name, rule.pk))
    else:
        pk = rule.pk
        transaction.on_commit(lambda: tasks.push_rule.delay(pk))


def record_conflict(rule: SuppressionRule, *, winner: str, azure: dict[str, Any] | None) -> None:
    audit_rule(
        rule,
        "rule.conflict",
        before={"azure": _jsonable(azure) if azure else "deleted in Azure"},
        after={"kept": winner, "portal": _snapshot(rule)},
    )


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in fields.items()}


def rule_pushed(*, rule_pk: int, result: dict[str, Any] | None, error: str = "") -> None:
    """Azure's answer to the PUT: in step (store what Azure says) or failed (shown on the rule)."""
    rule = SuppressionRule.objects.filter(pk=rule_pk).first()
    if rule is None:
        return
    if result is None:
        SuppressionRule.objects.filter(pk=rule_pk).update(push_state="failed", push_error=error[:2000])
        audit_rule(rule, "rule.push_failed", after={"error": error[:500]})
        return
    fields = rule_fields(result)
    SuppressionRule.objects.filter(pk=rule_pk).update(
        in_azure=True,
        push_state="",
        push_error="",
        synced_at=timezone.now(),
        local_modified_at=None,
        last_modified_utc=fields["last_modified_utc"],
        content_hash=content_hash(result),
    )


# --- applying rules -------------------------------------------------------------------------------------------


@dataclass
class ApplyResult:
    suppressed: list[int] = field(default_factory=list)
    written_back: list[int] = field(default_factory=list)


def apply_rules_to_alerts(
    *,
    alert_ids: list[int],
    subscription_pk: int,
    now: datetime | None = None,
    candidates: dict[int, tuple[str, list[Any]]] | None = None,
    actor: User | None = None,
    request: HttpRequest | None = None,
) -> ApplyResult:
    """Dismiss the new alerts that match an enabled rule of their subscription (a fixed number of queries).

    `candidates`: {alert id: (alert type, entities)} as the caller already holds them (the sync, from the page it
    just stored). Only the alerts they match are then read (under a lock) and written: a page that no rule matches
    costs one query, the read of the rules."""
    now = now or timezone.now()
    result = ApplyResult()
    rules = [
        r
        for r in SuppressionRule.objects.filter(
            subscription_id=subscription_pk, state=SuppressionRule.State.ENABLED
        )
        if r.expiration_date is None or r.expiration_date > now
    ]
    if not rules or not alert_ids:
        return result
    if candidates is not None:
        alert_ids = [
            pk
            for pk in alert_ids
            if pk not in candidates
            or any(rule_matches(r, candidates[pk][0], candidates[pk][1], now=now) for r in rules)
        ]
        if not alert_ids:
            return result
    with transaction.atomic(savepoint=False):  # inside the sync's batch transaction: no savepoint
        alerts = list(
            Alert.objects.select_for_update()
            .filter(pk__in=alert_ids)
            .exclude(Exists(SuppressedAlert.objects.filter(alert_id=OuterRef("pk"))))
            .only(
                "id",
                "alert_type",
                "entities",
                "status",
                "azure_status",
                "azure_id",
                "severity",
                "subscription_id",
                "vault_id",
                "plan",
                "time_generated",
                "pending_status",
            )
        )
        matched: dict[int, list[Alert]] = {}
        for alert in alerts:
            rule = next(
                (r for r in rules if rule_matches(r, alert.alert_type, alert.entities, now=now)), None
            )
            if rule is not None:
                matched.setdefault(rule.pk, []).append(alert)
        if not matched:
            return result
        links = [
            SuppressedAlert(alert_id=alert.pk, rule_id=rule_pk, suppressed_at=now)
            for rule_pk, matches in matched.items()
            for alert in matches
        ]
        SuppressedAlert.objects.bulk_create(links, ignore_conflicts=True)
        # one UPDATE for every rule that matched (not one per rule)
        SuppressionRule.objects.filter(pk__in=list(matched)).update(
            suppressed_count=F("suppressed_count")
            + Case(*[When(pk=pk, then=Value(len(m))) for pk, m in matched.items()], default=Value(0)),
            last_match_at=now,
        )
        names = {r.pk: r.name for r in rules}
        notes = {a.pk: {"rule": names[pk], "rule_id": pk} for pk, matches in matched.items() for a in matches}
        # the status's one write path, for every rule at once: Dismissed, written back to Azure unless Azure has it,
        # with the activity event, an audit entry and the webhook of the "rule" source
        changed = alerts_set_status(
            actor=actor or "suppression rule",
            alert_ids=list(notes),
            status=Status.DISMISSED,
            source=Source.RULE,
            request=request,
            notes=notes,
        )
        result.suppressed.extend(notes)
        result.written_back.extend(changed.changed)
    return result


@dataclass
class Simulation:
    matched: int
    scanned: int
    sample: list[Alert]


def simulate(
    *,
    subscription: Subscription,
    alert_type: str,
    conditions: list[dict[str, Any]],
    days: int = 90,
    sample_size: int = 10,
) -> Simulation:
    """How many alerts of the last `days` days this rule would have dismissed, with a sample of them."""
    probe = SuppressionRule(
        subscription=subscription,
        alert_type=alert_type,
        conditions=conditions,
        state=SuppressionRule.State.ENABLED,
    )
    qs = Alert.objects.filter(
        subscription=subscription, time_generated__gte=timezone.now() - timedelta(days=days)
    )
    if alert_type != "*":
        qs = qs.filter(alert_type__iexact=alert_type)
    matched = scanned = 0
    sample_ids: list[int] = []
    for pk, kind, entities in (
        qs.order_by("-time_generated", "-id")
        .values_list("pk", "alert_type", "entities")
        .iterator(chunk_size=2000)
    ):
        scanned += 1
        if rule_matches(probe, kind, entities):
            matched += 1
            if len(sample_ids) < sample_size:
                sample_ids.append(pk)
    sample = list(
        Alert.objects.filter(pk__in=sample_ids)
        .select_related(
            "vault", "subscription", "assignee", "assignee_group"
        )  # what the page and the API show
        .order_by("-time_generated")
    )
    return Simulation(matched=matched, scanned=scanned, sample=sample)


def active_matches(rule: SuppressionRule) -> list[int]:
    """Active / in-progress alerts the rule matches (to apply it to them, after showing the count)."""
    qs = Alert.objects.filter(
        ~Exists(SuppressedAlert.objects.filter(alert_id=OuterRef("pk"))),
        subscription_id=rule.subscription_id,
        status__in=[Status.ACTIVE, Status.IN_PROGRESS],
    )
    if rule.alert_type != "*":
        qs = qs.filter(alert_type__iexact=rule.alert_type)
    return [
        pk
        for pk, kind, entities in qs.values_list("pk", "alert_type", "entities").iterator(chunk_size=2000)
        if rule_matches(rule, kind, entities)
    ]


def rule_apply_to_active(*, user: User, rule: SuppressionRule, request: HttpRequest | None = None) -> int:
    """The explicit action: dismiss the alerts already open that the rule matches. Returns how many."""
    _check(user, rule.subscription)
    ids = active_matches(rule)
    for start in range(0, len(ids), 500):
        apply_rules_to_alerts(
            alert_ids=ids[start : start + 500],
            subscription_pk=rule.subscription_id,
            actor=user,
            request=request,
        )
    audit_rule(rule, "rule.apply_to_active", actor=user, after={"alerts": len(ids)}, request=request)
    return len(ids)


def expire_rules(*, now: datetime | None = None) -> int:
    """The scheduled task: rules past their expiration date become Expired."""
    now = now or timezone.now()
    expired = list(
        SuppressionRule.objects.filter(state=SuppressionRule.State.ENABLED, expiration_date__lte=now)
    )
    for rule in expired:
        SuppressionRule.objects.filter(pk=rule.pk).update(state=SuppressionRule.State.EXPIRED)
        audit_rule(rule, "rule.expired", before={"state": "Enabled"}, after={"state": "Expired"})
    return len(expired)


@transaction.atomic
def rules_sync(*, subscription: Subscription, items: list[dict[str, Any]], now: Any) -> int:
    """Keep local rules in step with Azure's. A conflict goes to the side modified most recently, and is recorded."""
    existing = {
        r.name.lower(): r
        for r in SuppressionRule.objects.select_for_update().filter(subscription=subscription)
    }
    seen: set[str] = set()
    changed = 0
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = item["name"][:50]
        seen.add(name.lower())
        digest = content_hash(item)
        rule = existing.get(name.lower())
        if rule is not None and rule.content_hash == digest and rule.in_azure:
            continue
        try:
            fields = rule_fields(item)
        except ValueError:
            continue
        if (
            rule is not None
            and rule.local_modified_at
            and (rule.synced_at is None or rule.local_modified_at > rule.synced_at)
        ):
            azure_time = fields["last_modified_utc"]
            if azure_time is None or rule.local_modified_at >= azure_time:
                record_conflict(rule, winner="portal", azure=fields)
                queue_push(rule)
                continue
            record_conflict(rule, winner="azure", azure=fields)
        fields.update(
            in_azure=True, local_only=False, content_hash=digest, synced_at=now, push_state="", push_error=""
        )
        if rule is None:
            rule = SuppressionRule.objects.create(subscription=subscription, name=name, **fields)
            audit_rule(rule, "rule.imported", after={"name": name, "alert_type": rule.alert_type})
        else:
            for key, value in fields.items():
                setattr(rule, key, value)
            rule.local_modified_at = None
            rule.save()
        changed += 1
    for key, rule in existing.items():
        if key in seen or not rule.in_azure or rule.local_only:
            continue
        if rule.local_modified_at and (rule.synced_at is None or rule.local_modified_at > rule.synced_at):
            record_conflict(rule, winner="portal", azure=None)
            queue_push(rule)  # changed here since: put it back
        else:
            audit_rule(rule, "rule.deleted_in_azure", before={"name": rule.name})
            rule.delete()  # alerts it dismissed stay dismissed
        changed += 1
    return changed


def rule_deleted_in_azure(*, rule_pk: int | None, error: str = "") -> None:
    """The write-back's result for a DELETE: gone from Azure (the local rule stays when it became local-only), or a
    failure shown on the rule."""
    if not rule_pk:
        return
    if error:
        SuppressionRule.objects.filter(pk=rule_pk).update(push_state="failed", push_error=error[:2000])
    else:
        SuppressionRule.objects.filter(pk=rule_pk).update(in_azure=False, push_state="", push_error="")


def requeue_stale_pushes(now: datetime, cutoff: datetime) -> int:
    """The rules' step of the stale-work sweep (portal.recovery): a rule change pending since before `cutoff` whose
    message was lost is queued again."""
    return recovery.requeue(
        SuppressionRule.objects.filter(push_state="pending", local_modified_at__lt=cutoff, local_only=False),
        tasks.push_rule.delay,
        local_modified_at=now,
    )
