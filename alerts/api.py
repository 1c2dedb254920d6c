"""REST API for alerts: list (the Security alerts filters and cursor), detail, activity, status (one, and all
matching a filter as a job), suppression rules and security contacts. Same selectors and services as the pages."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth.models import User
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts import hooks, selectors
from alerts.filters import ASSIGNEE_CHOICES, PAGE_SIZE, RANGES, SORTS, FilterState
from alerts.models import (
    CLASSIFICATIONS,
    Alert,
    AlertEvent,
    BulkStatusJob,
    Origin,
    Severity,
    Status,
)
from alerts.services import bulk_status_job_create
from alerts.status import COMMENT_LIMIT, Source, alert_set_status
from portal.accounts import selectors as access
from portal.api.idempotency import idempotent
from portal.api.schema import errors
from portal.inventory.models import KeyVault, Subscription
from portal.plans import PLANS
from portal.web.http import signed_in_user

# --- serializers ---------------------------------------------------------------------------------------------
# The type argument is what a serializer is given to render: one object, or also a list of them (many=True); None for
# the input-only ones (given data=..., never an instance).


class SubscriptionRefSerializer(serializers.Serializer[Subscription]):
    id = serializers.IntegerField()
    subscription_id = serializers.CharField()
    display_name = serializers.CharField()


class VaultRefSerializer(serializers.Serializer[KeyVault]):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AlertSerializer(serializers.Serializer[Alert | Iterable[Alert]]):  # one, or many=True
    id = serializers.IntegerField()
    title = serializers.CharField()
    alert_type = serializers.CharField()
    severity = serializers.ChoiceField(choices=Severity.choices)
    status = serializers.ChoiceField(choices=Status.choices)
    pending_status = serializers.CharField(help_text="A change not yet confirmed by Azure ('' when none).")
    pending_failed = serializers.BooleanField()
    intent = serializers.CharField()
    start_time = serializers.DateTimeField(allow_null=True)
    detected_time = serializers.DateTimeField(source="time_generated")
    identity = serializers.CharField()
    caller_ip = serializers.CharField()
    plan = serializers.CharField()
    provider = serializers.ChoiceField(
        source="origin",
        choices=Origin.choices,
        help_text="defender: synced from Microsoft Defender for Key Vault; local: raised by this console from the "
        "vault's access log, never written to Azure.",
    )
    subscription = SubscriptionRefSerializer()
    vault = VaultRefSerializer(allow_null=True)
    assignee = serializers.CharField(source="assignee.username", allow_null=True, default=None)
    assignee_group = serializers.CharField(source="assignee_group.name", allow_null=True, default=None)
    url = serializers.SerializerMethodField()

    def get_url(self, alert: Alert) -> str:
        request: Request = self.context["request"]
        return request.build_absolute_uri(f"/api/v1/alerts/{alert.pk}/")


class AlertDetailSerializer(AlertSerializer):
    arm_id = serializers.CharField()
    description = serializers.CharField()
    entities = serializers.ListField(child=serializers.JSONField())
    extended_properties = serializers.DictField(child=serializers.JSONField())
    remediation_steps = serializers.ListField(child=serializers.CharField())
    techniques = serializers.ListField(child=serializers.CharField())
    correlation_key = serializers.CharField()
    is_incident = serializers.BooleanField()
    incident = serializers.SerializerMethodField()
    classification = serializers.CharField()
    classification_comment = serializers.CharField()
    closed_at = serializers.DateTimeField(allow_null=True)
    first_action_at = serializers.DateTimeField(allow_null=True)
    in_azure = serializers.BooleanField()
    alert_uri = serializers.CharField()

    def get_incident(self, alert: Alert) -> int | None:
        return hooks.incident_of(alert)


class AlertPageSerializer(serializers.Serializer[dict[str, Any]]):  # the schema of AlertList's answer
    results = AlertSerializer(many=True)
    next = serializers.URLField(
        allow_null=True, help_text="The next page (cursor), or null on the last page."
    )


class StatusInputSerializer(serializers.Serializer[None]):  # input only: no instance
    status = serializers.ChoiceField(choices=Status.choices)
    classification = serializers.ChoiceField(
        choices=CLASSIFICATIONS, required=False, allow_blank=True, help_text="Required to resolve or dismiss."
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_LIMIT)


class BulkInputSerializer(StatusInputSerializer):
    filter = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="The Security alerts filter as a query string, e.g. `severity=High&type=KV_TORAccess`.",
    )


class BulkJobSerializer(serializers.Serializer[BulkStatusJob]):
    id = serializers.IntegerField()
    filter = serializers.CharField(source="query")
    status = serializers.CharField()
    classification = serializers.CharField()
    state = serializers.CharField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    skipped = serializers.IntegerField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class EventSerializer(serializers.Serializer[AlertEvent | Iterable[AlertEvent]]):  # one, or many=True
    id = serializers.IntegerField()
    kind = serializers.CharField()
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    data = serializers.DictField(child=serializers.JSONField())  # type: ignore[assignment]  # the event's `data`: SerializerMetaclass moves declared fields out of the class, so Serializer.data stays


FILTER_PARAMETERS = [
    OpenApiParameter(
        "subscription", OpenApiTypes.INT, many=True, description="Subscription id(s) (portal ids)"
    ),
    OpenApiParameter("severity", OpenApiTypes.STR, many=True, enum=Severity.values),
    OpenApiParameter(
        "status",
        OpenApiTypes.STR,
        many=True,
        enum=Status.values,
        description="Default: Active and InProgress",
    ),
    OpenApiParameter("range", OpenApiTypes.STR, enum=[r for r, _ in RANGES]),
    OpenApiParameter("start", OpenApiTypes.DATETIME, description="With range=custom"),
    OpenApiParameter("end", OpenApiTypes.DATETIME, description="With range=custom"),
    OpenApiParameter("type", OpenApiTypes.STR, description="Alert type, e.g. KV_TORAccess"),
    OpenApiParameter("plan", OpenApiTypes.STR, enum=[p.name for p in PLANS]),
    OpenApiParameter("provider", OpenApiTypes.STR, enum=Origin.values),
    OpenApiParameter("vault", OpenApiTypes.INT, description="Key vault id"),
    OpenApiParameter("q", OpenApiTypes.STR, description="Free text, an IP address or a UPN"),
    OpenApiParameter("assignee", OpenApiTypes.STR, enum=[a for a, _ in ASSIGNEE_CHOICES if a]),
    OpenApiParameter("sort", OpenApiTypes.STR, enum=[s for s, _ in SORTS]),
    OpenApiParameter("cursor", OpenApiTypes.STR, description="From `next`"),
]


def filter_state_or_error(user: User, data: Mapping[str, Any]) -> FilterState:
    """The filter in `data` (a query string), or a ValidationError naming each bad field (a 400)."""
    form, state = selectors.filter_state(user, data)
    if state is None:
        raise ValidationError({k: [str(e) for e in v] for k, v in form.errors.items()})
    return state


def _alert(request: Request, pk: int, *, write: bool = False) -> Alert:
    return selectors.alert_get_for_user(signed_in_user(request), pk, write=write)


def alert_detail_data(request: Request, pk: int) -> dict[str, Any]:
    """The alert as it is now (after a write: read again)."""
    return AlertDetailSerializer(
        selectors.alert_get_for_user(signed_in_user(request), pk), context={"request": request}
    ).data


# --- alerts --------------------------------------------------------------------------------------------------


class AlertList(APIView):
    @extend_schema(
        operation_id="alerts_list",
        parameters=FILTER_PARAMETERS,
        responses={200: AlertPageSerializer, **errors(400)},
        summary="Security alerts, filtered as on the page, newest first",
    )
    def get(self, request: Request) -> Response:
        user = signed_in_user(request)
        state = filter_state_or_error(user, request.query_params)
        page = selectors.alerts_page(user, state, page_size=PAGE_SIZE)
        next_url = (
            request.build_absolute_uri(f"{request.path}?{state.urlencode(cursor=page.next_cursor)}")
            if page.next_cursor
            else None
        )
        rows = AlertSerializer(page.rows, many=True, context={"request": request}).data
        return Response({"results": rows, "next": next_url})


class AlertDetail(APIView):
    @extend_schema(operation_id="alerts_retrieve", responses={200: AlertDetailSerializer, **errors(404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(alert_detail_data(request, pk))


class AlertActivity(APIView):
    @extend_schema(
        operation_id="alerts_activity",
        responses={200: EventSerializer(many=True), **errors(404)},
        summary="The alert's activity: status changes, assignment, comments, feedback (newest first, 200)",
    )
    def get(self, request: Request, pk: int) -> Response:
        alert = _alert(request, pk)
        return Response(EventSerializer(selectors.alert_activity(alert), many=True).data)


class AlertStatus(APIView):
    @extend_schema(
        operation_id="alerts_set_status",
        request=StatusInputSerializer,
        responses={200: AlertDetailSerializer, **errors(400, 403, 404, 422)},
        summary="Change status (pending until Azure confirms); a close needs a classification",
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        alert = _alert(request, pk, write=True)
        data = StatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert_set_status(
            user=signed_in_user(request),
            alert=alert,
            status=data.validated_data["status"],
            source=Source.API,
            classification=data.validated_data.get("classification", ""),
            comment=data.validated_data.get("comment", ""),
            request=request._request,
        )
        return Response(alert_detail_data(request, alert.pk))


class BulkStatus(APIView):
    @extend_schema(
        operation_id="alerts_bulk_status",
        request=BulkInputSerializer,
        responses={202: BulkJobSerializer, **errors(400, 403, 422)},
        summary="Change status of every alert matching a filter: a job to poll",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = BulkInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = signed_in_user(request)
        if not access.can_write_any(user):
            raise PermissionDenied("Your role is read-only on every subscription.")
        state = filter_state_or_error(user, QueryDict(data.validated_data.get("filter", "")))
        job = bulk_status_job_create(
            user=user,
            query=state.urlencode(),
            status=data.validated_data["status"],
            total=selectors.exact_count(user, state),
            classification=data.validated_data.get("classification", ""),
            comment=data.validated_data.get("comment", ""),
            request=request._request,
        )
        return Response(BulkJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class BulkJob(APIView):
    @extend_schema(operation_id="alerts_bulk_status_job", responses={200: BulkJobSerializer, **errors(404)})
    def get(self, request: Request, pk: int) -> Response:
        job = BulkStatusJob.objects.filter(pk=pk, user=signed_in_user(request)).first()
        if job is None:
            raise NotFound("No such job (jobs are their creator's).")
        return Response(BulkJobSerializer(job).data)
