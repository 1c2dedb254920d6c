"""REST API for Pricing & settings: read a subscription's Defender plans and switch them (pending → confirmed)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts import selectors as access
from portal.api.schema import errors
from portal.web.http import signed_in_user
from pricing.selectors import PlanRow, plan_rows
from pricing.services import plans_save


class PlanSerializer(serializers.Serializer[PlanRow]):
    name = serializers.CharField(source="pricing.name")
    label = serializers.CharField()  # type: ignore[assignment]  # a declared field, not Field.label: DRF's metaclass moves it to _declared_fields
    tier = serializers.CharField(
        source="pricing.tier", help_text="Standard (On) or Free (Off), as Azure has it"
    )
    sub_plan = serializers.CharField(source="pricing.sub_plan")
    pending_tier = serializers.CharField(source="pricing.pending_tier", help_text="Being written to Azure")
    pending_error = serializers.CharField(source="pricing.pending_error")
    deprecated = serializers.BooleanField(source="pricing.deprecated")
    free_trial_days_left = serializers.IntegerField(source="trial_days", allow_null=True)
    enablement_time = serializers.DateTimeField(source="pricing.enablement_time", allow_null=True)
    resources = serializers.IntegerField(source="quantity", allow_null=True)


class PlansInputSerializer(serializers.Serializer[dict[str, Any]]):
    plans = serializers.DictField(
        child=serializers.ChoiceField(choices=["Standard", "Free"]),
        allow_empty=False,
        help_text='Plan name → tier, e.g. {"KeyVaults": "Standard"}',
    )


class Plans(APIView):
    @extend_schema(operation_id="plans_list", responses={200: PlanSerializer(many=True), **errors(404)})
    def get(self, request: Request, pk: int) -> Response:
        subscription = access.subscription_get_for_user(request.user, pk)
        return Response(PlanSerializer(plan_rows(subscription), many=True).data)  # type: ignore[arg-type]  # many=True takes a list; drf-stubs types the instance as one PlanRow (typeddjango/djangorestframework-stubs#260)

    @extend_schema(
        operation_id="plans_update",
        request=PlansInputSerializer,
        responses={200: PlanSerializer(many=True), **errors(400, 403, 404)},
        summary="Switch plans On (Standard) or Off (Free); written back to Azure by a task",
    )
    def patch(self, request: Request, pk: int) -> Response:
        subscription = access.subscription_get_for_user(request.user, pk, write=True)
        data = PlansInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plans_save(
            user=signed_in_user(request),
            subscription=subscription,
            desired=data.validated_data["plans"],
            request=request._request,
        )
        return Response(PlanSerializer(plan_rows(subscription), many=True).data)  # type: ignore[arg-type]  # many=True takes a list; drf-stubs types the instance as one PlanRow (typeddjango/djangorestframework-stubs#260)
