"""What workers share: a token bucket per principal and kind of call, in Redis, taken from before each call and fed
by the quota headers Azure answers with (issue 23).

ARM's own buckets are per subscription and principal, and the sync's lease keeps one worker per subscription, so
those are never shared. What many workers do share is counted per principal across subscriptions: Resource Graph's
per-user quota (15 queries in 5 s; `x-ms-user-quota-remaining`, `x-ms-user-quota-resets-after`) and tenant-level
calls. Scheduling from those headers, rather than from 429s (Resource Graph documents no `Retry-After`):

- `take(principal, kind)` waits until the bucket has a token (the script answers how long to wait), then takes it;
- a take from a full bucket starts a burst: the bucket does not refill for the quota's window (capacity / rate,
  5 s for Resource Graph), so a burst of 15 and the refill cannot add up to more than the quota counts in any window
  (a plain bucket of 15 refilling 3/s would allow 30 in the first 5 s);
- `observe(principal, kind, remaining, resets_after)` sets the bucket to what Azure says is left: no more than
  `remaining` tokens (so the refill at the quota's average rate cannot run ahead of a quota counted over a window),
  and when nothing is left, every worker waits for the reset, after which the bucket refills from empty (not in a
  burst of what it would have gathered meanwhile).

The bucket's state and its clock (Redis `TIME`) live in Redis, updated by one Lua script, so every worker on every
machine sees the same bucket. Without Redis (the embedded demo: one worker), the same bucket lives in the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class Kind:
    capacity: float
    refill_per_second: float


KINDS = {
    "resourcegraph": Kind(15, 3.0),  # 15 queries per 5 s per user
    "tenant-reads": Kind(250, 25.0),  # ARM's tenant-level reads per principal
}

# KEYS[1] the bucket; ARGV: capacity, refill/s, tokens wanted (0: observe), observed remaining (-1: none),
# observed resets-after seconds. Answers the seconds to wait (0: taken / recorded), as a string.
SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local capacity, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local want, seen, resets = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'hold')
local tokens = tonumber(b[1]) or capacity
local ts = tonumber(b[2]) or now
local hold = tonumber(b[3]) or 0
tokens = math.min(capacity, tokens + math.max(0, now - math.max(ts, hold)) * rate)
if seen >= 0 then
  tokens = math.min(tokens, seen)
  if seen < 1 then hold = math.max(hold, now + resets) end
end
local wait = 0
if want > 0 then
  if tokens >= want then
    if tokens >= capacity then hold = math.max(hold, now + capacity / rate) end
    tokens = tokens - want
  elseif now < hold then
    wait = hold - now + (want - tokens) / rate
  else
    wait = (want - tokens) / rate
  end
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now, 'hold', hold)
redis.call('EXPIRE', KEYS[1], 3600)
return tostring(wait)
"""


class _LocalBuckets:
    """The same bucket in the process (no Redis)."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[float, float, float]] = {}
        self._lock = threading.Lock()

    def run(self, key: str, kind: Kind, want: float, seen: float, resets: float) -> float:
        now = time.monotonic()
        with self._lock:
            tokens, ts, hold = self._state.get(key, (kind.capacity, now, 0.0))
            tokens = min(kind.capacity, tokens + max(0.0, now - max(ts, hold)) * kind.refill_per_second)
            if seen >= 0:
                tokens = min(tokens, seen)
                if seen < 1:
                    hold = max(hold, now + resets)
            wait = 0.0
            if want > 0:
                if tokens >= want:
                    if tokens >= kind.capacity:  # a burst starts: no refill within the quota's window
                        hold = max(hold, now + kind.capacity / kind.refill_per_second)
                    tokens -= want
                elif now < hold:
                    wait = hold - now + (want - tokens) / kind.refill_per_second
                else:
                    wait = (want - tokens) / kind.refill_per_second
            self._state[key] = (tokens, now, hold)
            return wait


_local = _LocalBuckets()
_redis: Any = None
_redis_lock = threading.Lock()


def _script() -> Callable[..., Any] | None:
    global _redis
    url = getattr(settings, "REDIS_URL", "")
    if not url:
        return None
    with _redis_lock:
        if _redis is None or _redis[0] != url:
            import redis

            client = redis.Redis.from_url(url)
            _redis = (url, client.register_script(SCRIPT))
        return _redis[1]  # type: ignore[no-any-return]  # redis-py's Script is untyped


def _key(principal: str, kind: str) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX") or "portal"
    return f"{prefix}:budget:{kind}:{principal.lower()}"


def _run(principal: str, kind: str, want: float, seen: float = -1, resets: float = 0) -> float:
    spec = KINDS[kind]
    script = _script()
    if script is None:
        return _local.run(_key(principal, kind), spec, want, seen, resets)
    answer = script(
        keys=[_key(principal, kind)], args=[spec.capacity, spec.refill_per_second, want, seen, resets]
    )
    return float(answer)


def take(
    principal: str, kind: str, *, deadline: float = 60.0, sleep: Callable[[float], None] = time.sleep
) -> float:
    """Wait until the principal's bucket has a token and take it; the seconds waited. Raises TimeoutError past the
    deadline (the caller then falls back, as on a refusal)."""
    waited = 0.0
    while True:
        wait = _run(principal, kind, 1)
        if wait <= 0:
            return waited
        if waited + wait > deadline:
            raise TimeoutError(f"the {kind} budget of {principal} has no token within {deadline:.0f} s")
        sleep(min(wait, deadline))
        waited += wait


def observe(principal: str, kind: str, remaining: int | None, resets_after: float | None) -> None:
    """What Azure said is left: the bucket holds no more than that, and holds off until the reset when empty."""
    if remaining is None:
        return
    _run(principal, kind, 0, float(remaining), float(resets_after or 0))


def forget(principal: str, kind: str) -> None:
    """Tests: start the bucket again."""
    script = _script()
    if script is None:
        _local._state.pop(_key(principal, kind), None)
        return
    import redis

    redis.Redis.from_url(settings.REDIS_URL).delete(_key(principal, kind))
