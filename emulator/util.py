"""Small shared helpers: the emulator clock, Azure time and duration formats, JSON, ARM errors."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import orjson

UTC = dt.UTC


class Clock:
    """Real time plus an offset that the control API can advance (trial countdowns, rule expiry)."""

    def __init__(self) -> None:
        self._offset = dt.timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC) + self._offset

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()

    def advance(self, seconds: float) -> dt.datetime:
        with self._lock:
            self._offset += dt.timedelta(seconds=seconds)
        return self.now()

    def reset(self) -> None:
        self.set_offset(0)

    def set_offset(self, seconds: float) -> None:
        with self._lock:
            self._offset = dt.timedelta(seconds=seconds)


def azure_time(value: dt.datetime) -> str:
    """`2020-02-22T00:00:00.0000000Z`: seven fractional digits, as alerts and vaults carry them."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}0Z"


def azure_time_us(value: dt.datetime) -> str:
    """`2019-07-31T19:50:47.083633Z`: six fractional digits, as suppression rules carry them."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond:06d}Z"


def parse_time(text: str) -> dt.datetime:
    """Parse the ISO-8601 forms clients send (`Z` suffix, up to 7 fractional digits, or a date only)."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    if "." in raw:
        head, _, rest = raw.partition(".")
        frac = ""
        tail = ""
        for i, ch in enumerate(rest):
            if not ch.isdigit():
                tail = rest[i:]
                break
            frac += ch
        raw = f"{head}.{frac[:6].ljust(6, '0')}{tail}"
    value = dt.datetime.fromisoformat(raw)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso_duration(delta: dt.timedelta) -> str:
    """ISO-8601 duration as ARM prints `freeTrialRemainingTime`: `P29DT23H10M`, `PT0S` for nothing left."""
    total = int(delta.total_seconds())
    if total <= 0:
        return "PT0S"
    days, rem = divmod(total, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    out = "P"
    if days:
        out += f"{days}D"
    if hours or minutes or seconds:
        out += "T"
        if hours:
            out += f"{hours}H"
        if minutes:
            out += f"{minutes}M"
        if seconds:
            out += f"{seconds}S"
    return out


def arm_error(code: str, message: str, **extra: Any) -> bytes:
    err: dict[str, Any] = {"code": code, "message": message}
    err.update(extra)
    return orjson.dumps({"error": err})


def api_version_at_least(api_version: str | None, minimum: str) -> bool:
    """Compare `2023-12-01-preview`-style versions by their date part."""
    if not api_version:
        return False
    return api_version[:10] >= minimum[:10]


class ArmRefusal(Exception):
    """An ARM error answer (status, code, message), raised by the emulator's domain modules."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
