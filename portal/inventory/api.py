"""REST API for subscriptions and key vaults."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts import selectors as access
from portal.api.pagination import NewestFirst
from portal.api.schema import errors
from portal.inventory.models import KeyVault, Subscription
from portal.inventory.selectors import vault_get_for_user, vaults_visible_to


# a subscription, or many (many=True)
class SubscriptionSerializer(serializers.Serializer[Subscription | Iterable[Subscription]]):
    id = serializers.IntegerField()
    subscription_id = serializers.CharField()
    display_name = serializers.CharField()
    state = serializers.CharField()
    in_azure = serializers.BooleanField()
    last_sync_completed_at = serializers.DateTimeField(allow_null=True)
    role = serializers.SerializerMethodField()

    def get_role(self, subscription: Subscription) -> str:
        return access.role_on(self.context["request"].user, subscription.pk) or ""


class VaultSerializer(serializers.Serializer[KeyVault]):
    id = serializers.IntegerField()
    arm_id = serializers.CharField()
    name = serializers.CharField()
    subscription = serializers.IntegerField(source="subscription_id")
    resource_group = serializers.CharField()
    location = serializers.CharField()
    sku = serializers.CharField()
    vault_uri = serializers.CharField()
    enable_soft_delete = serializers.BooleanField(allow_null=True)
    enable_purge_protection = serializers.BooleanField(allow_null=True)
    enable_rbac_authorization = serializers.BooleanField(allow_null=True)
    public_network_access = serializers.CharField()
    network_default_action = serializers.CharField()
    in_azure = serializers.BooleanField()
    tags = serializers.DictField(child=serializers.CharField())


class SubscriptionList(APIView):
    @extend_schema(operation_id="subscriptions_list", responses={200: SubscriptionSerializer(many=True)})
    def get(self, request: Request) -> Response:
        subs = access.subscriptions_visible_to(request.user).order_by("display_name")[:1000]
        return Response(SubscriptionSerializer(subs, many=True, context={"request": request}).data)


class VaultList(generics.ListAPIView[KeyVault]):
    serializer_class = VaultSerializer
    pagination_class = NewestFirst

    @extend_schema(operation_id="key_vaults_list", responses={200: VaultSerializer(many=True), **errors(404)})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[KeyVault]:
        return vaults_visible_to(self.request.user)


class VaultDetail(APIView):
    @extend_schema(operation_id="key_vaults_retrieve", responses={200: VaultSerializer, **errors(404)})
    def get(self, request: Request, pk: int) -> Response:
        return Response(VaultSerializer(vault_get_for_user(request.user, pk)).data)
