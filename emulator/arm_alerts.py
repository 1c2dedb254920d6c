"""Alerts (api 2022-01-01): the four lists, the two gets, the state changes and simulate.

Addressing follows ARM: an alert is reached by the scope of its `id` (resource group or not, location)
and the id's last segment, compared case-insensitively. An alert under `resourceGroups/<rg>/` is
reachable only through the resource-group-level operations, and its `name` (systemAlertId) is not an
address when it differs from the id's last segment.
"""

from __future__ import annotations

import re
import uuid

from . import actions
from .arm import _rg_missing, page_link
from .routing import RG, SEC, SUB, Ctx, route
from .state import Operation
from .util import azure_time
from .web import (
    Response,
    decode_skip_token,
    empty,
    encode_skip_token,
    error_response,
    json_response,
    page_body,
)

LOC = r"/locations/(?P<loc>[^/]+)"
NAME = r"/alerts/(?P<name>[^/]+)"
_ACTIONS = {"dismiss": "Dismissed", "resolve": "Resolved", "activate": "Active", "inprogress": "InProgress"}


def _rg_check(ctx: Ctx, m: re.Match[str]) -> Response | None:
    rg = m.groupdict().get("rg")
    assert ctx.sub is not None
    return _rg_missing(ctx, rg) if rg else None


def _list(ctx: Ctx, m: re.Match[str]) -> Response:
    missing = _rg_check(ctx, m)
    if missing:
        return missing
    assert ctx.sub is not None
    after = decode_skip_token(ctx.req.param("$skiptoken"))
    if after is None:
        return error_response(400, "InvalidSkipToken", "The $skipToken is not valid.")
    groups = m.groupdict()
    store = ctx.rt.state.store(ctx.sub.subscription_id)
    with ctx.rt.state.lock:
        items, last, more = store.page(
            after=after, limit=ctx.rt.page_size, rg=groups.get("rg"), location=groups.get("loc")
        )
    return Response(200, page_body(items, page_link(ctx, encode_skip_token(last) if more else None)))


@route("GET", SUB + SEC + r"/alerts", "alerts.list")
def alerts_list(ctx: Ctx, m: re.Match[str]) -> Response:
    return _list(ctx, m)


@route("GET", SUB + RG + SEC + r"/alerts", "alerts.list")
def alerts_list_rg(ctx: Ctx, m: re.Match[str]) -> Response:
    return _list(ctx, m)


@route("GET", SUB + SEC + LOC + r"/alerts", "alerts.list")
def alerts_list_region(ctx: Ctx, m: re.Match[str]) -> Response:
    return _list(ctx, m)


@route("GET", SUB + RG + SEC + LOC + r"/alerts", "alerts.list")
def alerts_list_rg_region(ctx: Ctx, m: re.Match[str]) -> Response:
    return _list(ctx, m)


def _not_found(m: re.Match[str]) -> Response:
    return error_response(
        404, "NotFound", f"The alert '{m['name']}' was not found in location '{m['loc']}' for this scope."
    )


def _get(ctx: Ctx, m: re.Match[str]) -> Response:
    missing = _rg_check(ctx, m)
    if missing:
        return missing
    assert ctx.sub is not None
    store = ctx.rt.state.store(ctx.sub.subscription_id)
    with ctx.rt.state.lock:
        rec = store.find(m.groupdict().get("rg"), m["loc"], m["name"])
        raw = rec.raw() if rec is not None else None
    if raw is None:
        return _not_found(m)
    return Response(200, raw)


@route("GET", SUB + SEC + LOC + NAME, "alerts.get")
def alerts_get(ctx: Ctx, m: re.Match[str]) -> Response:
    return _get(ctx, m)


@route("GET", SUB + RG + SEC + LOC + NAME, "alerts.get")
def alerts_get_rg(ctx: Ctx, m: re.Match[str]) -> Response:
    return _get(ctx, m)


def _state(ctx: Ctx, m: re.Match[str]) -> Response:
    missing = _rg_check(ctx, m)
    if missing:
        return missing
    assert ctx.sub is not None
    sid = ctx.sub.subscription_id
    with ctx.rt.state.lock:
        rec = ctx.rt.state.store(sid).find(m.groupdict().get("rg"), m["loc"], m["name"])
        if rec is None:
            return _not_found(m)
        actions.set_status(ctx.rt.state, sid, rec, _ACTIONS[m["action"].lower()])
    return empty(204)


_ACTION = r"/(?P<action>dismiss|resolve|activate|inProgress)"


@route("POST", SUB + SEC + LOC + NAME + _ACTION, "alerts.state", kind="writes")
def alerts_state(ctx: Ctx, m: re.Match[str]) -> Response:
    return _state(ctx, m)


@route("POST", SUB + RG + SEC + LOC + NAME + _ACTION, "alerts.state", kind="writes")
def alerts_state_rg(ctx: Ctx, m: re.Match[str]) -> Response:
    return _state(ctx, m)


@route("POST", SUB + SEC + LOC + r"/alerts/default/simulate", "alerts.simulate", kind="writes")
def alerts_simulate(ctx: Ctx, m: re.Match[str]) -> Response:
    """202 with `Azure-AsyncOperation` + `Location`; the operation is already done when first polled."""
    assert ctx.sub is not None
    try:
        body = ctx.req.json()
    except ValueError:
        return error_response(400, "InvalidRequestContent", "The request content was not valid JSON.")
    state = ctx.rt.state
    try:
        created = actions.simulate(state, ctx.sub.subscription_id, m["loc"], body)
    except actions.ActionError as exc:
        return error_response(exc.status, exc.code, exc.message)
    op_id = str(uuid.uuid4())
    now = azure_time(state.clock.now())
    with state.lock:
        state.operations[op_id] = Operation(
            op_id, ctx.sub.subscription_id, "Succeeded", now, now, [c.id for c in created]
        )
    base = f"{ctx.req.base_url}/subscriptions/{ctx.sub.subscription_id}/providers/Microsoft.Security/locations/{m['loc']}"
    version = ctx.req.api_version or "2022-01-01"
    headers = [
        ("Azure-AsyncOperation", f"{base}/operationStatuses/{op_id}?api-version={version}"),
        ("Location", f"{base}/operationResults/{op_id}?api-version={version}"),
        ("Retry-After", "0"),
    ]
    return empty(202, headers)


def _operation(ctx: Ctx, m: re.Match[str]) -> Operation | None:
    assert ctx.sub is not None
    op = ctx.rt.state.operations.get(m["op"])
    if op is None or op.subscription_id.lower() != ctx.sub.subscription_id.lower():
        return None
    return op


@route("GET", SUB + SEC + LOC + r"/operationStatuses/(?P<op>[^/]+)", "operations.get")
def operation_status(ctx: Ctx, m: re.Match[str]) -> Response:
    op = _operation(ctx, m)
    if op is None:
        return error_response(404, "NotFound", f"Operation '{m['op']}' was not found.")
    return json_response(
        200,
        {
            "id": ctx.req.raw_path,
            "name": op.operation_id,
            "status": op.status,
            "startTime": op.start,
            "endTime": op.end,
        },
    )


@route("GET", SUB + SEC + LOC + r"/operationResults/(?P<op>[^/]+)", "operations.result")
def operation_result(ctx: Ctx, m: re.Match[str]) -> Response:
    op = _operation(ctx, m)
    if op is None:
        return error_response(404, "NotFound", f"Operation '{m['op']}' was not found.")
    return empty(204)
