"""REST API for sync runs: list them, queue a sync of a subscription now."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts import selectors as access
from portal.api.pagination import NewestFirst
from portal.api.schema import errors
from sync.selectors import sync_runs_visible_to
from sync.services import sync_request


class SyncRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    subscription = serializers.IntegerField(source="subscription_id")
    status = serializers.CharField()
    trigger = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    pages = serializers.IntegerField()
    alerts_new = serializers.IntegerField()
    alerts_changed = serializers.IntegerField()
    alerts_unchanged = serializers.IntegerField()
    alerts_malformed = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.JSONField())


class SyncRequestedSerializer(serializers.Serializer):
    subscription = serializers.IntegerField()
    queued = serializers.BooleanField()


class SyncRunList(generics.ListAPIView):
    serializer_class = SyncRunSerializer
    pagination_class = NewestFirst

    @extend_schema(
        operation_id="sync_runs_list", responses={200: SyncRunSerializer(many=True), **errors(404)}
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        return sync_runs_visible_to(self.request.user)


class SyncNow(APIView):
    @extend_schema(
        operation_id="sync_trigger",
        request=None,
        responses={202: SyncRequestedSerializer, **errors(403, 404)},
        summary="Queue a sync of the subscription now (Security Admins and Owners)",
    )
    def post(self, request: Request, pk: int) -> Response:
        subscription = access.subscription_get_for_user(request.user, pk, write=True)
        sync_request(user=request.user, subscription=subscription, source="api", request=request._request)
        return Response({"subscription": subscription.pk, "queued": True}, status=status.HTTP_202_ACCEPTED)
