"""One error shape for every API error: {"error": {"status", "code", "message", "fields"?}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

NON_FIELD = "non_field_errors"


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [f"{k}: {m}" for k, v in detail.items() for m in _flatten(v)]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item)]
    return [str(detail)]


def _fields(detail: Any) -> dict[str, list[str]]:
    if not isinstance(detail, dict):
        return {}
    return {str(k): _flatten(v) for k, v in detail.items()}


def handle(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Django's own ValidationError / PermissionDenied / Http404 from services and selectors become API errors."""
    if isinstance(exc, DjangoValidationError):
        detail: Any = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD: exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = getattr(exc, "detail", None)
    fields = _fields(detail) if isinstance(exc, exceptions.ValidationError) else {}
    if isinstance(exc, exceptions.ValidationError):
        message = "Some input is not valid." if fields else " ".join(_flatten(detail))
        if set(fields) == {NON_FIELD}:
            message, fields = " ".join(fields[NON_FIELD]), {}
    else:
        message = " ".join(_flatten(detail)) if detail is not None else str(exc)
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    code = (
        codes
        if isinstance(codes, str)
        else ("invalid" if isinstance(exc, exceptions.ValidationError) else "error")
    )
    body: dict[str, Any] = {"status": response.status_code, "code": code, "message": message}
    if fields:
        body["fields"] = fields
    response.data = {"error": body}
    return response


class Conflict(exceptions.APIException):
    status_code = 409
    default_detail = "The same request is still being processed."
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    status_code = 422
    default_detail = "This Idempotency-Key was used for a different request."
    default_code = "idempotency_key_reused"
