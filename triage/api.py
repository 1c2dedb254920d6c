"""REST API for team triage: assignment, comments, incidents, saved views, webhooks (same services as the pages)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import QueryDict
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.api import AlertDetailSerializer, StatusInputSerializer, alert_detail_data, filter_state_or_error
from alerts.selectors import alert_get_for_user
from portal.accounts import selectors as access
from portal.api.idempotency import idempotent
from portal.api.pagination import NewestFirst
from portal.api.schema import errors
from portal.web.http import signed_in_user
from triage import selectors, services, webhooks
from triage.models import (
    COMMENT_LIMIT,
    WEBHOOK_EVENTS,
    AlertComment,
    Incident,
    SavedView,
    Webhook,
    WebhookDelivery,
)


class AssignInputSerializer(serializers.Serializer[None]):  # input only: no instance
    assignee = serializers.CharField(max_length=40, help_text='"me", "none", "user:<id>" or "group:<id>"')


class Assign(APIView):
    @extend_schema(
        operation_id="alerts_assign",
        request=AssignInputSerializer,
        responses={200: AlertDetailSerializer, **errors(400, 403, 404, 422)},
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        alert = alert_get_for_user(signed_in_user(request), pk, write=True)
        data = AssignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignee, group = services.parse_assignee(data.validated_data["assignee"], signed_in_user(request))
        services.alert_assign(
            user=signed_in_user(request),
            alert=alert,
            assignee=assignee,
            group=group,
            request=request._request,
        )
        return Response(alert_detail_data(request, alert.pk))


class CommentSerializer(serializers.Serializer[AlertComment | Iterable[AlertComment]]):  # one, or many=True
    id = serializers.IntegerField(read_only=True)
    author = serializers.CharField(source="author.username", read_only=True, allow_null=True, default=None)
    body = serializers.CharField(max_length=COMMENT_LIMIT, help_text="Plain text")
    created_at = serializers.DateTimeField(read_only=True)
    edited_at = serializers.DateTimeField(read_only=True, allow_null=True)


class Comments(APIView):
    @extend_schema(
        operation_id="alerts_comments_list", responses={200: CommentSerializer(many=True), **errors(404)}
    )
    def get(self, request: Request, pk: int) -> Response:
        alert = alert_get_for_user(signed_in_user(request), pk)
        comments = selectors.comments_for(alert)
        return Response(CommentSerializer(comments[:1000], many=True).data)

    @extend_schema(
        operation_id="alerts_comments_create",
        request=CommentSerializer,
        responses={201: CommentSerializer, **errors(400, 403, 404, 422)},
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        alert = alert_get_for_user(signed_in_user(request), pk, write=True)
        data = CommentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.comment_add(
            user=signed_in_user(request),
            alert=alert,
            body=data.validated_data["body"],
            request=request._request,
        )
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class IncidentSerializer(serializers.Serializer[Incident]):
    id = serializers.IntegerField()
    subscription = serializers.IntegerField(source="subscription_id")
    title = serializers.CharField()
    severity = serializers.CharField()
    correlation_key = serializers.CharField()
    alert_count = serializers.IntegerField()
    assignee = serializers.CharField(source="assignee.username", allow_null=True, default=None)
    first_time = serializers.DateTimeField()
    last_time = serializers.DateTimeField()


class IncidentDetailSerializer(IncidentSerializer):
    alerts = serializers.ListField(child=serializers.IntegerField(), help_text="Alert ids, in time order")
    shared_entities = serializers.ListField(child=serializers.DictField(child=serializers.JSONField()))


class IncidentList(generics.ListAPIView[Incident]):
    serializer_class = IncidentSerializer
    pagination_class = NewestFirst

    @extend_schema(
        operation_id="incidents_list", responses={200: IncidentSerializer(many=True), **errors(404)}
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Incident]:
        return selectors.incidents_visible_to(signed_in_user(self.request))


def _incident_detail(incident: Incident) -> dict[str, Any]:
    alerts = selectors.incident_alerts(incident)
    data = IncidentSerializer(incident).data
    return {**data, "alerts": [a.pk for a in alerts], "shared_entities": selectors.shared_entities(alerts)}


class IncidentDetail(APIView):
    @extend_schema(
        operation_id="incidents_retrieve", responses={200: IncidentDetailSerializer, **errors(404)}
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(_incident_detail(selectors.incident_get_for_user(signed_in_user(request), pk)))


class IncidentStatus(APIView):
    @extend_schema(
        operation_id="incidents_set_status",
        request=StatusInputSerializer,
        responses={200: IncidentDetailSerializer, **errors(400, 403, 404, 422)},
        summary="One status for every alert of the incident",
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        incident = selectors.incident_get_for_user(signed_in_user(request), pk, write=True)
        data = StatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.incident_set_status(
            user=signed_in_user(request),
            incident=incident,
            status=data.validated_data["status"],
            classification=data.validated_data.get("classification", ""),
            comment=data.validated_data.get("comment", ""),
            request=request._request,
        )
        return Response(_incident_detail(incident))


class SavedViewSerializer(serializers.Serializer[SavedView | Iterable[SavedView]]):  # one, or many=True
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=80)
    filter = serializers.CharField(
        source="query",
        allow_blank=True,
        max_length=2000,
        help_text="The Security alerts filter as a query string",
    )
    shared = serializers.BooleanField(default=False, help_text="Shared with the team")
    owner = serializers.CharField(source="owner.username", read_only=True)


class SavedViews(APIView):
    @extend_schema(operation_id="saved_views_list", responses={200: SavedViewSerializer(many=True)})
    def get(self, request: Request) -> Response:
        return Response(
            SavedViewSerializer(selectors.saved_views_for(signed_in_user(request)), many=True).data
        )

    @extend_schema(
        operation_id="saved_views_save",
        request=SavedViewSerializer,
        responses={200: SavedViewSerializer, **errors(400, 403)},
        summary="Save (or replace, by name) a view of Security alerts",
    )
    def post(self, request: Request) -> Response:
        data = SavedViewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        state = filter_state_or_error(signed_in_user(request), QueryDict(data.validated_data["query"]))
        view = services.saved_view_save(
            user=signed_in_user(request),
            name=data.validated_data["name"],
            query=state.urlencode(),
            shared=data.validated_data["shared"],
            request=request._request,
        )
        return Response(SavedViewSerializer(view).data)


class SavedViewDetail(APIView):
    @extend_schema(operation_id="saved_views_destroy", responses={204: None, **errors(403, 404)})
    def delete(self, request: Request, pk: int) -> Response:
        view = selectors.saved_view_get_for_user(signed_in_user(request), pk)
        if view is None:
            raise NotFound("No such view.")
        services.saved_view_delete(user=signed_in_user(request), view=view, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookSerializer(serializers.Serializer[Webhook | Iterable[Webhook]]):  # one, or many=True
    id = serializers.IntegerField(read_only=True)
    subscription = serializers.IntegerField(source="subscription_id")
    name = serializers.CharField(max_length=80)
    url = serializers.CharField(
        max_length=500,
        allow_null=True,
        help_text="http:// or https://; null for readers (only Security Admins and Owners see where it posts)",
    )
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WEBHOOK_EVENTS),
        allow_empty=False,
        max_length=len(WEBHOOK_EVENTS),
    )
    enabled = serializers.BooleanField(default=True)
    created_at = serializers.DateTimeField(read_only=True)


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret: returned once, now")


class DeliverySerializer(
    serializers.Serializer[WebhookDelivery | Iterable[WebhookDelivery]]  # one, or many=True
):
    id = serializers.IntegerField()
    event = serializers.CharField()
    state = serializers.CharField()
    status_code = serializers.IntegerField(allow_null=True)
    attempts = serializers.IntegerField()
    error = serializers.CharField(
        allow_null=True,
        help_text="null for readers: the receiver's answers are for Security Admins and Owners",
    )
    created_at = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)


def _for(user: User, data: Any, subscription_pk: int, *fields: str) -> Any:
    """Where a webhook posts and what its receiver answered are for Security Admins and Owners of its subscription
    (in production they read back internal services): readers get null."""
    if access.can_write(user, subscription_pk):
        return data
    rows = data if isinstance(data, list) else [data]
    for row in rows:
        for name in fields:
            row[name] = None
    return data


def _hook(request: Request, pk: int, *, write: bool = False) -> Webhook:
    return selectors.webhook_get_for_user(signed_in_user(request), pk, write=write)


class Webhooks(APIView):
    @extend_schema(operation_id="webhooks_list", responses={200: WebhookSerializer(many=True)})
    def get(self, request: Request) -> Response:
        hooks = list(selectors.webhooks_visible_to(signed_in_user(request))[:500])
        data = WebhookSerializer(hooks, many=True).data
        for hook, row in zip(hooks, data, strict=True):
            _for(signed_in_user(request), row, hook.subscription_id, "url")
        return Response(data)

    @extend_schema(
        operation_id="webhooks_create",
        request=WebhookSerializer,
        responses={201: WebhookCreatedSerializer, **errors(400, 403, 404)},
    )
    def post(self, request: Request) -> Response:
        data = WebhookSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        subscription = access.subscription_get_for_user(
            signed_in_user(request), v["subscription_id"], write=True
        )
        hook, secret = webhooks.webhook_save(
            user=signed_in_user(request),
            subscription=subscription,
            name=v["name"],
            url=v["url"],
            events=v["events"],
            enabled=v["enabled"],
            request=request._request,
        )
        return Response({**WebhookSerializer(hook).data, "secret": secret}, status=status.HTTP_201_CREATED)


class WebhookDetail(APIView):
    @extend_schema(operation_id="webhooks_retrieve", responses={200: WebhookSerializer, **errors(404)})
    def get(self, request: Request, pk: int) -> Response:
        hook = _hook(request, pk)
        return Response(
            _for(signed_in_user(request), WebhookSerializer(hook).data, hook.subscription_id, "url")
        )

    @extend_schema(
        operation_id="webhooks_update",
        request=WebhookSerializer,
        responses={200: WebhookSerializer, **errors(400, 403, 404)},
    )
    def put(self, request: Request, pk: int) -> Response:
        hook = _hook(request, pk, write=True)
        data = WebhookSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["subscription_id"] != hook.subscription_id:
            raise PermissionDenied("A webhook cannot move to another subscription.")
        hook, _ = webhooks.webhook_save(
            user=signed_in_user(request),
            subscription=hook.subscription,
            name=v["name"],
            url=v["url"],
            events=v["events"],
            enabled=v["enabled"],
            webhook=hook,
            request=request._request,
        )
        return Response(WebhookSerializer(hook).data)

    @extend_schema(operation_id="webhooks_destroy", responses={204: None, **errors(403, 404)})
    def delete(self, request: Request, pk: int) -> Response:
        webhooks.webhook_delete(
            user=signed_in_user(request), webhook=_hook(request, pk, write=True), request=request._request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookTest(APIView):
    @extend_schema(
        operation_id="webhooks_test",
        request=None,
        responses={202: DeliverySerializer, **errors(403, 404)},
        summary="Send a `ping` event",
    )
    def post(self, request: Request, pk: int) -> Response:
        delivery = webhooks.webhook_test(
            user=signed_in_user(request), webhook=_hook(request, pk, write=True), request=request._request
        )
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveries(APIView):
    @extend_schema(
        operation_id="webhooks_deliveries", responses={200: DeliverySerializer(many=True), **errors(404)}
    )
    def get(self, request: Request, pk: int) -> Response:
        hook = _hook(request, pk)
        data = DeliverySerializer(selectors.deliveries_for(hook, limit=200), many=True).data
        return Response(_for(signed_in_user(request), data, hook.subscription_id, "error"))
