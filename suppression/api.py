"""REST API for suppression rules (list, create, get, update, delete, Simulate): the pages' selectors and services."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.api import AlertSerializer
from alerts.status import COMMENT_LIMIT
from portal.accounts import selectors as access
from portal.api.idempotency import idempotent
from portal.api.pagination import NewestFirst
from portal.api.schema import errors
from portal.web.http import signed_in_user
from suppression import selectors
from suppression.models import SuppressionRule
from suppression.services import Simulation, rule_delete, rule_save, simulate

# --- suppression rules ---------------------------------------------------------------------------------------


class ConditionSerializer(serializers.Serializer[dict[str, Any]]):
    field = serializers.CharField(max_length=100, help_text="An entity field, e.g. `entities.ip.address`")
    # "in" is a Python keyword: declared below
    contains = serializers.CharField(required=False, max_length=500)


ConditionSerializer._declared_fields["in"] = serializers.ListField(
    child=serializers.CharField(max_length=500), required=False, max_length=100
)


class RuleSerializer(serializers.Serializer[SuppressionRule]):
    id = serializers.IntegerField(read_only=True)
    subscription = serializers.IntegerField(source="subscription_id", help_text="Subscription id (portal id)")
    name = serializers.CharField(max_length=50)
    alert_type = serializers.CharField(max_length=200, help_text="An alert type, or * for all")
    reason = serializers.CharField(max_length=100)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=COMMENT_LIMIT)
    state = serializers.ChoiceField(choices=SuppressionRule.State.choices, required=False)
    expiration_date = serializers.DateTimeField(required=False, allow_null=True)
    conditions = ConditionSerializer(many=True, required=False)
    local_only = serializers.BooleanField(required=False)
    in_azure = serializers.BooleanField(read_only=True)
    push_state = serializers.CharField(read_only=True)
    push_error = serializers.CharField(read_only=True)
    suppressed_count = serializers.IntegerField(read_only=True)


class SimulateInputSerializer(serializers.Serializer[dict[str, Any]]):
    subscription = serializers.IntegerField()
    alert_type = serializers.CharField(max_length=200)
    conditions = ConditionSerializer(many=True, required=False)
    days = serializers.IntegerField(min_value=1, max_value=365, default=90)


class SimulationSerializer(serializers.Serializer[Simulation]):
    matched = serializers.IntegerField()
    scanned = serializers.IntegerField()
    sample = AlertSerializer(many=True)


def _rule_data(validated: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in validated.items() if k != "subscription_id"}
    data["conditions"] = [dict(c) for c in validated.get("conditions") or []]
    return data


class RuleList(generics.ListAPIView[SuppressionRule]):
    serializer_class = RuleSerializer
    pagination_class = NewestFirst

    def get_queryset(self) -> QuerySet[SuppressionRule]:
        qs = selectors.rules_visible_to(signed_in_user(self.request))
        sub = self.request.query_params.get("subscription")
        if sub:
            if not sub.isdigit():
                raise ValidationError({"subscription": ["A subscription id (a number)."]})
            qs = qs.filter(subscription_id=int(sub))
        return qs

    @extend_schema(
        operation_id="rules_list",
        responses={200: RuleSerializer(many=True), **errors(400, 404)},
        parameters=[OpenApiParameter("subscription", OpenApiTypes.INT)],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="rules_create",
        request=RuleSerializer,
        responses={201: RuleSerializer, **errors(400, 403, 404, 422)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = RuleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = signed_in_user(request)
        subscription = access.subscription_get_for_user(
            user, data.validated_data["subscription_id"], write=True
        )
        rule = rule_save(
            user=user,
            subscription=subscription,
            data=_rule_data(data.validated_data),
            request=request._request,
        )
        return Response(RuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class RuleDetail(APIView):
    def _get(self, request: Request, pk: int, *, write: bool = False) -> SuppressionRule:
        return selectors.rule_get_for_user(signed_in_user(request), pk, write=write)

    @extend_schema(operation_id="rules_retrieve", responses={200: RuleSerializer, **errors(404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(RuleSerializer(self._get(request, pk)).data)

    @extend_schema(
        operation_id="rules_update",
        request=RuleSerializer,
        responses={200: RuleSerializer, **errors(400, 403, 404)},
    )
    def put(self, request: Request, pk: int) -> Response:
        rule = self._get(request, pk, write=True)
        data = RuleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["subscription_id"] != rule.subscription_id:
            raise ValidationError({"subscription": ["A rule cannot move to another subscription."]})
        rule = rule_save(
            user=signed_in_user(request),
            subscription=rule.subscription,
            data=_rule_data(data.validated_data),
            rule=rule,
            request=request._request,
        )
        return Response(RuleSerializer(rule).data)

    @extend_schema(operation_id="rules_destroy", responses={204: None, **errors(403, 404)})
    def delete(self, request: Request, pk: int) -> Response:
        rule_delete(
            user=signed_in_user(request), rule=self._get(request, pk, write=True), request=request._request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class RuleSimulate(APIView):
    @extend_schema(
        operation_id="rules_simulate",
        request=SimulateInputSerializer,
        responses={200: SimulationSerializer, **errors(400, 404)},
        summary="How many alerts of the last N days a rule would have dismissed, with a sample",
    )
    def post(self, request: Request) -> Response:
        data = SimulateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription = access.subscription_get_for_user(request.user, data.validated_data["subscription"])
        result = simulate(
            subscription=subscription,
            alert_type=data.validated_data["alert_type"],
            conditions=[dict(c) for c in data.validated_data.get("conditions") or []],
            days=data.validated_data["days"],
        )
        return Response(SimulationSerializer(result, context={"request": request}).data)
