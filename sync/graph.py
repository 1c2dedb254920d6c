"""Which subscriptions a round lists, decided with Azure Resource Graph (AZURE.md §8).

A connection that sees more subscriptions than RESOURCE_GRAPH_THRESHOLD asks Resource Graph two questions per
group of RESOURCE_GRAPH_GROUP_SIZE subscriptions, instead of listing every subscription's alerts:

1. new alerts: how many alerts per subscription have `properties.TimeGeneratedUtc` later than the group's oldest
   last sync minus an overlap (one round interval plus RESOURCE_GRAPH_SKEW_SECONDS), compared with how many of those
   the portal already holds (so an alert stored last round is not "new" again for the length of the overlap);
2. status-only changes (a dismissal in the Azure portal changes no time field): alerts per subscription and
   `properties.Status`, compared with what the portal stored as Azure's status of the alerts Azure still lists.

A subscription with new alerts or different counts is listed this round; so is one never synced, and one whose last
full listing is older than FULL_LISTING_SECONDS (two changes that cancel out in the counts escape question 2).
Resource Graph only decides: the alerts themselves are always read through the REST path (its rows lack fields the
parser stores). A skipped subscription skips its whole sync, so changes made in Azure to its key vaults, Defender
plans, security contacts and suppression rules (not alerts) show up at its next listing, at most FULL_LISTING_SECONDS
later; the portal's own changes to those are written back and shown at once, as always. Whenever it cannot answer
for certain for a group (a refusal, a throttle beyond its quota, a truncated or malformed result) every subscription
of that group is listed, and the plan says why.

sync_all asks per group in a task of its own (tasks.plan_group), so the questions spread over the workers; they
share the principal's quota through sync/budget.py (RESOURCE_GRAPH_SHARED_BUDGET).

Property names are PascalCase in Resource Graph (`Status`, `TimeGeneratedUtc`); the `type` column is lower-case
(compared with `=~`); `summarize count()` names its column `count_`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from alerts.models import Alert
from portal.arm import errors, operations
from portal.inventory.azure import config_for
from portal.inventory.models import AzureConnection, Subscription
from sync import budget

log = logging.getLogger(__name__)

ALERTS = "securityresources | where type =~ 'microsoft.security/locations/alerts'"


@dataclass
class ListingPlan:
    """What one round lists for one connection: subscription pk -> why, and the rest skipped."""

    listed: dict[int, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)
    used_graph: bool = False
    fallback: str = ""  # why every subscription is listed although the graph path applied
    queries: int = 0  # Resource Graph calls (pages included)
    quota_remaining: int | None = None


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _quoted(ids: Iterable[str]) -> str:
    return ", ".join(f"'{i}'" for i in ids)  # subscription ids are GUIDs the portal stored (checked below)


def _stored_counts(subscriptions: list[Subscription]) -> dict[tuple[str, str], int]:
    """(subscription id, Azure's status) -> alerts the portal holds that Azure still lists."""
    rows = (
        Alert.objects.filter(subscription__in=subscriptions, in_azure=True)
        .values_list("subscription__subscription_id", "azure_status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {(sid.lower(), status): n for sid, status, n in rows}


def _stored_recent(subscriptions: list[Subscription], since: datetime) -> dict[str, int]:
    """Subscription id -> alerts the portal holds, that Azure still lists, detected after `since`."""
    rows = (
        Alert.objects.filter(subscription__in=subscriptions, in_azure=True, time_generated__gt=since)
        .values_list("subscription__subscription_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {sid.lower(): n for sid, n in rows}


def applies(subscriptions: list[Subscription]) -> bool:
    """Whether a connection seeing these subscriptions asks Resource Graph (above RESOURCE_GRAPH_THRESHOLD)."""
    threshold = settings.RESOURCE_GRAPH_THRESHOLD
    return threshold > 0 and len(subscriptions) > threshold


def triage(
    subscriptions: list[Subscription], *, now: datetime | None = None
) -> tuple[dict[int, str], list[Subscription]]:
    """Without asking: the subscriptions listed whatever Resource Graph says (pk -> why), and the candidates it
    decides for, due soonest first."""
    now = now or timezone.now()
    full_due = now - timedelta(seconds=settings.FULL_LISTING_SECONDS)
    listed: dict[int, str] = {}
    candidates: list[Subscription] = []
    for sub in subscriptions:
        if sub.last_sync_completed_at is None:
            listed[sub.pk] = "never listed"
        elif sub.last_sync_completed_at < full_due:
            listed[sub.pk] = "full listing due"
        elif not all(c in "0123456789abcdef-" for c in sub.subscription_id.lower()):
            listed[sub.pk] = "not a subscription id Resource Graph can be asked about"
        else:
            candidates.append(sub)
    candidates.sort(key=lambda s: (s.last_sync_completed_at, s.subscription_id))
    return listed, candidates


def groups(candidates: list[Subscription]) -> list[list[Subscription]]:
    size = max(1, settings.RESOURCE_GRAPH_GROUP_SIZE)
    return [candidates[start : start + size] for start in range(0, len(candidates), size)]


def principal_of(connection: AzureConnection) -> str:
    """Whose Resource Graph quota a connection spends: its service principal's."""
    return f"{connection.tenant_id}:{connection.client_id or connection.pk}"


def _query(connection: AzureConnection, ids: list[str], text: str) -> operations.GraphAnswer:
    """One query. With the shared budget (RESOURCE_GRAPH_SHARED_BUDGET): a token first, the quota headers fed back,
    and a 429 waited out from the quota's reset, within half a round interval. Without it, a 429 is an answer the
    group cannot use (azure-core does not retry a POST's 429): the group is listed in full."""
    config = config_for(connection)
    if not settings.RESOURCE_GRAPH_SHARED_BUDGET:
        return operations.resource_graph_query(config, ids, text)
    principal = principal_of(connection)
    deadline = settings.SYNC_INTERVAL_SECONDS / 2
    waited = 0.0
    while True:
        waited += budget.take(principal, "resourcegraph", deadline=max(0.0, deadline - waited))
        try:
            answer = operations.resource_graph_query(config, ids, text)
        except (
            errors.ArmThrottled
        ) as exc:  # found the quota empty anyway: every worker holds off, not only this one
            resets = exc.retry_after or 5.0
            budget.observe(principal, "resourcegraph", 0, resets)
            if waited + resets > deadline:
                raise
            continue
        budget.observe(principal, "resourcegraph", answer.quota_remaining, answer.quota_resets_after)
        return answer


def ask(connection: AzureConnection, group: list[Subscription]) -> ListingPlan:
    """Resource Graph's two questions for one group of candidates (at most RESOURCE_GRAPH_GROUP_SIZE, each synced
    before): each is listed or skipped. Any doubt (a refusal, a throttle beyond the quota, a truncated or malformed
    answer, Redis) lists the whole group, and the plan says why."""
    plan = ListingPlan(used_graph=True)
    overlap = timedelta(seconds=settings.SYNC_INTERVAL_SECONDS + settings.RESOURCE_GRAPH_SKEW_SECONDS)
    ids = [s.subscription_id.lower() for s in group]
    try:
        oldest = min(s.last_sync_completed_at for s in group if s.last_sync_completed_at is not None)
        since = (oldest - overlap).replace(microsecond=0)
        new = _query(
            connection,
            ids,
            f"{ALERTS} | where subscriptionId in~ ({_quoted(ids)})"
            f" | where todatetime(properties.TimeGeneratedUtc) > datetime({_stamp(since)})"
            " | summarize count() by subscriptionId",
        )
        plan.queries += new.calls
        counts = _query(
            connection,
            ids,
            f"{ALERTS} | where subscriptionId in~ ({_quoted(ids)})"
            " | summarize count() by subscriptionId, Status = tostring(properties.Status)",
        )
        plan.queries += counts.calls
        plan.quota_remaining = counts.quota_remaining
        if new.truncated or counts.truncated:
            raise errors.ArmMalformed("Resource Graph truncated its answer")
        recent = {str(r.get("subscriptionId", "")).lower(): int(r.get("count_") or 0) for r in new.rows}
        held = _stored_recent(group, since)
        with_new = {sid for sid, n in recent.items() if n and n != held.get(sid, 0)}
        azure: Counter[tuple[str, str]] = Counter()
        for row in counts.rows:
            azure[(str(row.get("subscriptionId", "")).lower(), str(row.get("Status") or ""))] += int(
                row.get("count_") or 0
            )
        stored = _stored_counts(group)
        for sub in group:
            sid = sub.subscription_id.lower()
            if sid in with_new:
                plan.listed[sub.pk] = "new alerts"
                continue
            theirs = {status: n for (s, status), n in azure.items() if s == sid and n}
            ours = {status: n for (s, status), n in stored.items() if s == sid and n}
            if theirs != ours:
                plan.listed[sub.pk] = "alert counts by status differ"
            else:
                plan.skipped.append(sub.pk)
    except Exception as exc:  # any doubt (a refusal, a throttle, a malformed row, Redis) lists the group
        reason = (
            f"Resource Graph did not answer for certain ({exc.__class__.__name__}: {exc}); listing the group"
        )
        log.warning("%s: %s", connection, reason)
        plan.fallback = reason
        plan.skipped = []
        plan.listed = {sub.pk: "listed because Resource Graph did not answer" for sub in group}
    return plan


def plan_listing(
    connection: AzureConnection, subscriptions: list[Subscription], *, now: datetime | None = None
) -> ListingPlan:
    """The whole round's plan for one connection, in this process (sync_all spreads the groups over workers
    instead: tasks.plan_group)."""
    plan = ListingPlan()
    if not applies(subscriptions):
        plan.listed = {
            s.pk: "every subscription is listed (below the Resource Graph threshold)" for s in subscriptions
        }
        return plan
    plan.used_graph = True
    plan.listed, candidates = triage(subscriptions, now=now)
    for group in groups(candidates):
        part = ask(connection, group)
        plan.listed.update(part.listed)
        plan.skipped += part.skipped
        plan.queries += part.queries
        plan.quota_remaining = part.quota_remaining
        plan.fallback = plan.fallback or part.fallback
    return plan
