"""API tokens (the API's own endpoints) and the Preferences → API tokens page."""

from __future__ import annotations

from collections.abc import Iterable

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.models import ApiToken
from portal.api.schema import errors
from portal.api.selectors import token_get_for_user, tokens_of
from portal.api.services import token_create, token_revoke
from portal.web.formfields import SingleLineField, cleaned
from portal.web.http import AuthedRequest, signed_in_user


class TokenSerializer(serializers.Serializer[ApiToken | Iterable[ApiToken]]):  # one, or many=True
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=80)
    prefix = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="Returned once, now; only a hash is stored")


class Tokens(APIView):
    @extend_schema(
        operation_id="tokens_list", responses={200: TokenSerializer(many=True)}, summary="My API tokens"
    )
    def get(self, request: Request) -> Response:
        return Response(TokenSerializer(tokens_of(signed_in_user(request))[:100], many=True).data)

    @extend_schema(
        operation_id="tokens_create",
        request=TokenSerializer,
        responses={201: TokenCreatedSerializer, **errors(400)},
    )
    def post(self, request: Request) -> Response:
        data = TokenSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        token, raw = token_create(
            user=signed_in_user(request), name=data.validated_data["name"], request=request._request
        )
        return Response({**TokenSerializer(token).data, "token": raw}, status=status.HTTP_201_CREATED)


class TokenDetail(APIView):
    @extend_schema(
        operation_id="tokens_revoke",
        responses={204: None, **errors(404)},
        summary="Revoke a token (its owner; administrators any)",
    )
    def delete(self, request: Request, pk: int) -> Response:
        user = signed_in_user(request)
        token = token_get_for_user(user, pk)
        if token is None:
            raise NotFound("No such token.")
        token_revoke(user=user, token=token, request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- the page ------------------------------------------------------------------------------------------------


class TokenForm(forms.Form):
    name = SingleLineField(required=False, max_length=200)  # the service checks it


@login_required
@require_http_methods(["GET", "POST"])
def tokens_page(request: AuthedRequest) -> HttpResponse:
    raw, error = None, ""
    if request.method == "POST":
        try:
            _token, raw = token_create(
                user=request.user, name=cleaned(TokenForm(request.POST), "name", ""), request=request
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
    return render(
        request,
        "api/tokens.html",
        {
            "page_title": "API tokens",
            "tokens": tokens_of(request.user)[:100],
            "raw": raw,
            "error": error,
            "breadcrumbs": [
                {"label": "Preferences", "url": reverse("web:preferences")},
                {"label": "API tokens"},
            ],
        },
        status=400 if error else 200,
    )


@login_required
@require_POST
def token_revoke_page(request: AuthedRequest, pk: int) -> HttpResponse:
    token = tokens_of(request.user).filter(pk=pk).first()  # the owner only (administrators: the API)
    if token is None:
        raise Http404("No such token.")
    token_revoke(user=request.user, token=token, request=request)
    messages.success(request, f"Token “{token.name}” revoked.")
    return redirect("api:tokens_page")
