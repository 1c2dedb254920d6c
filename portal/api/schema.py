"""OpenAPI pieces: the token security scheme and the one error shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # drf-spectacular's __init_subclass__ (it registers the extension) is unannotated
    target_class = "portal.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "A token from Preferences → API tokens."}


class ErrorDetailSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(  # type: ignore[assignment]  # the error's "fields" key: DRF's metaclass takes declared fields off the class, Serializer.fields stays
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


class ErrorSerializer(serializers.Serializer[dict[str, Any]]):
    error = ErrorDetailSerializer()


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """The error responses an endpoint documents (always 401 and 429; others as given)."""
    text = {
        400: "Invalid input (field errors in error.fields)",
        401: "Not signed in / bad token",
        403: "Your role on the subscription does not allow this",
        404: "Not found (or not yours to see)",
        409: "Conflict",
        422: "Idempotency-Key reused for a different request",
        429: "Rate limited (Retry-After)",
    }
    return {
        code: OpenApiResponse(ErrorSerializer, description=text.get(code, "Error"))
        for code in sorted({401, 429, *codes})
    }


__all__ = ["ErrorSerializer", "errors"]
