"""REST API for a subscription's security contacts (Email notifications): the pages' services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications.contact_services import contact_save
from notifications.models import SecurityContact
from portal.accounts import selectors as access
from portal.api.schema import errors
from portal.web.http import signed_in_user

# --- security contacts ---------------------------------------------------------------------------------------


class ContactSerializer(serializers.Serializer[SecurityContact]):
    emails = serializers.CharField(
        allow_blank=True, max_length=2000, help_text="Addresses separated by ; or ,"
    )
    notify_by_role = serializers.BooleanField()
    roles = serializers.ListField(child=serializers.CharField(max_length=40), max_length=10)
    minimal_severity = serializers.ChoiceField(choices=["High", "Medium", "Low"])
    alert_notifications = serializers.BooleanField()
    portal_notifications = serializers.BooleanField(required=False, default=True)
    pending_push = serializers.BooleanField(read_only=True)
    push_error = serializers.CharField(read_only=True)
    in_azure = serializers.BooleanField(read_only=True)


class Contacts(APIView):
    @extend_schema(
        operation_id="security_contacts_retrieve", responses={200: ContactSerializer, **errors(404)}
    )
    def get(self, request: Request, pk: int) -> Response:
        subscription = access.subscription_get_for_user(request.user, pk)
        contact = SecurityContact.objects.filter(subscription=subscription).first() or SecurityContact(
            subscription=subscription
        )
        return Response(ContactSerializer(contact).data)

    @extend_schema(
        operation_id="security_contacts_update",
        request=ContactSerializer,
        responses={200: ContactSerializer, **errors(400, 403, 404)},
    )
    def put(self, request: Request, pk: int) -> Response:
        subscription = access.subscription_get_for_user(request.user, pk, write=True)
        data = ContactSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact = contact_save(
            user=signed_in_user(request),
            subscription=subscription,
            data=dict(data.validated_data),
            request=request._request,
        )
        return Response(ContactSerializer(contact).data)
