"""Reading a vault's AuditEvent blobs where the last read stopped (AZURE.md §7.2, §7.4).

Blobs: container `insights-logs-auditevent`, one per vault and UTC hour, named
`resourceId=/SUBSCRIPTIONS/…/VAULTS/<NAME>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json` (the vault id upper-cased), append
blobs filled by receive time: a blob may grow after its hour.

A cursor is (blob name, byte offset after the last complete line, lines consumed, hash of the blob's first
min(offset, 4 KiB) bytes); never the ETag, which every append changes. Each poll:

- the blob is no larger than the offset: nothing new (a size below the offset is a rewrite, below);
- else the bytes from the offset are read (with the head, to check the hash, in the same read while the offset is
  within the first 4 KiB); complete lines are consumed, a partial last line waits for the next poll;
- a changed head hash or a size below the offset means the blob was rewritten: it is read again from the start and
  the lines already consumed are skipped;
- a blob is finished once its hour ended more than FINISHED_AFTER ago and it has not grown for FINISHED_AFTER: it is
  not read again, and a day whose blobs are all finished is not listed again.

The caller stores the records a poll produced and the new cursor in one transaction, so a worker killed between the
two loses and repeats nothing. Storage is reached through `BlobSource` (azure-storage-blob's ContainerClient in
production, a dict in the in-memory tests).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from accesslogs.auditevent import Chunk, parse_chunk

CONTAINER = "insights-logs-auditevent"
HEAD = 4096
FINISHED_AFTER = timedelta(hours=2)
NAME_RE = re.compile(r"/y=(\d{4})/m=(\d{2})/d=(\d{2})/h=(\d{2})/m=00/PT1H\.json$")


class BlobSource(Protocol):
    def sizes(self, prefix: str) -> Iterable[tuple[str, int]]:
        """(name, size in bytes) of every blob whose name starts with `prefix`."""
        ...

    def read(self, name: str, offset: int, length: int | None = None) -> bytes:
        """The blob's bytes from `offset` (`length` of them, or to its end)."""
        ...


@dataclass(frozen=True)
class Cursor:
    blob: str
    offset: int = 0
    lines: int = 0
    head_hash: str = ""
    size_seen: int = 0
    grown_at: datetime | None = None
    finished: bool = False


@dataclass
class Poll:
    cursor: Cursor
    chunk: Chunk
    rewritten: bool = False
    bytes_read: int = 0


def vault_prefix(vault_arm_id: str) -> str:
    return f"resourceId={vault_arm_id.upper()}/"


def day_prefix(vault_arm_id: str, day: date) -> str:
    return f"{vault_prefix(vault_arm_id)}y={day:%Y}/m={day:%m}/d={day:%d}/"


def blob_hour(name: str) -> datetime | None:
    found = NAME_RE.search(name)
    if found is None:
        return None
    y, m, d, h = (int(g) for g in found.groups())
    return datetime(y, m, d, h, tzinfo=UTC)


def days_to_list(oldest_unfinished: date | None, today: date) -> list[date]:
    """The UTC days a poll lists: from the vault's oldest unfinished day (today when it has none) to today."""
    start = min(oldest_unfinished or today, today)
    return [start + timedelta(days=i) for i in range((today - start).days + 1)]


def _hash(head: bytes) -> str:
    return hashlib.sha256(head).hexdigest()


def poll(source: BlobSource, cursor: Cursor, size: int, now: datetime) -> Poll:
    """Read what `cursor`'s blob gained since (`size` as listed), or all of it again after a rewrite."""
    grown_at = now if cursor.grown_at is None or size != cursor.size_seen else cursor.grown_at
    seen = replace(cursor, size_seen=size, grown_at=grown_at)
    if cursor.offset and size == cursor.offset:
        return Poll(_maybe_finished(seen, now), Chunk())
    rewritten = size < cursor.offset
    whole: bytes | None = None  # the blob from byte 0, when read
    read = 0
    if cursor.offset and not rewritten:
        if cursor.offset <= HEAD:  # the head and what is new in one read
            whole = source.read(cursor.blob, 0)
            read += len(whole)
            rewritten = _hash(whole[: cursor.offset]) != cursor.head_hash
        else:
            head = source.read(cursor.blob, 0, HEAD)
            read += len(head)
            rewritten = _hash(head) != cursor.head_hash
    if rewritten or not cursor.offset:
        if whole is None:
            whole = source.read(cursor.blob, 0)
            read += len(whole)
        chunk = parse_chunk(whole, skip_lines=cursor.lines if rewritten else 0)
        offset, lines = chunk.consumed, chunk.lines
    else:
        data = whole[cursor.offset :] if whole is not None else source.read(cursor.blob, cursor.offset)
        if whole is None:
            read += len(data)
        chunk = parse_chunk(data)
        offset, lines = cursor.offset + chunk.consumed, cursor.lines + chunk.lines
    # past the head already (no read from byte 0): the head is the one just checked
    head_hash = _hash(whole[: min(offset, HEAD)]) if whole is not None else cursor.head_hash
    moved = replace(seen, offset=offset, lines=lines, head_hash=head_hash)
    return Poll(_maybe_finished(moved, now), chunk, rewritten, read)


def _maybe_finished(cursor: Cursor, now: datetime) -> Cursor:
    hour = blob_hour(cursor.blob)
    if hour is None or cursor.offset < cursor.size_seen or cursor.grown_at is None:
        return cursor
    if now - (hour + timedelta(hours=1)) > FINISHED_AFTER and now - cursor.grown_at > FINISHED_AFTER:
        return replace(cursor, finished=True)
    return cursor
