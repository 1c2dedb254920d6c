"""Azure Resource Graph, for exactly the query shapes the portal sends (AZURE.md §8).

`POST /providers/Microsoft.ResourceGraph/resources` with `{"subscriptions": [...], "query": "<KQL>", "options":
{"$top", "$skip", "$skipToken", "resultFormat"}}` answers `{"totalRecords", "count", "resultTruncated", "$skipToken"?,
"data"}` over the `securityresources` table: one row per Defender alert, in Resource Graph's shape (the `type` column
lower-cased, `properties` with PascalCase keys, as Microsoft's sample queries read them).

The accepted subset (anything else is Resource Graph's 400: `BadRequest` with `InvalidQuery`, and `ParserFailure`
for what does not parse, so a new query shape cannot silently return wrong data):

    securityresources
    | where <condition> [and <condition> ...]         (any number of where stages)
    | summarize count() by <key> [, <key>]            (at most one; the count column is `count_`)
    | project <column> [, <column> ...]               (at most one, last)

    condition:  type (=~ | ==) '<literal>'
                subscriptionId (in~ | in) ('<id>', ...)   |   subscriptionId (=~ | ==) '<id>'
                todatetime(properties.<Field>) (> | >= | < | <=) datetime(<ISO 8601>)
                tostring(properties.<Field>) (=~ | == | != | in~ | in) '<literal>' | ('<literal>', ...)
    key:        subscriptionId   |   <Name> = tostring(properties.<Field>)
    column:     id | name | type | subscriptionId | tenantId | location | resourceGroup | properties
                | <Name> = tostring(properties.<Field>)

Property access is case-sensitive, as in KQL on a dynamic column: `properties.status` is null (and matches nothing),
`properties.Status` is the status. `==` on strings is case-sensitive, `=~` and `in~` are not.

Throttling is per user (the principal), not per subscription: at most `limit` queries in every `window` seconds (15
in 5 by default); every answer carries `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after` (hh:mm:ss),
and a query over the quota gets 429 `RateLimiting` without `Retry-After` (Resource Graph does not document one).
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from .routing import Ctx, route
from .web import Response, json_response

ALERT_TYPE = "microsoft.security/locations/alerts"
PLAIN_COLUMNS = (
    "id",
    "name",
    "type",
    "subscriptionId",
    "tenantId",
    "location",
    "resourceGroup",
    "properties",
)
DEFAULT_TOP = 100
MAX_TOP = 1000
ALERT_ID_RE = re.compile(
    r"^/subscriptions/[^/]+(?:/resourceGroups/(?P<rg>[^/]+))?/providers/Microsoft\.Security/locations/(?P<loc>[^/]+)/",
    re.IGNORECASE,
)


class QueryError(Exception):
    def __init__(self, message: str, *, parser: tuple[int, str] | None = None) -> None:
        super().__init__(message)
        self.parser = parser  # (character position, token) of a ParserFailure


# -- quota ------------------------------------------------------------------------------------------------------------
class Quota:
    """Per principal: at most `limit` queries in any `window` seconds (a sliding window, as the service's)."""

    def __init__(self, limit: int = 15, window: float = 5.0) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def configure(self, limit: int, window: float) -> None:
        with self._lock:
            self.limit, self.window = limit, window
            self._seen.clear()

    def take(self, principal: str) -> tuple[bool, int, float]:
        """(allowed, remaining after this query, seconds until a slot frees)."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen.setdefault(principal.lower(), deque())
            while seen and now - seen[0] >= self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                return False, 0, self.window - (now - seen[0])
            seen.append(now)
            resets = self.window - (now - seen[0])
            return True, self.limit - len(seen), resets


def _hms(seconds: float) -> str:
    whole = max(0, math.ceil(seconds))  # rounded up: waiting that long frees a slot
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


# -- the query --------------------------------------------------------------------------------------------------------
Row = dict[str, Any]
Predicate = Callable[[Row], bool]


def _props(row: Row) -> Any:
    """A row's properties (an empty Properties is falsy: never `or {}` it)."""
    value = row.get("properties")
    return {} if value is None else value


@dataclass
class Column:
    name: str
    field: str | None = None  # tostring(properties.<field>)

    def value(self, row: Row) -> Any:
        if self.field is None:
            value = row.get(self.name)
            return value.whole() if isinstance(value, Properties) else value
        value = _props(row).get(self.field)
        return None if value is None else value if isinstance(value, str) else orjson.dumps(value).decode()


@dataclass
class Query:
    predicates: list[Predicate] = field(default_factory=list)
    group_by: list[Column] | None = None
    project: list[Column] | None = None


def _split(text: str, sep: str) -> list[str]:
    """Split on `sep` outside quotes and parentheses."""
    parts, depth, quote, start = [], 0, "", 0
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i += len(sep)
            continue
        i += 1
    if quote or depth:
        raise QueryError("unbalanced quotes or parentheses", parser=(len(text), text[-10:]))
    parts.append(text[start:])
    return [p.strip() for p in parts]


LITERAL = r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\""
_LIT_RE = re.compile(LITERAL)


def _literals(text: str) -> list[str]:
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        one = _LIT_RE.fullmatch(text)
        if not one:
            raise QueryError(f"expected a string literal, not {text!r}", parser=(0, text[:20]))
        return [one.group(1) if one.group(1) is not None else one.group(2)]
    values = []
    for part in _split(text[1:-1], ","):
        one = _LIT_RE.fullmatch(part)
        if not one:
            raise QueryError(f"expected a string literal, not {part!r}", parser=(0, part[:20]))
        values.append(one.group(1) if one.group(1) is not None else one.group(2))
    return values


def _compare_text(op: str, wanted: list[str]) -> Callable[[Any], bool]:
    if op in ("=~", "in~"):
        lowered = {w.lower() for w in wanted}
        return lambda v: isinstance(v, str) and v.lower() in lowered
    if op in ("==", "in"):
        return lambda v: isinstance(v, str) and v in wanted
    if op == "!=":
        return lambda v: not (isinstance(v, str) and v in wanted)
    raise QueryError(f"operator {op} is not supported here")


def _datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().strip("'\""))
    except ValueError as exc:
        raise QueryError(f"not a datetime: {text!r}", parser=(0, text[:20])) from exc
    if value.tzinfo is None:
        raise QueryError("a datetime needs its time zone (Z)")
    return value


_TYPE_RE = re.compile(r"type\s*(=~|==)\s*(.+)", re.DOTALL)
_SUB_RE = re.compile(r"subscriptionId\s*(in~|in|=~|==)\s*(.+)", re.DOTALL)
_TIME_RE = re.compile(r"todatetime\(\s*properties\.(\w+)\s*\)\s*(>=|>|<=|<)\s*datetime\((.+)\)", re.DOTALL)
_PROP_RE = re.compile(r"tostring\(\s*properties\.(\w+)\s*\)\s*(=~|==|!=|in~|in)\s*(.+)", re.DOTALL)
_OPS: dict[str, Callable[[datetime, datetime], bool]] = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def _condition(text: str) -> Predicate:
    if m := _TYPE_RE.fullmatch(text):
        test = _compare_text(m[1], _literals(m[2]))
        return lambda row: test(row["type"])
    if m := _SUB_RE.fullmatch(text):
        test = _compare_text(m[1], _literals(m[2]))
        return lambda row: test(row["subscriptionId"])
    if m := _TIME_RE.fullmatch(text):
        name, compare, bound = m[1], _OPS[m[2]], _datetime(m[3])

        def at(row: Row) -> bool:
            raw = _props(row).get(name)  # case-sensitive, as KQL on a dynamic column
            if not isinstance(raw, str):
                return False
            try:
                value = datetime.fromisoformat(raw)
            except ValueError:
                return False
            return value.tzinfo is not None and compare(value, bound)

        return at
    if m := _PROP_RE.fullmatch(text):
        name, test = m[1], _compare_text(m[2], _literals(m[3]))
        return lambda row: test(_props(row).get(name))
    raise QueryError(f"this condition is not in the emulator's accepted subset: {text!r}")


_NAMED_RE = re.compile(r"(\w+)\s*=\s*tostring\(\s*properties\.(\w+)\s*\)")


def _column(text: str, *, allowed: tuple[str, ...]) -> Column:
    if text in allowed:
        return Column(text)
    if m := _NAMED_RE.fullmatch(text):
        return Column(m[1], m[2])
    raise QueryError(f"this column is not in the emulator's accepted subset: {text!r}")


def parse(text: str) -> Query:
    if not isinstance(text, str) or not text.strip():
        raise QueryError("the query is empty", parser=(0, ""))
    stages = _split(text.strip(), "|")
    if stages[0] != "securityresources":
        raise QueryError(f"only the securityresources table is emulated, not {stages[0]!r}")
    query = Query()
    for stage in stages[1:]:
        head, _, rest = stage.partition(" ")
        rest = rest.strip()
        if query.project is not None:
            raise QueryError("project must be the last stage")
        if head == "where" and rest:
            query.predicates += [_condition(c) for c in _split(rest, " and ")]
        elif head == "summarize" and query.group_by is None:
            m = re.fullmatch(r"count\(\)\s+by\s+(.+)", rest, re.DOTALL)
            if not m:
                raise QueryError(f"only `summarize count() by ...` is emulated, not {rest!r}")
            query.group_by = [_column(k, allowed=("subscriptionId",)) for k in _split(m[1], ",")]
        elif head == "project" and rest:
            columns = [_column(c, allowed=PLAIN_COLUMNS) for c in _split(rest, ",")]
            if query.group_by is not None:
                grouped = {c.name for c in query.group_by} | {"count_"}
                if any(c.field is not None or c.name not in grouped for c in columns):
                    raise QueryError("after summarize, project only its columns")
            query.project = columns
        elif not stage:
            raise QueryError("an empty stage", parser=(0, "|"))
        else:
            raise QueryError(f"the operator {head!r} is not in the emulator's accepted subset")
    return query


def pascal(value: Any) -> Any:
    """The REST API's camelCase keys as Resource Graph shows them (properties.Status, Entities[0].HostName)."""
    if isinstance(value, dict):
        return {
            (k[:1].upper() + k[1:] if k and not k.startswith("$") else k): pascal(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [pascal(v) for v in value]
    return value


class Properties(dict[str, Any]):
    """An alert's `properties` as Resource Graph names them, converted key by key when read (a query over ten
    thousand alerts reads two of their keys, not all of them): `get("Status")` reads the REST `status`."""

    def __init__(self, rest: dict[str, Any]) -> None:
        super().__init__()
        self._rest = rest

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        if not key or key.startswith("$") or not key[0].isupper():
            return default  # PascalCase only: `properties.status` is null, as in KQL on the real column
        camel = key[0].lower() + key[1:]
        return pascal(self._rest[camel]) if camel in self._rest else default

    def whole(self) -> dict[str, Any]:
        return pascal(self._rest)  # type: ignore[no-any-return]


def alert_row(doc: dict[str, Any], subscription_id: str, tenant_id: str) -> Row:
    m = ALERT_ID_RE.match(doc.get("id", ""))
    return {
        "id": doc.get("id"),
        "name": doc.get("name"),
        "type": str(doc.get("type", "")).lower(),
        "tenantId": tenant_id,
        "kind": "",
        "location": (m["loc"] if m else "").lower(),
        "resourceGroup": (m["rg"] or "").lower() if m else "",
        "subscriptionId": subscription_id,
        "managedBy": "",
        "sku": None,
        "plan": None,
        "properties": Properties(doc.get("properties") or {}),
        "tags": None,
        "identity": None,
        "zones": None,
        "extendedLocation": None,
    }


def run(query: Query, rows: Iterator[Row]) -> tuple[list[str], list[Row]]:
    """(columns, rows) of the query over `rows`."""
    matching = (r for r in rows if all(p(r) for p in query.predicates))
    if query.group_by is not None:
        counts: dict[tuple[Any, ...], int] = {}
        for row in matching:
            key = tuple(c.value(row) for c in query.group_by)
            counts[key] = counts.get(key, 0) + 1
        names = [c.name for c in query.group_by] + ["count_"]
        out = [dict(zip(names, (*key, n), strict=True)) for key, n in sorted(counts.items(), key=str)]
        if query.project is not None:
            names = [c.name for c in query.project]
            out = [{n: r[n] for n in names} for r in out]
        return names, out
    columns = query.project or [Column(c) for c in (*PLAIN_COLUMNS[:-1], "kind", "managedBy", "properties")]
    return [c.name for c in columns], [{c.name: c.value(r) for c in columns} for r in matching]


def _token(offset: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"o": offset, "q": fingerprint})).decode()


def _offset(token: str, fingerprint: str) -> int:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
        if data["q"] != fingerprint:
            raise ValueError("another query's token")
        return int(data["o"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise QueryError("the $skipToken is not valid for this query") from exc


def _bad_request(exc: QueryError, quota_headers: list[tuple[str, str]]) -> Response:
    details: list[dict[str, Any]] = [
        {
            "code": "InvalidQuery",
            "message": "Query is invalid. Please refer to the documentation for the Azure Resource Graph service "
            f"and fix the error before retrying. ({exc})",
        }
    ]
    if exc.parser is not None:
        details.append(
            {
                "code": "ParserFailure",
                "message": "ParserFailure",
                "line": 1,
                "characterPositionInLine": exc.parser[0],
                "token": exc.parser[1],
            }
        )
    body = {
        "error": {
            "code": "BadRequest",
            "message": "Please provide below info when asking for support: timestamp = emulator.",
            "details": details,
        }
    }
    return json_response(400, body, quota_headers)


@route("POST", r"/providers/Microsoft\.ResourceGraph/resources", "resourcegraph.query", scope="tenant")
def resources(ctx: Ctx, m: re.Match[str]) -> Response:
    assert ctx.principal is not None
    allowed, remaining, resets = ctx.rt.resource_graph_quota.take(ctx.principal.object_id)
    quota_headers = [
        ("x-ms-user-quota-remaining", str(remaining)),
        ("x-ms-user-quota-resets-after", _hms(resets)),
    ]
    if not allowed:
        return json_response(
            429,
            {
                "error": {
                    "code": "RateLimiting",
                    "message": "Please provide below info when asking for support: the user quota is exhausted.",
                }
            },
            quota_headers,
        )
    try:
        body = ctx.req.json()
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return _bad_request(QueryError("the body needs a query"), quota_headers)
    options = body.get("options") or {}
    try:
        query = parse(body["query"])
        top = int(options.get("$top") or DEFAULT_TOP)
        if not 1 <= top <= MAX_TOP:
            raise QueryError(f"$top must be between 1 and {MAX_TOP}")
        fingerprint = hashlib.sha256(
            orjson.dumps([body["query"], sorted(body.get("subscriptions") or [])])
        ).hexdigest()[:16]
        offset = int(options.get("$skip") or 0)
        if options.get("$skipToken"):
            offset = _offset(str(options["$skipToken"]), fingerprint)
    except (QueryError, ValueError, TypeError) as exc:
        return _bad_request(exc if isinstance(exc, QueryError) else QueryError(str(exc)), quota_headers)
    state = ctx.rt.state
    wanted = {str(s).lower() for s in body.get("subscriptions") or []}
    with state.lock:
        subs = [
            s
            for s in state.subscriptions_of(ctx.principal.tenant_id)
            if not wanted or s.subscription_id.lower() in wanted
        ]
        source: list[Row] = []
        for sub in subs:
            store = state.alerts.get(sub.subscription_id.lower())
            if store is not None:
                source += [alert_row(doc, sub.subscription_id, sub.tenant_id) for doc in store.iter_docs()]
    columns, rows = run(query, iter(source))
    page = rows[offset : offset + top]
    answer: dict[str, Any] = {
        "totalRecords": len(rows),
        "count": len(page),
        "resultTruncated": "true" if ctx.result_truncated else "false",
        "facets": [],
    }
    if offset + top < len(rows):
        answer["$skipToken"] = _token(offset + top, fingerprint)
    if options.get("resultFormat") == "table":
        answer["data"] = {
            "columns": [{"name": c, "type": "string"} for c in columns],
            "rows": [[r.get(c) for c in columns] for r in page],
        }
    else:
        answer["data"] = page
    return json_response(200, answer, quota_headers)
