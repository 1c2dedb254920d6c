"""Injected faults, registered through the control API and consumed by matching requests.

A fault names an operation (`alerts.list`, `token`, `alerts.*`, or `*` for every ARM operation; `*`
leaves the identity and metadata endpoints alone), a kind, how many requests it hits (`times`) and an
optional `match` on the request's subscription id, resource name, tenant or client id.
"""

from __future__ import annotations

import fnmatch
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any

STATUS_KINDS = {"429": 429, "500": 500, "502": 502, "503": 503, "504": 504}
OTHER_KINDS = {
    "latency",
    "malformed",
    "truncated",
    "result_truncated",
    "foreign_nextlink",
    "nextlink_loop",
    "relative_nextlink",
    "expired_token",
    "timeout",
}
KINDS = set(STATUS_KINDS) | OTHER_KINDS
NON_ARM_OPS = {"token", "openid", "metadata"}
MATCH_KEYS = {"subscription_id", "name", "tenant_id", "client_id", "method"}


class FaultError(ValueError):
    pass


@dataclass
class Fault:
    id: int
    operation: str
    kind: str
    times: int
    retry_after: float | None = None
    latency_ms: int = 0
    match: dict[str, str] = field(default_factory=dict)
    hits: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "kind": self.kind,
            "times": self.times,
            "retry_after": self.retry_after,
            "latency_ms": self.latency_ms,
            "match": self.match,
            "hits": self.hits,
        }

    def applies(self, op: str, ctx: dict[str, str | None]) -> bool:
        if self.operation == "*":
            if op in NON_ARM_OPS:
                return False
        elif not fnmatch.fnmatchcase(op, self.operation):
            return False
        for key, wanted in self.match.items():
            have = ctx.get(key)
            if have is None or have.lower() != wanted.lower():
                return False
        return True


class FaultRegistry:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: Any) -> Fault:
        if not isinstance(spec, dict):
            raise FaultError("body must be a JSON object")
        op = spec.get("operation")
        kind = str(spec.get("kind", ""))
        if not isinstance(op, str) or not op:
            raise FaultError("'operation' is required (e.g. 'alerts.list', 'token' or '*')")
        if kind not in KINDS:
            raise FaultError(f"'kind' must be one of {sorted(KINDS)}")
        times = spec.get("times", 1)
        if not isinstance(times, int) or times < 1:
            raise FaultError("'times' must be a positive integer")
        retry_after = spec.get("retry_after")
        if retry_after is not None and (not isinstance(retry_after, int | float) or retry_after < 0):
            raise FaultError("'retry_after' must be a non-negative number of seconds")
        default_latency = 3000 if kind == "timeout" else 1000 if kind == "latency" else 0
        latency = spec.get("latency_ms", default_latency)
        if not isinstance(latency, int) or latency < 0:
            raise FaultError("'latency_ms' must be a non-negative integer")
        match = spec.get("match") or {}
        if not isinstance(match, dict) or not set(match) <= MATCH_KEYS:
            raise FaultError(f"'match' may only use {sorted(MATCH_KEYS)}")
        fault = Fault(
            id=next(self._ids),
            operation=op,
            kind=kind,
            times=times,
            retry_after=retry_after,
            latency_ms=latency,
            match={k: str(v) for k, v in match.items()},
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, op: str, ctx: dict[str, str | None]) -> Fault | None:
        if not self._faults:
            return None
        with self._lock:
            for fault in self._faults:
                if fault.applies(op, ctx):
                    fault.times -= 1
                    fault.hits += 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.as_dict() for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
