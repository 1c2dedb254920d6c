"""AuditEvent blobs read where the last read stopped, in memory (AZURE.md §7.2, §7.4): partial lines wait, appends
are read from the cursor, a rewrite is read again without repeating what was consumed, a quiet old blob is finished,
and lines that are not records are kept aside with the reason."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest

from accesslogs.auditevent import parse_chunk, parse_record
from accesslogs.cursor import HEAD, Cursor, blob_hour, day_prefix, days_to_list, poll

VAULT = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg-pay/providers/Microsoft.KeyVault/vaults/kv-pay-prod"
NAME = f"resourceId={VAULT.upper()}/y=2026/m=12/d=04/h=09/m=00/PT1H.json"
NOW = datetime(2026, 12, 4, 10, 5, tzinfo=UTC)


def record(i: int, **over: object) -> bytes:
    doc = {
        "time": f"2026-12-04T09:{i % 60:02d}:01.2691226Z",
        "resourceId": VAULT.upper(),
        "operationName": "SecretGet",
        "operationVersion": "7.4",
        "category": "AuditEvent",
        "resultType": "Success",
        "resultSignature": "OK",
        "durationMs": "78",
        "callerIpAddress": "203.0.113.7",
        "identity": {"claim": {"http://schemas.microsoft.com/identity/claims/objectidentifier": f"OID-{i}"}},
        "properties": {"id": f"https://kv-pay-prod.vault.azure.net/secrets/s{i}", "httpStatusCode": 200},
    }
    doc.update(over)
    return orjson.dumps(doc)


class Blobs:
    """The storage account, in memory: append blobs as bytes, with a count of the bytes handed out."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.served = 0

    def append(self, name: str, data: bytes) -> None:
        self.blobs[name] = self.blobs.get(name, b"") + data

    def sizes(self, prefix: str) -> list[tuple[str, int]]:
        return [(n, len(b)) for n, b in sorted(self.blobs.items()) if n.startswith(prefix)]

    def read(self, name: str, offset: int, length: int | None = None) -> bytes:
        data = self.blobs[name][offset : None if length is None else offset + length]
        self.served += len(data)
        return data


def step(blobs: Blobs, cursor: Cursor, now: datetime = NOW):
    return poll(blobs, cursor, len(blobs.blobs[cursor.blob]), now)


def test_a_record_in_either_claim_spelling() -> None:
    r = parse_record(record(1))
    assert (r.vault, r.operation, r.object_id, r.status, r.succeeded) == (
        VAULT.lower(),
        "SecretGet",
        "oid-1",
        200,
        True,
    )
    assert r.time == datetime(2026, 12, 4, 9, 1, 1, 269122, tzinfo=UTC)
    short = parse_record(
        record(2, identity={"claim": {"oid": "ABC", "upn": "Eve@Contoso.com", "appid": "app-1"}})
    )
    assert (short.object_id, short.upn, short.app_id, short.identity) == (
        "abc",
        "eve@contoso.com",
        "app-1",
        "abc",
    )
    anonymous = parse_record(
        record(3, identity=None, resultType="Unauthorized", properties={"httpStatusCode": "401"})
    )
    assert anonymous.identity == "" and anonymous.status == 401 and not anonymous.succeeded


def test_a_partial_last_line_waits_and_lines_that_are_not_records_are_kept_aside() -> None:
    good, bad = record(1), b'{"time": "2026-12-04T09:00:00Z", "operationName": '
    data = good + b"\n" + b"not json\n" + b"[1, 2]\n" + record(2, resourceId="/x") + b"\n\n" + bad
    chunk = parse_chunk(data)
    assert [r.object_id for r in chunk.records] == ["oid-1"]
    assert [m.reason.split(":")[0] for m in chunk.malformed] == [
        "not JSON",
        "not a JSON object",
        "no key vault resourceId",
    ]
    assert chunk.malformed[0].offset == len(good) + 1
    assert chunk.consumed == len(data) - len(bad) and chunk.lines == 5


def test_appends_are_read_from_the_cursor_and_a_split_line_completes_at_the_next_poll() -> None:
    blobs = Blobs()
    second = record(2)
    blobs.append(NAME, record(1) + b"\n" + second[:10])
    first = step(blobs, Cursor(NAME))
    assert [r.object_id for r in first.chunk.records] == ["oid-1"]
    assert first.cursor.offset == len(record(1)) + 1 and first.cursor.lines == 1
    blobs.append(NAME, second[10:] + b"\n" + record(3) + b"\n")
    again = step(blobs, first.cursor)
    assert [r.object_id for r in again.chunk.records] == ["oid-2", "oid-3"] and not again.rewritten
    assert again.cursor.offset == len(blobs.blobs[NAME]) and again.cursor.lines == 3
    served = blobs.served
    idle = step(blobs, again.cursor)
    assert idle.chunk.records == [] and blobs.served == served  # nothing new: nothing read


def test_past_the_first_4_kib_only_the_head_and_the_new_bytes_are_read() -> None:
    blobs = Blobs()
    lines = b"".join(record(i) + b"\n" for i in range(40))
    assert len(lines) > 2 * HEAD
    blobs.append(NAME, lines)
    cursor = step(blobs, Cursor(NAME)).cursor
    blobs.append(NAME, record(99) + b"\n")
    blobs.served = 0
    more = step(blobs, cursor)
    assert [r.object_id for r in more.chunk.records] == ["oid-99"]
    assert blobs.served == HEAD + len(record(99)) + 1


@pytest.mark.parametrize("how", ["shorter", "same head length, other bytes"])
def test_a_rewritten_blob_is_read_again_without_repeating_what_was_consumed(how: str) -> None:
    blobs = Blobs()
    blobs.append(NAME, record(1) + b"\n" + record(2) + b"\n" + record(3) + b"\n")
    cursor = step(blobs, Cursor(NAME)).cursor
    if how == "shorter":  # rewritten with the first two records only, then one new one
        blobs.blobs[NAME] = record(1) + b"\n" + record(2) + b"\n"
        later = step(blobs, cursor)
        assert later.rewritten and later.chunk.records == []
        blobs.append(NAME, record(4) + b"\n")
        later = step(blobs, later.cursor)
    else:  # the same lines in another order, one more appended
        blobs.blobs[NAME] = record(2) + b"\n" + record(1) + b"\n" + record(3) + b"\n" + record(4) + b"\n"
        later = step(blobs, cursor)
        assert later.rewritten
    assert [r.object_id for r in later.chunk.records] == ["oid-4"]


def test_a_blob_is_finished_two_hours_after_its_hour_once_it_stops_growing() -> None:
    blobs = Blobs()
    blobs.append(NAME, record(1) + b"\n")  # hour 09:00-10:00
    cursor = step(blobs, Cursor(NAME), NOW).cursor
    assert not step(
        blobs, cursor, datetime(2026, 12, 4, 12, 1, tzinfo=UTC)
    ).cursor.finished  # quiet for < 2 h
    quiet = step(blobs, cursor, NOW + timedelta(hours=2, minutes=1)).cursor
    assert quiet.finished
    blobs.append(NAME, record(2) + b"\n")  # grew late: not finished, read
    late = step(blobs, cursor, NOW + timedelta(hours=2, minutes=1))
    assert [r.object_id for r in late.chunk.records] == ["oid-2"] and not late.cursor.finished


def test_names_and_days() -> None:
    assert blob_hour(NAME) == datetime(2026, 12, 4, 9, tzinfo=UTC) and blob_hour("other.json") is None
    assert day_prefix(VAULT, date(2026, 12, 4)) == f"resourceId={VAULT.upper()}/y=2026/m=12/d=04/"
    assert days_to_list(date(2026, 12, 2), date(2026, 12, 4)) == [date(2026, 12, d) for d in (2, 3, 4)]
    assert days_to_list(None, date(2026, 12, 4)) == [date(2026, 12, 4)]
