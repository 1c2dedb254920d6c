"""How the apps above alerts learn about alerts, without alerts importing them (STYLE rule 6a).

An app registers its hooks at start-up (its AppConfig.ready); alerts calls them. No signals: the calls are explicit,
ordered, and happen in the caller's transaction.

- `new_alerts`: a batch of alerts the portal sees for the first time (the sync's batch, sample alerts, a local
  detection), in the transaction that stored them. Suppression marks what it dismissed in `batch.suppressed`, so that
  the hooks after it (notifications, webhooks) leave those alerts out.
- `changed_alerts`: alerts Azure changed in a way that regroups them (severity, times, correlation key).
- `status_changed`: an alert's status changed (by an analyst, a bulk job, a rule, Azure or a write-back's result).
- `list_annotations`: extra columns for the alert lists and the alert page, as query expressions (the suppression
  badge reads `is_suppressed`).
- `activity_details`: fills in what an alert's activity events point at (triage: the comment a "comment" event
  names).
- `incident_lookup`: the incident an alert belongs to, for the API (triage).
The alert page's sections drawn by other apps (owner box, discussion, feedback, "Suppress similar alerts") are
slots of the page chrome (portal.web.slots), not hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from django.db.models import Model, QuerySet

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from alerts.models import Alert

M = TypeVar("M", bound=Model)


@dataclass
class NewAlerts:
    subscription_pk: int
    alert_ids: list[int]
    backlog: bool  # the subscription's first sync: history, not news (no notifications, no webhooks)
    correlation_keys: Collection[str] | None = None  # when the caller has them (else read)
    candidates: dict[int, tuple[str, list[Any]]] | None = None  # {id: (alert type, entities)}, when at hand
    suppressed: set[int] = field(default_factory=set)  # filled by the suppression hook

    @property
    def fresh(self) -> list[int]:
        """The new alerts no rule suppressed."""
        return [pk for pk in self.alert_ids if pk not in self.suppressed]


@dataclass
class ChangedAlerts:
    subscription_pk: int
    correlation_keys: Collection[str]


@dataclass
class StatusChange:
    alerts: list[Alert]  # Alert rows after the change
    before: dict[int, str]  # {alert id: status before}
    source: str  # analyst, bulk, incident, azure, rule, write-back
    actor: User | str | None = None  # a person, a rule's label ("suppression rule"), or None: the system


@dataclass
class _Registry:
    new_alerts: list[tuple[int, str, Callable[[NewAlerts], None]]] = field(default_factory=list)
    changed_alerts: list[tuple[int, str, Callable[[ChangedAlerts], None]]] = field(default_factory=list)
    status_changed: list[tuple[int, str, Callable[[StatusChange], None]]] = field(default_factory=list)
    list_annotations: dict[str, Callable[[], Any]] = field(default_factory=dict)
    activity_details: dict[str, Callable[[Any, list[Any]], None]] = field(default_factory=dict)
    incident_lookup: Callable[[Any], int | None] | None = None


REGISTRY = _Registry()


def _add(hooks: list[tuple[int, str, Any]], order: int, name: str, fn: Any) -> None:
    hooks[:] = [h for h in hooks if h[1] != name]  # registering again (a test's reload) replaces
    hooks.append((order, name, fn))
    hooks.sort(key=lambda h: (h[0], h[1]))


def on_new_alerts(name: str, fn: Callable[[NewAlerts], None], *, order: int) -> None:
    """`order`: suppression 10, incidents 20, notifications 30, webhooks 40, detections' links 50."""
    _add(REGISTRY.new_alerts, order, name, fn)


def on_changed_alerts(name: str, fn: Callable[[ChangedAlerts], None], *, order: int = 100) -> None:
    _add(REGISTRY.changed_alerts, order, name, fn)


def on_status_changed(name: str, fn: Callable[[StatusChange], None], *, order: int = 100) -> None:
    _add(REGISTRY.status_changed, order, name, fn)


def list_annotation(name: str, expression: Callable[[], Any]) -> None:
    REGISTRY.list_annotations[name] = expression


def activity_detail(name: str, fn: Callable[[Any, list[Any]], None]) -> None:
    """`fn(alert, events)` sets attributes on the alert's activity events (in place) for the alert page."""
    REGISTRY.activity_details[name] = fn


def set_incident_lookup(fn: Callable[[Any], int | None]) -> None:
    REGISTRY.incident_lookup = fn


def status_changed(change: StatusChange) -> None:
    """Tell every `status_changed` hook, in order (in the caller's transaction)."""
    for _order, _name, hook in REGISTRY.status_changed:
        hook(change)


def activity_filled(alert: Any, events: list[Any]) -> list[Any]:
    for fn in REGISTRY.activity_details.values():
        fn(alert, events)
    return events


def incident_of(alert: Any) -> int | None:
    """The pk of the incident `alert` belongs to, if any (None without an app that groups incidents)."""
    return REGISTRY.incident_lookup(alert) if REGISTRY.incident_lookup else None


def annotate(qs: QuerySet[M]) -> QuerySet[M]:
    """`qs` with every registered list annotation."""
    extra = {name: make() for name, make in REGISTRY.list_annotations.items()}
    return qs.annotate(**extra) if extra else qs
