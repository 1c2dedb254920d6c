"""ARM's regional token buckets (AZURE.md §6): per (subscription, principal) and operation kind.

Reads hold 250 tokens refilling 25/s; writes and deletes 200 refilling 10/s. The buckets are always
kept and reported in `x-ms-ratelimit-remaining-subscription-*`; only when throttling is enabled does an
empty bucket answer 429 with `Retry-After`.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

LIMITS: dict[str, tuple[float, float]] = {
    "reads": (250.0, 25.0),
    "writes": (200.0, 10.0),
    "deletes": (200.0, 10.0),
}


@dataclass
class Decision:
    allowed: bool
    remaining: int
    retry_after: int


class Throttle:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._buckets: dict[tuple[str, str, str], list[float]] = {}
        self._limits: dict[tuple[str, str], tuple[float, float]] = {}  # (scope, kind) -> a smaller bucket
        self._lock = threading.Lock()

    def reset(self, enabled: bool) -> None:
        with self._lock:
            self.enabled = enabled
            self._buckets.clear()
            self._limits.clear()

    def limit(self, scope: str, kind: str, capacity: float, rate: float) -> None:
        """One scope's (a subscription's) own bucket size and refill, for every principal: tests of a throttled
        subscription beside unthrottled ones."""
        if kind not in LIMITS or capacity < 1 or rate <= 0:
            raise ValueError("kind must be reads, writes or deletes; capacity >= 1; refill > 0")
        with self._lock:
            self._limits[(scope.lower(), kind)] = (float(capacity), float(rate))
            for key in [k for k in self._buckets if k[0] == scope.lower() and k[2] == kind]:
                del self._buckets[key]

    def take(self, scope: str, principal: str, kind: str) -> Decision:
        capacity, rate = self._limits.get((scope.lower(), kind), LIMITS[kind])
        key = (scope.lower(), principal.lower(), kind)
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = [capacity, now]
            tokens = min(capacity, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            if tokens >= 1.0:
                bucket[0] = tokens - 1.0
                return Decision(True, int(bucket[0]), 0)
            bucket[0] = tokens
            if not self.enabled:
                return Decision(True, 0, 0)
            wait = max(1, math.ceil((1.0 - tokens) / rate))
            return Decision(False, 0, wait)
