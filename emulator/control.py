"""The control API under `/_emulator/` (JSON, `Authorization: Bearer <control token>`).

| method and path                      | does                                                              |
|--------------------------------------|-------------------------------------------------------------------|
| POST   /_emulator/alerts             | add alert(s) now (suppression rules apply); returns their ids     |
| PATCH  /_emulator/alerts             | change an alert upstream: `{"id": <ARM id>, "properties": {...}}`  |
| GET    /_emulator/alerts?id=<ARM id>  | read one alert as stored                                          |
| DELETE /_emulator/alerts?id=<ARM id>  | Azure stops listing the alert (its 90-day retention ended)        |
| POST   /_emulator/faults             | inject a fault; GET lists them; DELETE clears them                |
| POST   /_emulator/reset              | back to the seeded state; clears faults, request log, clock offset|
|                                      | and the saved state (persist.py)                                  |
| GET/POST /_emulator/clock            | read / advance the emulator clock: `{"advance_seconds": n}`       |
| POST   /_emulator/throttle           | `{"enabled": bool, "limits"?: [{"subscription_id", "kind", "capacity", "refill_per_second"}]}` |
| POST   /_emulator/resource-graph-quota | `{"limit": n, "window_seconds": s}` (Resource Graph's per-user quota) |
| GET    /_emulator/requests?since=<n> | the request log; DELETE clears it                                 |
| GET    /_emulator/state              | a summary (counts per subscription, plans, ...)                   |
| GET    /_emulator/connections        | the tenants' credentials and subscriptions (connections.json)     |
| POST   /_emulator/churn              | benchmarks: hold back / release new alerts and change alerts upstream |
| GET    /_emulator/accesslogs         | Azurite and the access-log writer: available, reason, sinks, ...   |
| POST   /_emulator/accesslogs/append  | `{"vault", "scenario"?, "count"?, "split"?}` or `{"vault", "lines"}` / `{"vault", "raw"}` |
| POST   /_emulator/accesslogs/rewrite | `{"blob", "raw", "account"?}`: replace a blob's content            |
| POST   /_emulator/accesslogs/writer  | `{"enabled"?, "interval_seconds"?, "attack_interval_seconds"?}`     |
| POST   /_emulator/accesslogs/tick    | one background-writer tick now                                     |
"""

from __future__ import annotations

import hmac
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import orjson

from . import actions
from .accesslogs import AccessLogError
from .faults import FaultError
from .web import Request, Response, error_response, json_response

if TYPE_CHECKING:
    from .server import Runtime


def _body(req: Request) -> Any:
    try:
        return req.json() or {}
    except orjson.JSONDecodeError:
        return None


_STATE_CHANGES = {"alerts", "clock", "churn"}  # control calls that change what Azure would keep


def handle(rt: Runtime, req: Request) -> Response:
    auth = req.headers.get("authorization", "")
    supplied = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    if not supplied or not hmac.compare_digest(supplied.encode(), rt.control_token.encode()):
        return error_response(
            401,
            "AuthenticationFailed",
            "The control API needs 'Authorization: Bearer <EMULATOR_CONTROL_TOKEN>'.",
            [("WWW-Authenticate", 'Bearer realm="emulator-control"')],
        )
    path = req.path[len("/_emulator") :].strip("/").lower()
    method = req.method
    body = _body(req) if method in ("POST", "PATCH", "PUT") else {}
    if body is None:
        return error_response(400, "InvalidRequestContent", "The request content was not valid JSON.")
    try:
        resp = _dispatch(rt, req, path, method, body)
        if path in _STATE_CHANGES and method in ("POST", "PATCH", "DELETE") and resp.status < 400:
            rt.changed()  # Azure's state: kept across restarts (persist.py)
        return resp
    except actions.ActionError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except FaultError as exc:
        return error_response(400, "InvalidFault", str(exc))
    except AccessLogError as exc:
        return error_response(exc.status, exc.code, exc.message)


def _dispatch(rt: Runtime, req: Request, path: str, method: str, body: Any) -> Response:
    state = rt.state
    if path == "alerts":
        if method == "POST":
            created = actions.create_alerts(state, body)
            return json_response(
                201, {"ids": [c.id for c in created], "alerts": [asdict(c) for c in created]}
            )
        if method == "PATCH":
            return json_response(200, actions.patch_alert(state, body))
        if method in ("GET", "DELETE"):
            found = state.find_alert_by_id(req.param("id") or "")
            if found is None:
                return error_response(404, "NotFound", "No alert with that id.")
            if method == "DELETE":  # Azure no longer lists it (its 90-day retention ended)
                with state.lock:
                    state.alerts[found[0]].remove(found[1])
                return json_response(200, {"removed": found[1].doc["id"]})
            return json_response(200, found[1].doc)
    elif path == "faults":
        if method == "POST":
            return json_response(201, rt.faults.add(body).as_dict())
        if method == "GET":
            return json_response(200, {"faults": rt.faults.list()})
        if method == "DELETE":
            rt.faults.clear()
            return json_response(200, {"faults": []})
    elif path == "reset" and method == "POST":
        rt.reset()
        return json_response(200, {"reset": True, "now": state.clock.now().isoformat()})
    elif path == "clock":
        if method == "POST":
            seconds = body.get("advance_seconds") if isinstance(body, dict) else None
            if not isinstance(seconds, int | float):
                return error_response(400, "InvalidInputError", "'advance_seconds' (a number) is required")
            state.clock.advance(seconds)
        if method in ("POST", "GET"):
            return json_response(
                200, {"now": state.clock.now().isoformat(), "offset_seconds": state.clock.offset_seconds}
            )
    elif path == "throttle" and method in ("POST", "GET"):
        if method == "POST":
            enabled = body.get("enabled") if isinstance(body, dict) else None
            if not isinstance(enabled, bool):
                return error_response(400, "InvalidInputError", "'enabled' (true or false) is required")
            limits = body.get("limits") or []
            if not isinstance(limits, list) or not all(isinstance(x, dict) for x in limits):
                return error_response(400, "InvalidInputError", "'limits' is a list of objects")
            rt.throttle.reset(enabled)
            try:
                for item in limits:
                    rt.throttle.limit(
                        str(item["subscription_id"]),
                        str(item.get("kind", "reads")),
                        float(item["capacity"]),
                        float(item["refill_per_second"]),
                    )
            except (KeyError, TypeError, ValueError) as exc:
                rt.throttle.reset(rt.throttle.enabled)
                return error_response(400, "InvalidInputError", f"a limit is not valid: {exc}")
        return json_response(200, {"enabled": rt.throttle.enabled})
    elif path == "resource-graph-quota" and method in ("POST", "GET"):
        quota = rt.resource_graph_quota
        if method == "POST":
            limit = body.get("limit") if isinstance(body, dict) else None
            window = body.get("window_seconds") if isinstance(body, dict) else None
            if not isinstance(limit, int) or limit < 1 or not isinstance(window, int | float) or window <= 0:
                return error_response(
                    400, "InvalidInputError", "'limit' (a positive integer) and 'window_seconds' are required"
                )
            quota.configure(limit, float(window))
        return json_response(200, {"limit": quota.limit, "window_seconds": quota.window})
    elif path == "requests":
        if method == "GET":
            since_raw = req.param("since") or "0"
            if not since_raw.lstrip("-").isdigit():
                return error_response(400, "InvalidInputError", "'since' must be an integer sequence number")
            entries = rt.log.since(int(since_raw))
            return json_response(200, {"requests": entries, "last_seq": rt.log.last_seq})
        if method == "DELETE":
            rt.log.clear()
            return json_response(200, {"requests": [], "last_seq": rt.log.last_seq})
    elif path == "state" and method == "GET":
        summary = state.summary()
        summary["throttle"] = rt.throttle.enabled
        summary["faults"] = rt.faults.list()
        return json_response(200, summary)
    elif path == "churn" and method == "POST":
        return json_response(200, actions.churn(state, body))
    elif path == "connections" and method == "GET":
        return json_response(200, rt.connections())
    elif path.startswith("accesslogs"):
        return _access_logs(rt, path, method, body)
    return error_response(404, "NotFound", f"No control endpoint {method} /_emulator/{path}")


def _access_logs(rt: Runtime, path: str, method: str, body: Any) -> Response:
    logs = rt.access_logs
    if method == "POST" and not isinstance(body, dict):
        return error_response(400, "InvalidRequestContent", "The request content must be a JSON object.")
    if path == "accesslogs" and method == "GET":
        return json_response(200, logs.status())
    if path == "accesslogs/append" and method == "POST":
        return json_response(200, logs.append(body))
    if path == "accesslogs/rewrite" and method == "POST":
        return json_response(200, logs.rewrite(body))
    if path == "accesslogs/writer" and method == "POST":
        return json_response(200, logs.set_writer(body))
    if path == "accesslogs/tick" and method == "POST":
        return json_response(200, {"written": logs.tick()})
    return error_response(404, "NotFound", f"No control endpoint {method} /_emulator/{path}")
