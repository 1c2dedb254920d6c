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


def claim(claims: dict[str, Any], names: tuple[str, ...]) -> str:
    """The first non-empty string among the claim's spellings `names`, or ""."""
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
    if moment.tzinfo is UTC:
        return moment
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_EMPTY: dict[str, Any] = {}
_OID, _OID_URI = OID_CLAIMS
_UPN, _UPN_URI = UPN_CLAIMS
_APP, _APP_URI = APP_CLAIMS


def _text(value: Any) -> str:
    return value if type(value) is str else str(value or "")


def parse_record(line: bytes) -> Record:
    """One line as a Record; NotARecord says why it is not one. Written for speed (most of a poll's time is here):
    exact type checks, positional construction, the claims' usual spellings looked up directly."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise NotARecord(f"not JSON: {exc}") from exc
    if type(doc) is not dict:
        raise NotARecord("not a JSON object")
    get = doc.get
    operation = get("operationName")
    if type(operation) is not str or not operation:
        raise NotARecord("no operationName")
    resource = get("resourceId")
    vault = resource.lower() if type(resource) is str else ""
    if "/vaults/" not in vault:
        raise NotARecord("no key vault resourceId")
    identity = get("identity")
    claims = identity.get("claim") if type(identity) is dict else None
    if type(claims) is not dict:
        claims = _EMPTY
    object_id = claims.get(_OID_URI) or claims.get(_OID) or ""
    if type(object_id) is not str:
        object_id = claim(claims, OID_CLAIMS)
    app_id = claims.get(_APP) or claims.get(_APP_URI) or ""
    if type(app_id) is not str:
        app_id = claim(claims, APP_CLAIMS)
    upn = claims.get(_UPN_URI) or claims.get(_UPN) or ""
    if type(upn) is not str:
        upn = claim(claims, UPN_CLAIMS)
    props = get("properties")
    if type(props) is not dict:
        props = _EMPTY
    status = props.get("httpStatusCode")
    if type(status) is not int:
        status = int(status) if type(status) is str and status.isdigit() else None
    return Record(
        _time(get("time")),
        vault,
        operation,
        _text(get("resultType")),
        status,
        _text(get("callerIpAddress")),
        object_id.lower(),
        app_id.lower(),
        upn.lower(),
        _text(props.get("id")),
        _text(props.get("requestUri")),
        _text(props.get("clientInfo")),
        line,
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
    lines = data[:end].split(b"\n")
    chunk.lines = len(lines)
    records, malformed = chunk.records, chunk.malformed
    append = records.append
    start = 0
    for number, line in enumerate(lines, 1):
        offset, start = start, start + len(line) + 1
        if number <= skip_lines:
            continue
        if line[-1:] == b"\r":
            line = line[:-1]
        if not line.strip():
            continue
        try:
            append(parse_record(line))
        except NotARecord as exc:
            malformed.append(Malformed(offset, str(exc), line))
    return chunk
