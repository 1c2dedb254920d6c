"""REST API for sync runs: list them, queue a sync of a subscription now."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts import selectors as access
from portal.api.pagination import NewestFirst
from portal.api.schema import errors
from portal.web.http import signed_in_user
from sync.models import SyncRun
from sync.selectors import sync_runs_visible_to
from sync.services import sync_request


class SyncRunSerializer(serializers.Serializer[SyncRun]):
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
    errors = serializers.ListField(child=serializers.JSONField())  # type: ignore[assignment]  # the run's `errors`: SerializerMetaclass moves declared fields out of the class, so Serializer.errors stays


class SyncRequestedSerializer(serializers.Serializer[dict[str, Any]]):  # the schema of SyncNow's answer
    subscription = serializers.IntegerField()
    queued = serializers.BooleanField()


class SyncRunList(generics.ListAPIView[SyncRun]):
    serializer_class = SyncRunSerializer
    pagination_class = NewestFirst

    @extend_schema(
        operation_id="sync_runs_list", responses={200: SyncRunSerializer(many=True), **errors(404)}
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[SyncRun]:
        return sync_runs_visible_to(signed_in_user(self.request))


class SyncNow(APIView):
    @extend_schema(
        operation_id="sync_trigger",
        request=None,
        responses={202: SyncRequestedSerializer, **errors(403, 404)},
        summary="Queue a sync of the subscription now (Security Admins and Owners)",
    )
    def post(self, request: Request, pk: int) -> Response:
        user = signed_in_user(request)
        subscription = access.subscription_get_for_user(user, pk, write=True)
        sync_request(user=user, subscription=subscription, source="api", request=request._request)
        return Response({"subscription": subscription.pk, "queued": True}, status=status.HTTP_202_ACCEPTED)
