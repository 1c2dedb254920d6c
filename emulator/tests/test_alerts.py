"""Alerts through the real SecurityCenter client: paging, addressing, state changes, simulate."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.security.v2022_01_01.models import (
    AlertSimulatorBundlesRequestProperties,
    AlertSimulatorRequestBody,
)

from emulator.catalog import KEY_VAULT_ALERT_TYPES
from emulator.server import EmulatorServer
from emulator.state import ALERT_ID_RE
from emulator.tests.conftest import PAGE_SIZE, Http


def _docs(emu: EmulatorServer, sub_id: str) -> list[dict[str, Any]]:
    return list(emu.state.store(sub_id).iter_docs())


def _pick(emu: EmulatorServer, sub_id: str, *, rg: bool, name_differs: bool = False) -> dict[str, Any]:
    for doc in _docs(emu, sub_id):
        m = ALERT_ID_RE.match(doc["id"])
        assert m
        differs = doc["name"] != m["key"]
        if bool(m["rg"]) == rg and differs == name_differs:
            return doc
    raise AssertionError("no such alert in the demo data")


def _parts(doc: dict[str, Any]) -> tuple[str | None, str, str]:
    m = ALERT_ID_RE.match(doc["id"])
    assert m
    return m["rg"], m["loc"], m["key"]


def test_list_pages_through_every_alert(emu: EmulatorServer, security: Any, http: Http, sub_id: str) -> None:
    seq = http.last_seq()
    alerts = list(security(sub_id).alerts.list())
    expected = [d["id"] for d in _docs(emu, sub_id)]
    assert [a.id for a in alerts] == expected
    pages = http.requests_since(seq, "alerts.list")
    assert len(pages) == -(-len(expected) // PAGE_SIZE) > 1
    assert all(p["status"] == 200 for p in pages)
    assert {a.alert_type for a in alerts} >= {"KV_TORAccess", "KV_AppAnomaly", "KV_PutGetAnomaly", "VM_EICAR"}


def test_next_link_is_absolute_and_keeps_the_filter_params(http: Http, sub_id: str) -> None:
    resp = http.arm(
        "GET", f"/subscriptions/{sub_id}/providers/Microsoft.Security/alerts?api-version=2022-01-01"
    )
    body = resp.json()
    assert len(body["value"]) == PAGE_SIZE
    assert body["nextLink"].startswith(
        f"{http.emu.base_url}/subscriptions/{sub_id}/providers/Microsoft.Security/alerts?"
    )
    assert "api-version=2022-01-01" in body["nextLink"] and "$skipToken=" in body["nextLink"]
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    for header in (
        "x-ms-request-id",
        "x-ms-correlation-request-id",
        "x-ms-ratelimit-remaining-subscription-reads",
    ):
        assert resp.headers[header]


def test_resource_group_and_region_lists(emu: EmulatorServer, security: Any, sub_id: str) -> None:
    client = security(sub_id).alerts
    doc = _pick(emu, sub_id, rg=True)
    rg, loc, _ = _parts(doc)
    assert rg is not None
    by_rg = list(client.list_by_resource_group(rg))
    assert by_rg and all(f"/resourcegroups/{rg.lower()}/" in a.id.lower() for a in by_rg)
    by_region = list(client.list_subscription_level_by_region(loc))
    assert by_region and all(f"/locations/{loc.lower()}/" in a.id.lower() for a in by_region)
    both = list(client.list_resource_group_level_by_region(loc, rg))
    assert {a.id for a in both} == {a.id for a in by_rg if f"/locations/{loc.lower()}/" in a.id.lower()}
    with pytest.raises(ResourceNotFoundError):
        list(client.list_by_resource_group("rg-does-not-exist"))


def test_get_by_scope_of_the_id(emu: EmulatorServer, security: Any, sub_id: str) -> None:
    client = security(sub_id).alerts
    rg_doc = _pick(emu, sub_id, rg=True)
    rg, loc, key = _parts(rg_doc)
    assert client.get_resource_group_level(rg, loc, key).id == rg_doc["id"]
    assert client.get_resource_group_level(rg.upper(), loc.upper(), key.lower()).id == rg_doc["id"]
    with pytest.raises(ResourceNotFoundError):
        client.get_subscription_level(loc, key)
    sub_doc = _pick(emu, sub_id, rg=False)
    _, sloc, skey = _parts(sub_doc)
    assert client.get_subscription_level(sloc, skey).id == sub_doc["id"]
    with pytest.raises(ResourceNotFoundError):
        client.get_resource_group_level(rg, sloc, skey)
    with pytest.raises(ResourceNotFoundError):
        client.get_subscription_level("northcentralus" if sloc != "northcentralus" else "westus", skey)


def test_name_that_differs_from_the_id_is_not_an_address(
    emu: EmulatorServer, security: Any, sub_id: str
) -> None:
    client = security(sub_id).alerts
    doc = _pick(emu, sub_id, rg=True, name_differs=True)
    rg, loc, key = _parts(doc)
    assert doc["name"] != key
    assert client.get_resource_group_level(rg, loc, key).name == doc["name"]
    with pytest.raises(ResourceNotFoundError):
        client.get_resource_group_level(rg, loc, doc["name"])
    with pytest.raises(ResourceNotFoundError):
        client.update_resource_group_level_state_to_dismiss(rg, loc, doc["name"])


@pytest.mark.parametrize(
    ("method", "status"),
    [
        ("dismiss", "Dismissed"),
        ("resolve", "Resolved"),
        ("in_progress", "InProgress"),
        ("activate", "Active"),
    ],
)
def test_state_changes_at_both_levels(
    emu: EmulatorServer, security: Any, sub_id: str, method: str, status: str
) -> None:
    client = security(sub_id).alerts
    rg_doc = _pick(emu, sub_id, rg=True)
    rg, loc, key = _parts(rg_doc)
    initial = "InProgress" if status == "Active" else "Active"
    emu.state.find_alert_by_id(rg_doc["id"])[1].doc["properties"]["status"] = initial
    assert getattr(client, f"update_resource_group_level_state_to_{method}")(rg, loc, key) is None
    assert client.get_resource_group_level(rg, loc, key).status == status
    with pytest.raises(ResourceNotFoundError):
        getattr(client, f"update_subscription_level_state_to_{method}")(loc, key)
    sub_doc = _pick(emu, sub_id, rg=False)
    _, sloc, skey = _parts(sub_doc)
    getattr(client, f"update_subscription_level_state_to_{method}")(sloc, skey)
    assert client.get_subscription_level(sloc, skey).status == status


def test_state_change_answers_204(http: Http, emu: EmulatorServer, sub_id: str) -> None:
    rg, loc, key = _parts(_pick(emu, sub_id, rg=True))
    path = f"/subscriptions/{sub_id}/resourceGroups/{rg}/providers/Microsoft.Security/locations/{loc}/alerts/{key}/dismiss"
    resp = http.arm("POST", f"{path}?api-version=2022-01-01")
    assert resp.status_code == 204
    assert resp.content == b""
    assert resp.headers["x-ms-ratelimit-remaining-subscription-writes"]


def test_paging_is_stable_while_alerts_are_added(
    emu: EmulatorServer, security: Any, http: Http, sub_id: str
) -> None:
    pages = security(sub_id).alerts.list().by_page()
    first = [a.id for a in next(pages)]
    created = http.control("POST", "/alerts", json={"subscription_id": sub_id, "count": 3}).json()["ids"]
    rest = [a.id for page in pages for a in page]
    seen = first + rest
    assert len(seen) == len(set(seen))
    assert seen[-3:] == created
    assert len(seen) == len(emu.state.store(sub_id))


def test_concurrent_readers_and_writers(emu: EmulatorServer, security: Any, http: Http, sub_id: str) -> None:
    errors: list[BaseException] = []

    def add() -> None:
        try:
            for _ in range(5):
                http.control("POST", "/alerts", json={"subscription_id": sub_id, "count": 2})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    writer = threading.Thread(target=add)
    writer.start()
    ids = [a.id for a in security(sub_id).alerts.list()]
    writer.join()
    assert not errors
    assert len(ids) == len(set(ids)) >= 250


def test_continuation_token_resumes(security: Any, sub_id: str) -> None:
    pager = security(sub_id).alerts.list().by_page()
    first = [a.id for a in next(pager)]
    token = pager.continuation_token
    resumed = security(sub_id).alerts.list().by_page(continuation_token=token)
    second = [a.id for a in next(resumed)]
    assert second and not set(first) & set(second)


def test_simulate_creates_sample_key_vault_alerts(
    emu: EmulatorServer, security: Any, http: Http, sub_id: str
) -> None:
    client = security(sub_id).alerts
    before = len(emu.state.store(sub_id))
    body = AlertSimulatorRequestBody(properties=AlertSimulatorBundlesRequestProperties(bundles=["KeyVaults"]))
    assert client.begin_simulate("westeurope", body).result() is None
    store = emu.state.store(sub_id)
    new = [store.doc_at(i) for i in range(before, len(store))]
    assert len(new) == 14
    assert all(d["properties"]["alertDisplayName"].startswith("[SAMPLE ALERT] ") for d in new)
    assert {d["properties"]["alertType"] for d in new} == {t.alert_type for t in KEY_VAULT_ALERT_TYPES}
    vault_ids = {v.id.lower() for v in emu.state.vaults[sub_id.lower()]}
    assert all(d["properties"]["resourceIdentifiers"][0]["azureResourceId"].lower() in vault_ids for d in new)
    listed = {a.id for a in client.list()}
    assert {d["id"] for d in new} <= listed


def test_simulate_rejects_unknown_bundles(http: Http, sub_id: str) -> None:
    resp = http.arm(
        "POST",
        f"/subscriptions/{sub_id}/providers/Microsoft.Security/locations/westeurope/alerts/default/simulate"
        "?api-version=2022-01-01",
        json={"properties": {"kind": "Bundles", "bundles": ["Nope"]}},
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "InvalidInputError"


def test_control_patch_changes_an_alert_upstream(
    emu: EmulatorServer, security: Any, http: Http, sub_id: str
) -> None:
    doc = _pick(emu, sub_id, rg=False)
    _, loc, key = _parts(doc)
    resp = http.control(
        "PATCH", "/alerts", json={"id": doc["id"], "properties": {"status": "resolved", "severity": "High"}}
    )
    assert resp.status_code == 200
    alert = security(sub_id).alerts.get_subscription_level(loc, key)
    assert (alert.status, alert.severity) == ("Resolved", "High")


def test_every_demo_alert_deserialises_through_the_sdk(security: Any, tenant: dict[str, Any]) -> None:
    for sid in tenant["subscription_ids"]:
        for alert in security(sid).alerts.list():
            props = alert.serialize(keep_readonly=True)["properties"]
            assert props["startTimeUtc"] <= props["endTimeUtc"] <= props["timeGeneratedUtc"]
            assert props["timeGeneratedUtc"] <= props["processingEndTimeUtc"]
            assert alert.resource_identifiers


def test_control_delete_stops_azure_listing_an_alert(
    emu: EmulatorServer, security: Any, http: Http, sub_id: str
) -> None:
    doc = _pick(emu, sub_id, rg=True)
    before = len(list(security(sub_id).alerts.list()))
    resp = http.control("DELETE", "/alerts", params={"id": doc["id"]})
    assert resp.status_code == 200
    ids = [a.id for a in security(sub_id).alerts.list()]
    assert len(ids) == before - 1 and doc["id"] not in ids
    rg, loc, key = _parts(doc)
    with pytest.raises(ResourceNotFoundError):
        security(sub_id).alerts.get_resource_group_level(rg, loc, key)
    assert http.control("DELETE", "/alerts", params={"id": doc["id"]}).status_code == 404
