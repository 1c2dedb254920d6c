"""Content hashes of Azure's JSON: an unchanged element costs no write (the alerts' upsert, plans, contacts, rules,
key vaults). Below every app that uses it."""

from __future__ import annotations

import hashlib
from typing import Any

from portal.fields import dumps


def sorted_json(item: Any) -> bytes:
    return dumps(item, sort_keys=True)


_GIL_HELD_CHUNK = 2000  # hashlib releases the GIL for a buffer of 2,048 bytes or more


def _digest(raw: bytes) -> str:
    """blake2b of `raw`, fed in chunks small enough that hashlib keeps the GIL. Released and taken again for each
    ~2.6 KB alert, the GIL had to be won back from the sync's other threads (the page fetcher, the writer) every
    time, which made hashing the largest cost of an unchanged re-sync (measured with py-spy in bench/sync.py)."""
    h = hashlib.blake2b(digest_size=16)
    view = memoryview(raw)
    for start in range(0, len(view), _GIL_HELD_CHUNK):
        h.update(view[start : start + _GIL_HELD_CHUNK])
    return h.hexdigest()


def content_hash(item: Any) -> str:
    """A stable hash of an element (sorted keys): an unchanged alert costs no write."""
    return _digest(sorted_json(item))


def hash_item(item: Any) -> tuple[str, bool]:
    """The element's content hash, and whether its JSON holds a NUL character (which PostgreSQL text refuses), from
    one serialisation: what the sync needs of every element of a page."""
    raw = sorted_json(item)
    return _digest(raw), b"\\u0000" in raw
