"""`Idempotency-Key` on POSTs that clients retry: the first response is stored with the effect, in one
transaction, and replayed for the same key; the same key with a different request is refused (422)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

import orjson
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from portal.api.errors import Conflict, Unprocessable
from portal.api.models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEY_LIMIT = 200


def _fingerprint(request: Any) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode() + b" " + request.get_full_path().encode() + b"\n")
    digest.update(request.body)
    return digest.hexdigest()


def idempotent(method: Callable[..., Response]) -> Callable[..., Response]:
    @functools.wraps(method)
    def wrapper(view: Any, request: Any, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER, "").strip()
        if not key:
            return method(view, request, *args, **kwargs)
        if len(key) > KEY_LIMIT or not key.isprintable():
            raise exceptions.ValidationError({HEADER: [f"At most {KEY_LIMIT} printable characters."]})
        fingerprint = _fingerprint(request)
        previous = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
        if previous is not None:
            return _replay(previous, fingerprint)
        try:
            with transaction.atomic():
                response = method(view, request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    body = (
                        orjson.loads(JSONRenderer().render(response.data))
                        if response.data is not None
                        else None
                    )
                    IdempotencyRecord.objects.create(
                        user=request.user,
                        key=key,
                        fingerprint=fingerprint,
                        status_code=response.status_code,
                        body=body,
                        created_at=timezone.now(),
                    )
        except IntegrityError:
            # a concurrent request with the same key committed first: its effect stands, this one's is undone
            previous = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
            if previous is None:
                raise Conflict() from None
            return _replay(previous, fingerprint)
        return response

    return wrapper


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise Unprocessable()
    return Response(record.body, status=record.status_code, headers={"Idempotent-Replayed": "true"})
