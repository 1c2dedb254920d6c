"""What the team learns from feedback: usefulness rates, top reasons, suggestions for suppression rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from alerts.models import Alert
from feedback.models import REASON_LABELS, Feedback
from portal.accounts.selectors import scope_to_user
from suppression.models import SuppressionRule
from suppression.rules import rule_matches

SUGGESTION_REASONS = ("SpecificEntityFalsePositive", "Noise")


def feedback_visible_to(user: User) -> QuerySet[Feedback]:
    return scope_to_user(Feedback.objects.all(), user)


def own_feedback(user: User, alert_pk: int) -> Feedback | None:
    return Feedback.objects.filter(alert_id=alert_pk, user=user).first()


@dataclass
class Rate:
    key: Any
    label: str
    useful: int
    not_useful: int

    @property
    def total(self) -> int:
        return self.useful + self.not_useful

    @property
    def percent(self) -> int:
        return round(100 * self.useful / self.total) if self.total else 0


def _rates(qs: QuerySet[Feedback], field: str, label_field: str | None = None, limit: int = 20) -> list[Rate]:
    fields = [field] if label_field is None else [field, label_field]
    rows = (
        qs.values(*fields)
        .annotate(
            useful_n=Count("id", filter=Q(useful=True)), not_useful_n=Count("id", filter=Q(useful=False))
        )
        .order_by("-not_useful_n", "-useful_n")[:limit]
    )
    result = []
    for row in rows:
        label = row[label_field or field]
        result.append(
            Rate(row[field], "—" if label in (None, "") else str(label), row["useful_n"], row["not_useful_n"])
        )
    return result


def insights(user: User) -> dict[str, Any]:
    qs = feedback_visible_to(user)
    totals = qs.aggregate(
        useful_n=Count("id", filter=Q(useful=True)), not_useful_n=Count("id", filter=Q(useful=False))
    )
    reasons = qs.filter(useful=False).values("reason").annotate(n=Count("id")).order_by("-n")[:10]
    weekly = (
        qs.annotate(week=TruncWeek("created_at"))
        .values("week")
        .annotate(
            useful_n=Count("id", filter=Q(useful=True)), not_useful_n=Count("id", filter=Q(useful=False))
        )
        .order_by("-week")[:12]
    )
    return {
        "total": Rate("all", "All alerts", totals["useful_n"] or 0, totals["not_useful_n"] or 0),
        "by_type": _rates(qs, "alert__alert_type", "alert__alert_type"),
        "by_vault": _rates(qs.exclude(alert__vault__isnull=True), "alert__vault_id", "alert__vault__name"),
        "by_identity": _rates(qs.exclude(alert__identity=""), "alert__identity"),
        "by_ip": _rates(qs.exclude(alert__caller_ip=""), "alert__caller_ip"),
        "by_week": [
            Rate(
                w["week"],
                w["week"].strftime("%Y-%m-%d") if w["week"] else "—",
                w["useful_n"],
                w["not_useful_n"],
            )
            for w in weekly
        ],
        "reasons": [
            {"reason": r["reason"], "label": REASON_LABELS.get(r["reason"], r["reason"]), "n": r["n"]}
            for r in reasons
        ],
    }


@dataclass
class Suggestion:
    subscription_id: int
    subscription_name: str
    alert_type: str
    field: str  # suppression rule entity field
    value: str
    count: int
    example_alert_id: int | None  # None only if its feedback went away between the two reads


def suggestions(user: User, *, threshold: int | None = None) -> list[Suggestion]:
    """Where one entity got at least `threshold` "not useful" answers for one alert type, with a reason that points at
    that entity (normal activity of it, or noise): propose a suppression rule for exactly that entity and type."""
    threshold = threshold or settings.FEEDBACK_SUGGESTION_THRESHOLD
    base = feedback_visible_to(user).filter(useful=False, reason__in=SUGGESTION_REASONS)
    result: list[Suggestion] = []
    for column, field in (
        ("alert__identity", "entities.account.upn"),
        ("alert__caller_ip", "entities.ip.address"),
    ):
        rows = (
            base.exclude(**{column: ""})
            .values("subscription_id", "subscription__display_name", "alert__alert_type", column)
            .annotate(n=Count("id"))
            .filter(n__gte=threshold)
            .order_by("-n")[:20]
        )
        for row in rows:
            example = (
                base.filter(
                    subscription_id=row["subscription_id"],
                    alert__alert_type=row["alert__alert_type"],
                    **{column: row[column]},
                )
                .values_list("alert_id", flat=True)
                .first()
            )
            result.append(
                Suggestion(
                    row["subscription_id"],
                    row["subscription__display_name"],
                    row["alert__alert_type"],
                    field,
                    row[column],
                    row["n"],
                    example,
                )
            )
    return sorted(_not_covered(result), key=lambda s: -s.count)


def _not_covered(found: list[Suggestion]) -> list[Suggestion]:
    """Leave out what an enabled rule of the subscription already suppresses (its example alert matches the rule)."""
    if not found:
        return found
    now = timezone.now()
    rules: dict[int, list[SuppressionRule]] = {}
    for rule in SuppressionRule.objects.filter(
        subscription_id__in={s.subscription_id for s in found}, state=SuppressionRule.State.ENABLED
    ):
        rules.setdefault(rule.subscription_id, []).append(rule)
    examples: dict[int | None, tuple[str, Any]] = {
        pk: (kind, entities)
        for pk, kind, entities in Alert.objects.filter(
            pk__in=[s.example_alert_id for s in found]
        ).values_list("pk", "alert_type", "entities")
    }
    kept = []
    for suggestion in found:
        kind, entities = examples.get(suggestion.example_alert_id, (suggestion.alert_type, []))
        if not any(
            rule_matches(r, kind, entities, now=now) for r in rules.get(suggestion.subscription_id, [])
        ):
            kept.append(suggestion)
    return kept


def follow_ups(user: User) -> QuerySet[Feedback]:
    """Feedback whose author agreed to be emailed, for Security Admins and Owners of its subscription."""
    return (
        scope_to_user(Feedback.objects.filter(may_contact=True), user, write=True)
        .select_related("user", "alert", "subscription")
        .prefetch_related("replies")
        .order_by("-updated_at")
    )
