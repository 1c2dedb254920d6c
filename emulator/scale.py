"""The scale preset's alerts: alert i is computed from (seed, i) on demand, in constant memory.

Each alert is one of a few hundred variants (alert type x vault x scope); a variant's JSON is built
once by the normal builder with placeholder strings and split into byte fragments. Alert i is then the
fragments joined with its own values (name, times, status, address, correlation key): a few
microseconds, and byte-for-byte what `orjson.dumps(doc(i))` gives.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import re
import threading
from typing import Any

import orjson

from .alertgen import Options, Slots, VaultRef, build_kv_alert
from .catalog import KEY_VAULT_ALERT_TYPES

_MASK = (1 << 64) - 1
_UNIX_TO_TICKS_S = 62135596800  # seconds from 0001-01-01 to 1970-01-01
_MAX_TICKS = 3155378975999999999
_MARK = "@@S{}@@"
_MARK_RE = re.compile(rb"@@S(\d)@@")
_SLOT_FIELDS = ("name", "start", "end", "generated", "processing_end", "status", "ip", "correlation_key")
_PROCESSING = 12_345_670  # generated -> processing end, in 100 ns units
_STATUS = ("Active",) * 80 + ("InProgress",) * 8 + ("Resolved",) * 7 + ("Dismissed",) * 5


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


_DAY_CACHE: dict[int, str] = {}
_HOUR_MINUTE = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))


def _fmt(ticks_unix: int) -> str:
    """Format a time given in 100 ns units since 1970 as `2020-02-22T00:00:00.0000000Z`."""
    seconds, frac = divmod(ticks_unix, 10_000_000)
    day, rem = divmod(seconds, 86400)
    prefix = _DAY_CACHE.get(day)
    if prefix is None:
        prefix = (dt.datetime(1970, 1, 1) + dt.timedelta(days=day)).strftime("%Y-%m-%dT")
        _DAY_CACHE[day] = prefix
    minute, ss = divmod(rem, 60)
    return f"{prefix}{_HOUR_MINUTE[minute]}{ss:02d}.{frac:07d}Z"


class ScaleAlerts:
    """A `LazySource` of `count` Key-Vault-like alerts for one subscription."""

    def __init__(
        self,
        *,
        seed: int,
        count: int,
        subscription_id: str,
        asc_location: str,
        vaults: list[VaultRef],
        tenant_domain: str,
        anchor: dt.datetime,
        span: dt.timedelta = dt.timedelta(days=90),
    ) -> None:
        if not vaults:
            raise ValueError("the scale preset needs at least one vault")
        self.count = count
        self.seed = seed
        self._mix = splitmix64(seed * 0x100000001B3 + 0xABCDEF)
        self.subscription_id = subscription_id
        self.asc_location = asc_location
        self.vaults = vaults
        self.tenant_domain = tenant_domain
        end_ticks = int(anchor.timestamp()) * 10_000_000 - _PROCESSING  # the newest is processed by `anchor`
        self._span = int(span.total_seconds()) * 10_000_000
        self._t0 = end_ticks - self._span
        self._templates: dict[tuple[int, int, bool, bool], tuple[bytes, tuple[int, ...]]] = {}
        self._tlock = threading.Lock()
        self._ntypes = len(KEY_VAULT_ALERT_TYPES)
        self._ck: tuple[int, str] = (-1, "")  # last correlation key (one-entry cache; a race only recomputes)

    # -- per-index derivation ------------------------------------------------------------------
    def _variant(self, h: int) -> tuple[int, int, bool, bool]:
        type_idx = (h >> 8) % self._ntypes
        vault_idx = (h >> 16) % len(self.vaults)
        rg_level = (h >> 24) % 3 != 0
        own_region = (h >> 28) % 5 == 0
        return type_idx, vault_idx, rg_level, own_region

    def _scope(self, variant: tuple[int, int, bool, bool]) -> tuple[str | None, str]:
        _, vault_idx, rg_level, own_region = variant
        vault = self.vaults[vault_idx]
        location = vault.location if own_region else self.asc_location
        return (vault.resource_group if rg_level else None), location

    def meta(self, i: int) -> tuple[str | None, str]:
        rg, loc = self._scope(self._variant(splitmix64(self._mix ^ i)))
        return (rg.lower() if rg else None), loc.lower()

    def _values(self, i: int, h: int) -> list[str]:
        h2 = splitmix64(h ^ 0x5DEECE66D)
        generated = self._t0 + (self._span * (i + 1)) // max(self.count, 1)
        start = generated - (300 + (h2 & 0x3FFF)) * 10_000_000 - (h2 >> 40) % 10_000_000
        end = start + ((h2 >> 16) % 1800) * 10_000_000
        if end > generated:
            end = generated
        processing_end = generated + _PROCESSING
        reverse = _MAX_TICKS - (start + _UNIX_TO_TICKS_S * 10_000_000)
        guid = (
            f"{(h2 >> 32) & 0xFFFFFFFF:08X}-{(h2 >> 16) & 0xFFFF:04X}-4{(h2 >> 4) & 0xFFF:03X}-"
            f"{0x8000 | (h & 0x3FFF):04X}-{i:012X}"
        )
        group = i // 3  # related alerts come in threes and share a correlation key
        cached = self._ck
        if cached[0] == group:
            ck = cached[1]
        else:
            pair = splitmix64(self._mix ^ (group << 1)) << 64 | splitmix64(self._mix ^ (group << 1 | 1))
            ck = base64.b64encode(pair.to_bytes(16, "big")).decode()
            self._ck = (group, ck)
        return [
            f"{reverse}_{guid}",
            _fmt(start),
            _fmt(end),
            _fmt(generated),
            _fmt(processing_end),
            _STATUS[(h >> 32) % 100],
            f"198.51.100.{(h >> 40) % 254 + 1}" if (h >> 48) & 1 else f"203.0.113.{(h >> 40) % 254 + 1}",
            ck,
        ]

    def lookup(self, key: str) -> int | None:
        tail = key.rsplit("-", 1)[-1]
        if len(tail) != 12:
            return None
        try:
            i = int(tail, 16)
        except ValueError:
            return None
        if i >= self.count:
            return None
        h = splitmix64(self._mix ^ i)
        return i if self._values(i, h)[0].lower() == key.lower() else None

    # -- documents -----------------------------------------------------------------------------
    def _build(self, variant: tuple[int, int, bool, bool], values: list[str]) -> dict[str, Any]:
        type_idx, vault_idx, _rg_level, _own = variant
        rg, location = self._scope(variant)
        slots = Slots(
            id_segment=values[0],
            name=values[0],
            start=values[1],
            end=values[2],
            generated=values[3],
            processing_end=values[4],
            status=values[5],
            ip=values[6],
            correlation_key=values[7],
        )
        rng = random.Random(f"{self.seed}:{type_idx}:{vault_idx}:{variant[2]}:{variant[3]}")
        opts = Options(compact=True, techniques=type_idx % 4 == 0)
        return build_kv_alert(
            rng,
            KEY_VAULT_ALERT_TYPES[type_idx],
            self.vaults[vault_idx],
            location=location,
            resource_group=rg,
            slots=slots,
            tenant_domain=self.tenant_domain,
            opts=opts,
        )

    def _template(self, variant: tuple[int, int, bool, bool]) -> tuple[bytes, tuple[int, ...]]:
        """The variant's JSON as a `bytes % values` format (literal `%` doubled) and the slot order."""
        tpl = self._templates.get(variant)
        if tpl is not None:
            return tpl
        marks = [_MARK.format(n) for n in range(len(_SLOT_FIELDS))]
        raw = orjson.dumps(self._build(variant, marks))
        pieces = _MARK_RE.split(raw)
        fmt = b"%s".join(part.replace(b"%", b"%%") for part in pieces[0::2])
        tpl = (fmt, tuple(int(p) for p in pieces[1::2]))
        with self._tlock:
            self._templates[variant] = tpl
        return tpl

    def doc(self, i: int) -> dict[str, Any]:
        h = splitmix64(self._mix ^ i)
        return self._build(self._variant(h), self._values(i, h))

    def raw(self, i: int) -> bytes:
        h = splitmix64(self._mix ^ i)
        fmt, order = self._template(self._variant(h))
        values = [v.encode() for v in self._values(i, h)]
        return fmt % tuple([values[idx] for idx in order])
