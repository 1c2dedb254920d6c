"""Plain request/response values passed between the HTTP plumbing and the endpoint handlers."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, urlencode

import orjson

from .util import arm_error

JSON = "application/json; charset=utf-8"


@dataclass
class Request:
    method: str
    path: str  # percent-decoded, duplicate slashes collapsed, no trailing slash
    raw_path: str  # as sent, without the query
    query_string: str
    query: dict[str, str]  # lower-cased names -> first value
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str  # scheme://host:port as the client addressed us

    def param(self, name: str) -> str | None:
        return self.query.get(name.lower())

    @property
    def api_version(self) -> str | None:
        return self.query.get("api-version")

    def json(self) -> Any:
        if not self.body:
            return None
        return orjson.loads(self.body)

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.raw_path}" + (f"?{self.query_string}" if self.query_string else "")


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = JSON
    close: bool = False  # close the connection after this response
    drop: bool = False  # close the connection without answering (the `timeout` fault)


def json_response(status: int, obj: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, orjson.dumps(obj), headers or [])


def error_response(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    return Response(status, arm_error(code, message), headers or [])


def empty(status: int, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, b"", headers or [], content_type=None)


def parse_query(query_string: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        out.setdefault(key.lower(), value)
    return out


def form_of(req: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body as a dict of first values; {} if it is not UTF-8."""
    try:
        return {k: v[0] for k, v in parse_qs(req.body.decode("utf-8"), keep_blank_values=True).items()}
    except UnicodeDecodeError:
        return {}


def encode_skip_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{seq}".encode()).decode().rstrip("=")


def decode_skip_token(token: str | None) -> int | None:
    """The sequence number of the last item of the previous page; -1 for the first page; None if invalid."""
    if not token:
        return -1
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not raw.startswith("v1:"):
        return None
    try:
        return int(raw[3:])
    except ValueError:
        return None


def next_link(req: Request, token: str) -> str:
    """The request's own URL with `$skipToken` replaced: absolute, built from its scheme://host:port."""
    pairs = [
        (k, v) for k, v in parse_qsl(req.query_string, keep_blank_values=True) if k.lower() != "$skiptoken"
    ]
    pairs.append(("$skipToken", token))
    query = urlencode(pairs, quote_via=quote, safe="$,()'")
    return f"{req.base_url}{req.raw_path}?{query}"


def page_body(items: list[bytes], link: str | None) -> bytes:
    parts = [b'{"value":[', b",".join(items), b"]"]
    if link:
        parts.append(b',"nextLink":')
        parts.append(orjson.dumps(link))
    parts.append(b"}")
    return b"".join(parts)
