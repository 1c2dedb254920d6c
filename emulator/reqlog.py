"""The request log: every ARM and identity request the emulator answered (not control API calls)."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import deque
from typing import Any

MAX_ENTRIES = 50_000  # about 1 KB each; the oldest entries are dropped


class RequestLog:
    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, **entry: Any) -> None:
        entry["time"] = dt.datetime.now(dt.UTC).isoformat()
        with self._lock:
            entry["seq"] = next(self._seq)
            self._entries.append(entry)

    def since(self, seq: int) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._entries if e["seq"] > seq]

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._entries[-1]["seq"] if self._entries else 0

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
