"""The Security alerts filter: every input of the list (GET parameters, the cursor) goes through this form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlencode

from django import forms
from django.core import signing
from django.db.models import F, Model, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan
from django.utils import timezone

from alerts.catalog import KEY_VAULT_ALERT_TYPES
from alerts.labels import alert_type_name
from alerts.models import LOCAL_TYPE_PREFIX, SEVERITY_RANK, Alert, Origin, Severity, Status
from portal.plans import PLANS
from portal.web.formfields import (
    BoundedIntegerField,
    DateTimeField,
    IsoDateTimeInput,
    SingleLineField,
    iso_minute,
)

RANGES = [
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("90d", "Last 90 days"),
    ("all", "All time"),
    ("custom", "Custom range"),
]
RANGE_DELTAS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
DEFAULT_STATUSES = [Status.ACTIVE, Status.IN_PROGRESS]
SORTS = [("time", "Newest first"), ("severity", "Severity, then newest")]
ASSIGNEE_CHOICES = [
    ("", "Anyone or no one"),
    ("me", "Assigned to me"),
    ("none", "Unassigned"),
    ("any", "Assigned"),
]
PAGE_SIZE = 50
CURSOR_SALT = "alerts.cursor"

M = TypeVar("M", bound=Model)


IP_RE = re.compile(r"^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}$")
UPN_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def search_condition(query: str) -> Q:
    """Free text: an IP address is looked up as the caller's IP and a UPN as the identity (indexed, exact);
    anything else in the title, entities, IPs, UPNs and applications (a trigram index on PostgreSQL)."""
    term = query.strip().lower()
    if IP_RE.match(term):
        return Q(caller_ip=term)
    if UPN_RE.match(term):
        return Q(identity__in={query.strip(), term})  # as typed or lower-cased: both served by the index
    return Q(search_text__contains=term) | Q(arm_id=term) | Q(name__iexact=term)


class CursorError(ValueError):
    pass


def encode_cursor(alert: Alert, sort: str) -> str:
    values = [alert.time_generated.isoformat(), alert.pk]
    if sort == "severity":
        values = [alert.severity_rank, *values]
    return signing.dumps(values, salt=CURSOR_SALT, compress=True)


def decode_cursor(token: str, sort: str) -> list[Any]:
    try:
        values = signing.loads(token, salt=CURSOR_SALT)
        expected = 3 if sort == "severity" else 2
        if not isinstance(values, list) or len(values) != expected:
            raise CursorError("cursor does not match the sort")
        values[-2] = datetime.fromisoformat(values[-2])
        values[-1] = int(values[-1])
        if sort == "severity":
            values[0] = int(values[0])
        return values
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise CursorError(
            "This page link is not valid (it may be from an older version). Start from the first page."
        ) from exc


class AlertFilterForm(forms.Form):
    subscription = forms.MultipleChoiceField(required=False, label="Subscription")
    severity = forms.MultipleChoiceField(
        required=False, choices=Severity.choices, label="Severity", widget=forms.CheckboxSelectMultiple
    )
    status = forms.MultipleChoiceField(
        required=False, choices=Status.choices, label="Status", widget=forms.CheckboxSelectMultiple
    )
    range = forms.ChoiceField(required=False, choices=RANGES, label="Time range")
    start = DateTimeField(required=False, label="From", widget=IsoDateTimeInput())
    end = DateTimeField(required=False, label="To", widget=IsoDateTimeInput())
    type = forms.ChoiceField(required=False, label="Alert type")
    plan = forms.ChoiceField(
        required=False, label="Plan", choices=[("", "All plans")] + [(p.name, p.label) for p in PLANS]
    )
    provider = forms.ChoiceField(
        required=False, label="Provider", choices=[("", "All providers"), *Origin.choices]
    )
    vault = BoundedIntegerField(required=False, min_value=1, label="Key vault", widget=forms.Select)
    q = SingleLineField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Title, entity, IP, UPN, application"}
        ),
    )
    assignee = forms.ChoiceField(required=False, choices=ASSIGNEE_CHOICES, label="Owner")
    sort = forms.ChoiceField(required=False, choices=SORTS, label="Sort by")
    cursor = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)

    def __init__(
        self,
        data: Any,
        *,
        subscriptions: list[tuple[int, str]],
        vaults: list[tuple[int, str]],
        alert_types: list[str] | None = None,
        user_pk: int | None = None,
    ) -> None:
        self.user_pk = user_pk
        # Defaults are written into the data, so that the form shows them: open alerts, all time, newest first.
        data = data.copy() if hasattr(data, "copy") else dict(data)
        if not data.get("range"):
            data["range"] = "all"
        if not data.get("sort"):
            data["sort"] = "time"
        if not data.get("status") and hasattr(data, "setlist"):
            data.setlist("status", list(DEFAULT_STATUSES))
        elif not data.get("status"):
            data["status"] = list(DEFAULT_STATUSES)
        super().__init__(data)
        self._choice_field("subscription").choices = [(str(pk), name) for pk, name in subscriptions]
        self.fields["vault"].widget.choices = [("", "All key vaults")] + [(str(pk), n) for pk, n in vaults]
        self.vault_ids = {pk for pk, _ in vaults}
        types = [(t.alert_type, t.display_name) for t in KEY_VAULT_ALERT_TYPES]
        known = {t for t, _ in types}
        types += [(t, alert_type_name(t)) for t in sorted(alert_types or []) if t not in known]
        self._choice_field("type").choices = [("", "All alert types"), *types]

    def _choice_field(self, name: str) -> forms.ChoiceField:
        """This form's copy of a field declared above as a ChoiceField (or a MultipleChoiceField, a subclass)."""
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        return field

    def clean_vault(self) -> int | None:
        vault = self.cleaned_data.get("vault")
        if vault and vault not in self.vault_ids:
            raise forms.ValidationError("That key vault doesn't exist or you can't see it.")
        return vault

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data
        data["range"] = data.get("range") or "all"
        data["sort"] = data.get("sort") or "time"
        data["me"] = self.user_pk
        for key in ("start", "end"):
            if data.get(key):
                try:
                    timezone.localtime(data[key]).astimezone(UTC)
                except (OverflowError, ValueError):
                    self.add_error(key, "This date is out of range: give one from the year 1900 on.")
                    data[key] = None
        if data["range"] == "custom":
            if not data.get("start") and not data.get("end"):
                self.add_error("start", "Give a start or an end for a custom range.")
            elif data.get("start") and data.get("end") and data["start"] > data["end"]:
                self.add_error("end", "The end must be after the start.")
        if data.get("cursor") and "sort" not in self.errors:
            try:
                data["cursor_values"] = decode_cursor(data["cursor"], data["sort"])
            except CursorError as exc:
                self.add_error("cursor", str(exc))
        return data


@dataclass
class FilterState:
    """A valid filter, ready to query and to write back into URLs."""

    data: dict[str, Any]

    def filter_dimensions(self, qs: QuerySet[M]) -> QuerySet[M]:
        """The filters on columns that alerts and their rollup share: subscription, status, type, plan, vault."""
        d = self.data
        if d.get("subscription"):
            qs = qs.filter(subscription_id__in=[int(s) for s in d["subscription"]])
        if d.get("status"):
            qs = qs.filter(status__in=d["status"])
        if d.get("type"):
            qs = qs.filter(alert_type=d["type"])
        if d.get("plan"):
            qs = qs.filter(plan=d["plan"])
        if d.get("vault"):
            qs = qs.filter(vault_id=d["vault"])
        if d.get("provider") and qs.model is Alert:
            qs = qs.filter(origin=d["provider"])
        elif d.get("provider"):  # the rollup has no provider: local detections' types are LOCAL_*
            local = Q(alert_type__startswith=LOCAL_TYPE_PREFIX)
            qs = qs.filter(local) if d["provider"] == Origin.LOCAL else qs.exclude(local)
        return qs

    def apply(self, qs: QuerySet[Alert], *, with_cursor: bool = True) -> QuerySet[Alert]:
        d = self.data
        qs = self.filter_dimensions(qs)
        if d.get("severity"):
            qs = qs.filter(severity_rank__in=[SEVERITY_RANK[s] for s in d["severity"]])
        start, end = self.time_bounds()
        if start:
            qs = qs.filter(time_generated__gte=start)
        if end:
            qs = qs.filter(time_generated__lte=end)
        if d.get("q"):
            qs = qs.filter(search_condition(d["q"]))
        assignee = d.get("assignee")
        if assignee == "me":
            qs = qs.filter(assignee_id=d.get("me") or 0)
        elif assignee == "none":
            qs = qs.filter(assignee__isnull=True, assignee_group__isnull=True)
        elif assignee == "any":
            qs = qs.filter(Q(assignee__isnull=False) | Q(assignee_group__isnull=False))
        if d["sort"] == "severity":
            qs = qs.order_by("-severity_rank", "-time_generated", "-id")
        else:
            qs = qs.order_by("-time_generated", "-id")
        if with_cursor and d.get("cursor_values"):
            qs = self._after(qs, d["cursor_values"])
        return qs

    def _after(self, qs: QuerySet[Alert], values: list[Any]) -> QuerySet[Alert]:
        """Keyset pagination: rows strictly after the cursor, as one row-value comparison that the composite
        indexes serve: (time_generated, id) < (t, i), or (severity_rank, time_generated, id) < (r, t, i)."""
        columns = [F("time_generated"), F("id")]
        if self.data["sort"] == "severity":
            columns.insert(0, F("severity_rank"))
        return qs.filter(TupleLessThan(Tuple(*columns), tuple(values)))

    def time_bounds(self) -> tuple[datetime | None, datetime | None]:
        rng = self.data.get("range", "all")
        if rng in RANGE_DELTAS:
            return timezone.now() - RANGE_DELTAS[rng], None
        if rng == "custom":
            return self.data.get("start"), self.data.get("end")
        return None, None

    def querydict(self, *, cursor: str | None = None, **overrides: Any) -> list[tuple[str, str]]:
        d = {**self.data, **overrides}
        items: list[tuple[str, str]] = []
        for key in ("subscription", "severity", "status"):
            items += [(key, str(v)) for v in d.get(key) or []]
        for key in ("range", "type", "plan", "provider", "vault", "q", "assignee", "sort"):
            value = d.get(key)
            if value and not (key == "range" and value == "all") and not (key == "sort" and value == "time"):
                items.append((key, str(value)))
        if d.get("range") == "custom":
            for key in ("start", "end"):
                if d.get(key):
                    items.append((key, iso_minute(timezone.localtime(d[key]))))
        if cursor:
            items.append(("cursor", cursor))
        return items

    def urlencode(self, **kw: Any) -> str:
        return urlencode(self.querydict(**kw))
