"""A subscription's access logs polled into local detections, with the database and a storage account in memory:
detections become alerts (provider "Local detection") with their evidence; a round that fails stores nothing and
the next one repeats nothing; rewrites, malformed lines, a storage failure and the byte budget; a local detection's
status never goes to Azure; the evidence download checks the role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from django.urls import reverse

from accesslogs import reading
from accesslogs.cursor import day_prefix
from accesslogs.detect import Settings
from accesslogs.models import BlobCursor, DetectorState, LocalEvidence, LogCollection
from alerts.models import Alert, AlertRollup, Origin, Status
from alerts.status import alert_set_status
from portal.arm import errors
from portal.testing.factories import make_vault

pytestmark = pytest.mark.django_db

TOR = "198.51.100.7"
NOW = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)
SETTINGS = Settings(tor_exits=frozenset({TOR}))


class Blobs:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.fail_reads = 0

    def append(self, name: str, data: bytes) -> None:
        self.blobs[name] = self.blobs.get(name, b"") + data

    def sizes(self, prefix: str) -> list[tuple[str, int]]:
        return [(n, len(b)) for n, b in sorted(self.blobs.items()) if n.startswith(prefix)]

    def read(self, name: str, offset: int, length: int | None = None) -> bytes:
        if self.fail_reads:
            self.fail_reads -= 1
            raise errors.ArmTransient("storage did not answer", status=503)
        return self.blobs[name][offset : None if length is None else offset + length]


def line(
    vault: Any, minute: int, *, op: str = "SecretGet", ip: str = "10.1.2.3", oid: str = "oid-app", n: int = 0
) -> bytes:
    doc = {
        "time": f"2026-12-04T09:{minute:02d}:{n % 60:02d}.1234567Z",
        "resourceId": vault.arm_id.upper(),
        "operationName": op,
        "category": "AuditEvent",
        "resultType": "Success",
        "callerIpAddress": ip,
        "identity": {"claim": {"oid": oid, "appid": "app-1"}},
        "properties": {
            "id": f"https://{vault.name}.vault.azure.net/secrets/s{n}",
            "httpStatusCode": 200,
            "clientInfo": "<script>alert(1)</script>",
        },
    }
    return orjson.dumps(doc) + b"\n"


def blob_name(vault: Any, hour: int = 9) -> str:
    return f"{day_prefix(vault.arm_id, NOW.date())}h={hour:02d}/m=00/PT1H.json"


@pytest.fixture
def setup(personas: Any) -> tuple[Any, LogCollection, Blobs]:
    vault = make_vault(personas.sub, "kv-pay-prod")
    collection = LogCollection.objects.create(
        vault=vault,
        subscription=personas.sub,
        storage_account_id="/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stlogs",
        storage_account_name="stlogs",
        blob_endpoint="https://127.0.0.1:1/stlogs",
        state=LogCollection.State.ON,
        first_day=NOW.date(),
        oldest_unfinished_day=NOW.date(),
    )
    return vault, collection, Blobs()


def poll(collection: LogCollection, blobs: Blobs, **kw: Any) -> reading.Report:
    return reading.poll_subscription(
        collection.subscription_id, source_for=lambda c: blobs, settings=SETTINGS, now=NOW, **kw
    )


def test_records_become_local_detections_with_their_evidence(setup: Any) -> None:
    vault, collection, blobs = setup
    name = blob_name(vault)
    tor = line(vault, 5, ip=TOR, oid="oid-eve", n=1)
    blobs.append(name, line(vault, 1) + tor + tor[:40])  # the last line is partial: it waits
    report = poll(collection, blobs)
    assert (report.records, report.malformed, len(report.alert_ids)) == (2, 0, 1)
    alert = Alert.objects.get()
    assert (alert.origin, alert.alert_type, alert.in_azure, alert.vault_id) == (
        Origin.LOCAL,
        "LOCAL_TORAccess",
        False,
        vault.pk,
    )
    assert alert.title == "Access from a TOR exit node to a key vault"
    assert alert.caller_ip == TOR and TOR in alert.description
    evidence = LocalEvidence.objects.get(alert=alert)
    assert evidence.records == [orjson.loads(tor)]
    cursor = BlobCursor.objects.get()
    assert cursor.offset == len(line(vault, 1) + tor) and cursor.lines == 2
    assert AlertRollup.objects.filter(alert_type="LOCAL_TORAccess").get().count == 1
    # the rest of the partial line, then a mass retrieval by one identity: each detected once
    blobs.append(name, tor[40:] + b"".join(line(vault, 20, oid="oid-dump", n=i) for i in range(60)))
    report = poll(collection, blobs)
    assert report.records == 61
    types = sorted(Alert.objects.values_list("alert_type", flat=True))
    assert types == [
        "LOCAL_MassSecretRetrieval",
        "LOCAL_TORAccess",
    ]  # the TOR repeat is within the quiet hour
    dump = LocalEvidence.objects.get(detection_type="LOCAL_MassSecretRetrieval")
    assert len(dump.records) == 50 and "50 secrets read by oid-dump" in dump.explanation
    assert poll(collection, blobs).records == 0  # nothing new: nothing read again
    collection.refresh_from_db()
    assert (collection.records_read, collection.detections) == (63, 2)


def test_a_round_that_fails_stores_nothing_and_the_next_repeats_nothing(
    setup: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault, collection, blobs = setup
    blobs.append(blob_name(vault), line(vault, 1) + line(vault, 2, ip=TOR, oid="oid-eve"))
    real = reading.alerts_add_local

    def killed(**kw: Any) -> list[int]:
        real(**kw)
        raise RuntimeError("worker killed after storing the alerts")

    monkeypatch.setattr(reading, "alerts_add_local", killed)
    with pytest.raises(RuntimeError):
        poll(collection, blobs)
    assert not Alert.objects.exists() and not BlobCursor.objects.exists()
    assert DetectorState.objects.get().state in (b"", memoryview(b""))
    monkeypatch.setattr(reading, "alerts_add_local", real)
    assert len(poll(collection, blobs).alert_ids) == 1
    assert len(poll(collection, blobs).alert_ids) == 0
    assert Alert.objects.count() == 1 and DetectorState.objects.get().records == 2


def test_a_rewritten_blob_and_malformed_lines(setup: Any) -> None:
    vault, collection, blobs = setup
    name = blob_name(vault)
    first = line(vault, 1) + b"not json at all\n" + b'{"time": "2026-12-04T09:02:00Z"}\n'
    blobs.append(name, first)
    report = poll(collection, blobs)
    assert (report.records, report.malformed) == (1, 2)
    # rewritten: same length of consumed lines but another head; the three lines consumed are skipped
    blobs.blobs[name] = (
        line(vault, 1, oid="oid-other") + first[len(line(vault, 1)) :] + line(vault, 3, ip=TOR)
    )
    report = poll(collection, blobs)
    assert (report.rewritten, report.records, report.malformed) == (1, 1, 0)
    assert Alert.objects.get().alert_type == "LOCAL_TORAccess"
    collection.refresh_from_db()
    assert (collection.records_read, collection.malformed_lines) == (2, 2)


def test_a_storage_failure_keeps_what_was_read_before_it(setup: Any) -> None:
    vault, collection, blobs = setup
    blobs.append(blob_name(vault, 8), line(vault, 1, ip=TOR))
    blobs.append(blob_name(vault, 9), line(vault, 2, op="SecretPurge", oid="oid-x"))
    real_read = blobs.read
    calls = {"n": 0}

    def second_fails(name: str, offset: int, length: int | None = None) -> bytes:
        calls["n"] += 1
        if calls["n"] == 2:
            raise errors.ArmTransient("storage did not answer", status=503)
        return real_read(name, offset, length)

    blobs.read = second_fails  # type: ignore[method-assign]
    report = poll(collection, blobs)
    assert report.records == 1 and [a.alert_type for a in Alert.objects.all()] == ["LOCAL_TORAccess"]
    collection.refresh_from_db()
    assert "storage did not answer" in collection.last_poll_error
    report = poll(collection, blobs)
    assert report.records == 1 and Alert.objects.count() == 2
    collection.refresh_from_db()
    assert collection.last_poll_error == ""


def test_a_small_byte_budget_reads_in_several_rounds_to_the_same_result(setup: Any) -> None:
    vault, collection, blobs = setup
    for hour in range(5, 10):
        blobs.append(blob_name(vault, hour), b"".join(line(vault, m, n=m) for m in range(10)))
    report = poll(collection, blobs, round_bytes=1)
    assert report.rounds == 5 and report.records == 50 and report.blobs_read == 5


def test_a_local_detection_status_is_never_written_to_azure(setup: Any, personas: Any) -> None:
    vault, collection, blobs = setup
    blobs.append(blob_name(vault), line(vault, 1, ip=TOR))
    poll(collection, blobs)
    alert = Alert.objects.get()
    changed = alert_set_status(
        user=personas.secadmin, alert=alert, status=Status.DISMISSED, classification="BenignPositive"
    )
    assert (changed.status, changed.pending_status, changed.azure_status) == ("Dismissed", "", "Dismissed")


def test_the_evidence_download_and_page_need_a_role_and_escape_the_log(
    setup: Any, personas: Any, client: Any
) -> None:
    vault, collection, blobs = setup
    blobs.append(blob_name(vault), line(vault, 1, ip=TOR))
    poll(collection, blobs)
    alert = Alert.objects.get()
    url = reverse("accesslogs:evidence_json", args=[alert.pk])
    client.force_login(personas.outsider)
    assert client.get(url).status_code == 404
    client.force_login(personas.reader)
    answer = client.get(url)
    assert answer.status_code == 200 and "attachment" in answer["Content-Disposition"]
    assert answer.json()["records"][0]["callerIpAddress"] == TOR
    page = client.get(reverse("alerts:detail", args=[alert.pk])).content.decode()
    assert (
        "Evidence from the vault&#x27;s access log" in page or "Evidence from the vault's access log" in page
    )
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Local detection" in page and "never written to Azure" in page
    client.logout()
    assert client.get(url).status_code == 302  # sign-in first


def test_the_alert_list_filters_by_provider(setup: Any, personas: Any, client: Any) -> None:
    vault, collection, blobs = setup
    blobs.append(blob_name(vault), line(vault, 1, ip=TOR))
    poll(collection, blobs)
    client.force_login(personas.reader)
    link = f'href="{reverse("alerts:detail", args=[Alert.objects.get().pk])}'
    local = client.get(reverse("alerts:list") + "?provider=local").content.decode()
    assert link in local
    defender = client.get(reverse("alerts:list") + "?provider=defender").content.decode()
    assert link not in defender


def test_when_a_vault_goes_the_detections_stay(setup: Any) -> None:
    vault, collection, blobs = setup
    blobs.append(blob_name(vault), line(vault, 1, ip=TOR))
    poll(collection, blobs)
    assert NOW - timedelta(hours=1) < Alert.objects.get().time_generated + timedelta(hours=1)
    vault.delete()
    assert not LogCollection.objects.exists()
    assert Alert.objects.get().vault_id is None and LocalEvidence.objects.get().collection_id is None


def test_a_rule_on_a_local_type_lives_here_only_and_dismisses_new_detections(
    setup: Any, personas: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.utils import timezone

    from suppression.services import rule_save

    vault, collection, blobs = setup
    with django_capture_on_commit_callbacks(execute=False) as pushes:
        rule = rule_save(
            user=personas.secadmin,
            subscription=personas.sub,
            data={
                "name": "tor-lab-scanner",
                "alert_type": "LOCAL_TORAccess",
                "reason": "Noise",
                "state": "Enabled",
                "expiration_date": timezone.now() + timedelta(days=30),
                "conditions": [{"field": "entities.ip.address", "in": [TOR]}],
            },
        )
    assert rule.local_only and rule.push_state == "" and not pushes  # nothing is written to Azure
    with django_capture_on_commit_callbacks(execute=False) as queued:
        blobs.append(blob_name(vault), line(vault, 1, ip=TOR))
        poll(collection, blobs)
    alert = Alert.objects.get()
    assert (alert.status, alert.pending_status) == ("Dismissed", "")
    assert not [c for c in queued if "push" in repr(c)]


def test_related_alerts_of_the_other_provider_both_ways(setup: Any, personas: Any, client: Any) -> None:
    import uuid

    from portal.testing.factories import alert_item, make_alerts

    vault, collection, blobs = setup
    oid = str(uuid.UUID(int=4242))  # the account entity's aadUserId of alert_item(n=4242)
    blobs.append(blob_name(vault), line(vault, 1, ip=TOR, oid=oid))
    poll(collection, blobs)
    local = Alert.objects.get()
    near = alert_item(personas.sub, vault=vault, n=4242, when=local.start_time + timedelta(minutes=30))
    far = alert_item(personas.sub, vault=vault, n=4243, when=local.start_time + timedelta(hours=3))
    other = alert_item(personas.sub, vault=vault, n=4244, when=local.start_time)  # another identity
    defender, late, stranger = make_alerts(personas.sub, [near, far, other])
    client.force_login(personas.reader)
    page = client.get(reverse("alerts:detail", args=[local.pk])).content.decode()
    assert "Related Defender alerts" in page
    links = {
        pk: f'href="{reverse("alerts:detail", args=[pk])}"' for pk in (defender.pk, late.pk, stranger.pk)
    }
    section = page.split("Related Defender alerts", 1)[1]
    assert links[defender.pk] in section
    assert links[late.pk] not in section and links[stranger.pk] not in section
    page = client.get(reverse("alerts:detail", args=[defender.pk])).content.decode()
    assert "Related local detections" in page and reverse("alerts:detail", args=[local.pk]) in page


def test_clock_skew_late_and_future_records_are_read_once(setup: Any) -> None:
    vault, collection, blobs = setup
    name = blob_name(vault)
    late = line(vault, 1, oid="oid-late").replace(b"T09:01", b"T07:01")  # filed two hours late
    future = line(vault, 2, oid="oid-future").replace(b"2026-12-04T09", b"2026-12-05T09")  # a day ahead
    blobs.append(name, line(vault, 30) + late + future + line(vault, 31, ip=TOR, oid="oid-eve"))
    report = poll(collection, blobs)
    assert (report.records, report.malformed) == (4, 0)
    assert [a.alert_type for a in Alert.objects.all()] == ["LOCAL_TORAccess"]
    assert poll(collection, blobs).records == 0
    blobs.append(name, line(vault, 32))
    assert poll(collection, blobs).records == 1
    assert DetectorState.objects.get().records == 5


def test_one_identity_detections_on_a_vault_make_one_incident(setup: Any) -> None:
    from triage.models import Incident

    vault, collection, blobs = setup
    blobs.append(blob_name(vault), line(vault, 1, ip=TOR, oid="oid-eve"))
    blobs.append(blob_name(vault), line(vault, 2, op="SecretPurge", oid="oid-eve"))
    blobs.append(blob_name(vault), line(vault, 3, op="SecretPurge", oid="oid-bob"))
    poll(collection, blobs)
    eve = Alert.objects.filter(search_text__contains="oid-eve")
    assert eve.count() == 2 and len({a.correlation_key for a in eve}) == 1
    incident = Incident.objects.get(correlation_key=eve[0].correlation_key)
    assert incident.subscription_id == collection.subscription_id
    assert not Incident.objects.filter(
        correlation_key=Alert.objects.get(search_text__contains="oid-bob").correlation_key
    ).exists()


def test_a_storage_listing_keeps_what_it_can_and_an_error_keeps_the_last_list(
    setup: Any, client: Any, personas: Any
) -> None:
    from accesslogs.models import StorageAccount, StorageListing
    from accesslogs.services import storage_accounts_store

    vault, _collection, _blobs = setup
    good = {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stgood",
        "name": "stgood",
        "location": "westeurope",
        "properties": {"primaryEndpoints": {"blob": "https://stgood.blob.core.windows.net/"}},
    }
    junk = ["not a dict", {"name": "no-id"}, {"id": "/x", "name": "stbare", "properties": "oops"}]
    storage_accounts_store(subscription_pk=vault.subscription_id, items=[good, *junk])  # type: ignore[list-item]
    assert sorted(StorageAccount.objects.values_list("name", "blob_endpoint")) == [
        ("stbare", ""),
        ("stgood", "https://stgood.blob.core.windows.net/"),
    ]
    storage_accounts_store(
        subscription_pk=vault.subscription_id, items=[], error="AuthorizationFailed: no read"
    )
    assert StorageAccount.objects.count() == 2 and StorageListing.objects.get().error.startswith(
        "Authorization"
    )
    client.force_login(personas.secadmin)
    page = client.get(reverse("accesslogs:collect", args=[vault.pk])).content.decode()
    assert "AuthorizationFailed: no read" in page and "stgood" in page
    # an account without an HTTPS blob endpoint cannot be picked for collection
    bare = StorageAccount.objects.get(name="stbare")
    bare.location = vault.location
    bare.save()
    answer = client.post(reverse("accesslogs:collect", args=[vault.pk]), {"storage_account": bare.pk})
    assert "has no HTTPS blob endpoint" in answer.content.decode()


def test_a_new_local_detection_is_queued_for_the_security_contacts(setup: Any) -> None:
    from notifications.models import NotificationBatch, SecurityContact

    vault, collection, blobs = setup
    SecurityContact.objects.create(
        subscription_id=collection.subscription_id, emails="soc@contoso.com", minimal_severity="Medium"
    )
    blobs.append(blob_name(vault), line(vault, 1, ip=TOR))  # Medium: at the contacts' minimal severity
    poll(collection, blobs)
    alert = Alert.objects.get()
    assert NotificationBatch.objects.get().alert_ids == [
        alert.pk
    ]  # mailed by the notifications worker, as any


def test_the_api_lists_local_detections_with_their_provider(setup: Any, personas: Any) -> None:
    from rest_framework.test import APIClient

    vault, collection, blobs = setup
    blobs.append(blob_name(vault), line(vault, 1, ip=TOR))
    poll(collection, blobs)
    api = APIClient()
    api.force_authenticate(personas.reader)
    local = api.get("/api/v1/alerts/", {"provider": "local"}).json()["results"]
    assert [(a["alert_type"], a["provider"]) for a in local] == [("LOCAL_TORAccess", "local")]
    assert api.get("/api/v1/alerts/", {"provider": "defender"}).json()["results"] == []
    assert api.get("/api/v1/alerts/", {"provider": "azure"}).status_code == 400  # not a provider
    detail = api.get(f"/api/v1/alerts/{local[0]['id']}/").json()
    assert detail["provider"] == "local" and detail["in_azure"] is False
