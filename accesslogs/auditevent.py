"""Key Vault's own access log (diagnostic category `AuditEvent`) as Azure Monitor writes it to a storage account
(AZURE.md §7): JSON Lines in append blobs, one record per line, no wrapper.

Only complete lines are records: a blob may end mid-line (Storage keeps whatever bytes an append carries), and that
tail waits for the next read. A line that is not a record (not JSON, not an object, no time or operation) is kept
aside with its byte offset and the reason, never dropped silently.

Claims come in two spellings (`oid` or the objectidentifier URI, `upn` or the xmlsoap URI); `durationMs` is a string
in Azure's own sample; `properties` is an open dict whose `httpStatusCode`, `id`, `requestUri` and `clientInfo` are
read when present.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

OID_CLAIMS = ("oid", "http://schemas.microsoft.com/identity/claims/objectidentifier")
UPN_CLAIMS = ("upn", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn")
APP_CLAIMS = ("appid", "http://schemas.microsoft.com/identity/claims/appid")


# not frozen: a frozen dataclass's __init__ goes through object.__setattr__ (3% of the bench's time)
@dataclass(slots=True)
class Record:
    time: datetime
    vault: str  # the vault's ARM id, lower-cased
    operation: str  # operationName, e.g. SecretGet
    result: str  # resultType, e.g. Success
    status: int | None  # properties.httpStatusCode
    caller_ip: str
    object_id: str
    app_id: str
    upn: str
    target: str  # properties.id: the vault, key, secret or certificate URI
    request_uri: str
    user_agent: str
    line: bytes  # the line as stored: the evidence

    @property
    def identity(self) -> str:
        """Who called: the object id, else the app id, else the UPN; "" for an unauthenticated request."""
        return self.object_id or self.app_id or self.upn

    @property
    def succeeded(self) -> bool:
        return self.result.lower() == "success" and (self.status is None or self.status < 400)


@dataclass(frozen=True, slots=True)
class Malformed:
    offset: int  # of the line's first byte in the bytes parsed
    reason: str
    line: bytes


@dataclass
class Chunk:
    records: list[Record] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    consumed: int = 0  # bytes up to and including the last newline: where the next read starts
    lines: int = 0  # complete lines consumed (records, malformed and blank)


class NotARecord(ValueError):
    pass


def _claim(claims: dict[str, Any], names: tuple[str, ...]) -> str:
    for name in names:
        value = claims.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def _time(value: Any) -> datetime:
    if not isinstance(value, str) or not value:
        raise NotARecord("no time")
    try:  # Python 3.11 reads "Z" and Azure's 7 fractional digits (truncated to 6)
        moment = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise NotARecord(f"time {value!r} is not ISO 8601") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_record(line: bytes) -> Record:
    """One line as a Record; NotARecord says why it is not one."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise NotARecord(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise NotARecord("not a JSON object")
    operation = doc.get("operationName")
    if not isinstance(operation, str) or not operation:
        raise NotARecord("no operationName")
    resource = doc.get("resourceId")
    if not isinstance(resource, str) or "/vaults/" not in resource.lower():
        raise NotARecord("no key vault resourceId")
    identity = doc.get("identity")
    claims = identity.get("claim") if isinstance(identity, dict) else None
    claims = claims if isinstance(claims, dict) else {}
    props = doc.get("properties")
    props = props if isinstance(props, dict) else {}
    status = props.get("httpStatusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    return Record(
        time=_time(doc.get("time")),
        vault=resource.lower(),
        operation=operation,
        result=str(doc.get("resultType") or ""),
        status=status if isinstance(status, int) and not isinstance(status, bool) else None,
        caller_ip=str(doc.get("callerIpAddress") or ""),
        object_id=_claim(claims, OID_CLAIMS).lower(),
        app_id=_claim(claims, APP_CLAIMS).lower(),
        upn=_claim(claims, UPN_CLAIMS).lower(),
        target=str(props.get("id") or ""),
        request_uri=str(props.get("requestUri") or ""),
        user_agent=str(props.get("clientInfo") or ""),
        line=line,
    )


def parse_chunk(data: bytes, *, skip_lines: int = 0) -> Chunk:
    """The complete lines of `data` (bytes read from a blob at a line boundary) as records; the tail after the last
    newline is left for the next read. The first `skip_lines` complete lines are counted but not parsed (consumed
    before the blob was rewritten)."""
    chunk = Chunk()
    end = data.rfind(b"\n")
    if end < 0:
        return chunk
    chunk.consumed = end + 1
    start = 0
    while start < chunk.consumed:
        stop = data.index(b"\n", start)
        line = data[start:stop].rstrip(b"\r")
        chunk.lines += 1
        if chunk.lines > skip_lines and line.strip():
            try:
                chunk.records.append(parse_record(line))
            except NotARecord as exc:
                chunk.malformed.append(Malformed(start, str(exc), line))
        start = stop + 1
    return chunk
