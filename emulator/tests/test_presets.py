"""The seeded data: demo coverage and realism, determinism, and the lazy scale preset."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from typing import Any

import orjson
import pytest

from emulator import presets
from emulator.catalog import KEY_VAULT_ALERT_TYPES
from emulator.state import ALERT_ID_RE, EmulatorState
from emulator.util import Clock

ANCHOR = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")


def _world(preset: str = "demo", seed: int = 1, alerts: int | None = None) -> EmulatorState:
    state = EmulatorState(preset=preset, seed=seed, page_size=100, clock=Clock())
    presets.build(state, ANCHOR, alerts)
    return state


def _all_docs(state: EmulatorState) -> list[dict[str, Any]]:
    return [doc for store in state.alerts.values() for doc in store.iter_docs()]


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_demo_shape(seed: int) -> None:
    state = _world(seed=seed)
    assert len(state.tenants) == 2 and len(state.subscriptions) == 3
    docs = _all_docs(state)
    assert len(docs) == 500
    types = Counter(d["properties"]["alertType"] for d in docs)
    assert {t.alert_type for t in KEY_VAULT_ALERT_TYPES} <= set(types)
    for store in state.alerts.values():  # every subscription covers all 14 Key Vault types
        assert {t.alert_type for t in KEY_VAULT_ALERT_TYPES} <= {
            d["properties"]["alertType"] for d in store.iter_docs()
        }
    components = Counter(d["properties"].get("productComponentName") for d in docs)
    assert components["KeyVaults"] > 400 and components[None] > 0
    assert {"Servers", "SqlServers", "StorageAccounts"} <= set(components)
    statuses = Counter(d["properties"]["status"] for d in docs)
    assert statuses.most_common(1)[0][0] == "Active" and set(statuses) == {
        "Active",
        "InProgress",
        "Resolved",
        "Dismissed",
    }


@pytest.mark.parametrize("seed", [1, 7, 42])
def test_demo_alert_details(seed: int) -> None:
    docs = _all_docs(_world(seed=seed))
    now = ANCHOR
    for d in docs:
        p = d["properties"]
        for key in ("startTimeUtc", "endTimeUtc", "timeGeneratedUtc", "processingEndTimeUtc"):
            assert TIME_RE.match(p[key]), p[key]
        assert p["startTimeUtc"] <= p["endTimeUtc"] <= p["timeGeneratedUtc"] <= p["processingEndTimeUtc"]
        assert p["timeGeneratedUtc"] >= (now - dt.timedelta(days=91)).strftime("%Y-%m-%dT%H:%M:%S")
        assert p["resourceIdentifiers"][0]["type"] == "AzureResource"
        assert all(isinstance(v, str) for v in p["extendedProperties"].values())
    by_type = {d["properties"]["alertType"]: d for d in docs}
    tor = by_type["KV_TORAccess"]["properties"]
    assert tor["alertDisplayName"] == "Access from a TOR exit node to a key vault"
    assert tor["intent"] == "CredentialAccess" and tor["vendorName"] == "Microsoft"
    assert by_type["KV_UserAccessDeniedAnomaly"]["properties"]["intent"] == "InitialAccess"
    rg_level = [d for d in docs if "/resourceGroups/" in d["id"]]
    assert 0.5 < len(rg_level) / len(docs) < 0.8
    differs = [d for d in docs if ALERT_ID_RE.match(d["id"])["key"] != d["name"]]
    assert 5 <= len(differs) <= 12
    assert {"/resourceGroups/" in d["id"] for d in differs} == {True, False}
    assert all(d["name"] == d["properties"]["systemAlertId"] for d in docs)
    upper_rg = [d for d in docs if re.search(r"/resourceGroups/RG-", d["id"])]
    assert upper_rg
    keys_cased = [d for d in docs if any("Address" in e for e in d["properties"]["entities"])]
    assert keys_cased
    assert sum(1 for d in docs if d["properties"].get("supportingEvidence")) > 100
    assert sum(1 for d in docs if d["properties"].get("techniques")) > 200
    assert any(len(p) > 1 for p in (d["properties"]["resourceIdentifiers"] for d in docs))
    correlated = Counter(d["properties"]["correlationKey"] for d in docs)
    assert max(correlated.values()) >= 3
    assert Counter(d["properties"]["isIncident"] for d in docs)[False] > 480


def test_demo_entities_follow_the_access_rules() -> None:
    for d in _all_docs(_world()):
        p = d["properties"]
        if not p["alertType"].startswith("KV_"):
            continue
        types = [e.get("type") or e.get("Type") for e in p["entities"]]
        assert "ip" in types and "azure-resource" in types
        ext = p["extendedProperties"]
        if "Application ID" in ext and "UPN" not in ext:  # app access: no UPN, an app entity
            assert "cloud-application" in types
        ip_entity = p["entities"][0]
        geo = ip_entity.get("location") or ip_entity.get("Location")
        assert {"countryCode", "city", "latitude", "longitude", "asn", "carrier", "organization"} <= set(geo)
    assert any(
        "Object ID" not in d["properties"]["extendedProperties"]
        and "UPN" in d["properties"]["extendedProperties"]
        for d in _all_docs(_world())
    )  # traffic from outside Azure has no object id


@pytest.mark.parametrize("seed", [1, 7])
def test_demo_has_hostile_content(seed: int) -> None:
    blob = orjson.dumps(_all_docs(_world(seed=seed))).decode()
    for needle in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "{{7*7}}", "javascript:alert",
                   "Сервис", "支付服务", "خدمة", "🔑"):  # fmt: skip
        assert needle in blob, needle
    assert any(
        len(v) >= 10_000
        for d in _all_docs(_world(seed=seed))
        for v in d["properties"]["extendedProperties"].values()
    )


def test_same_seed_same_world_other_seed_other_world() -> None:
    a = orjson.dumps(_all_docs(_world(seed=7)))
    b = orjson.dumps(_all_docs(_world(seed=7)))
    c = orjson.dumps(_all_docs(_world(seed=8)))
    assert a == b != c


def test_demo_pricings_contacts_rules() -> None:
    state = _world()
    prod, dev, lab = list(state.subscriptions)
    assert state.pricings[prod]["KeyVaults"].tier == "Standard"
    assert state.pricings[dev]["KeyVaults"].tier == "Free"
    assert state.pricings[lab]["KeyVaults"].sub_plan == "PerTransaction"
    assert all(c.minimal_severity == "Medium" for c in state.contacts.values())
    assert len(state.rules[prod]) >= 2


def test_scale_preset_is_lazy_and_consistent() -> None:
    state = _world("scale", alerts=1_000_000)
    (sid,) = state.subscriptions
    store = state.store(sid)
    assert len(store) == 1_000_000
    assert store.overlay == {} and store.records == []
    lazy = store.lazy
    assert lazy is not None
    sizes = []
    for i in (0, 1, 2, 12345, 999_999):
        raw = lazy.raw(i)
        doc = lazy.doc(i)
        assert orjson.dumps(doc) == raw
        sizes.append(len(raw))
        rg, loc, key = ALERT_ID_RE.match(doc["id"]).group("rg", "loc", "key")
        assert store.find(rg, loc, key) is not None
        assert store.find(None if rg else "rg-scale-a", loc, key) is None
    assert 2000 < sum(sizes) / len(sizes) < 3200
    assert lazy.doc(0)["properties"]["timeGeneratedUtc"] < lazy.doc(999_999)["properties"]["timeGeneratedUtc"]
    items, last, more = store.page(after=-1, limit=100)
    assert len(items) == 100 and last == 99 and more
    items, last, more = store.page(after=999_949, limit=100)
    assert len(items) == 50 and last == 999_999 and not more


def test_scale_state_changes_live_in_the_overlay() -> None:
    from emulator import actions

    state = _world("scale", alerts=1000)
    (sid,) = state.subscriptions
    store = state.store(sid)
    doc = store.doc_at(10)
    rg, loc, key = ALERT_ID_RE.match(doc["id"]).group("rg", "loc", "key")
    new_status = "Resolved" if doc["properties"]["status"] != "Resolved" else "Active"
    actions.set_status(state, sid, store.find(rg, loc, key), new_status)
    assert list(store.overlay) == [10]
    assert orjson.loads(store.raw_at(10))["properties"]["status"] == new_status
    created = actions.create_alerts(state, {"subscription_id": sid, "count": 2})
    assert len(store) == 1002 and [c.id for c in created] == [
        store.doc_at(1000)["id"],
        store.doc_at(1001)["id"],
    ]


def test_churn_holds_back_then_raises_alerts_and_changes_others_on_every_page() -> None:
    """The benchmark's upstream churn: 1 in n generated alerts not raised yet, then raised with 1 in m changed."""
    from emulator import actions

    state = _world("scale", alerts=1000)
    (sid,) = state.subscriptions
    store = state.store(sid)
    held_doc = store.doc_at(99)
    assert actions.churn(state, {"subscription_id": sid, "hold_back_every": 100}) == {
        "held": 10,
        "listed": 990,
    }
    listed = [orjson.loads(raw)["id"] for raw in store.page(after=-1, limit=2000)[0]]
    assert len(listed) == 990 and held_doc["id"] not in listed
    rg, loc, key = ALERT_ID_RE.match(held_doc["id"]).group("rg", "loc", "key")
    assert store.find(rg, loc, key) is None  # not raised yet: not found either
    before = {i: store.raw_at(i) for i in range(1000)}

    result = actions.churn(state, {"subscription_id": sid, "release": True, "change_every": 20})
    assert result == {
        "released": 10,
        "changed": {"status": 17, "severity": 17, "entities": 16},
        "listed": 1000,
    }
    assert store.find(rg, loc, key) is not None
    changed = [i for i in range(1000) if store.raw_at(i) != before[i]]
    assert changed == list(range(10, 1000, 20))  # spread over every page
    kinds = [
        orjson.loads(before[i])["properties"] != orjson.loads(store.raw_at(i))["properties"] for i in changed
    ]
    assert all(kinds)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"subscription_id": "nope", "release": True},
        {"subscription_id": "SID", "hold_back_every": 1},
        {"subscription_id": "SID", "hold_back_every": "x"},
        {"subscription_id": "SID"},
        {"subscription_id": "SID", "release": True, "change_every": 0},
    ],
)
def test_churn_refuses_what_it_cannot_do(body: dict[str, Any]) -> None:
    from emulator import actions

    state = _world("scale", alerts=100)
    (sid,) = state.subscriptions
    body = {k: (sid if v == "SID" else v) for k, v in body.items()}
    with pytest.raises(actions.ActionError) as refused:
        actions.churn(state, body)
    assert refused.value.status in (400, 404)


TIME_KEYS = ("startTimeUtc", "endTimeUtc", "timeGeneratedUtc", "processingEndTimeUtc")


@pytest.mark.parametrize("seed", [1, 2, 3, 7, 42])
def test_no_demo_alert_time_is_later_than_the_anchor(seed: int) -> None:
    """Under "Newest first" an alert raised now must land on top: nothing seeded is dated after the clock's now."""
    from emulator.util import parse_time

    docs = _all_docs(_world(seed=seed))
    late = [
        (d["id"], k, d["properties"][k])
        for d in docs
        for k in TIME_KEYS
        if parse_time(d["properties"][k]) > ANCHOR
    ]
    assert late == []
    newest = max(parse_time(d["properties"]["timeGeneratedUtc"]) for d in docs)
    assert ANCHOR - newest < dt.timedelta(days=1)  # the demo still has alerts of the last day


def test_no_scale_alert_time_is_later_than_the_anchor() -> None:
    from emulator.util import parse_time

    state = _world("scale", alerts=1000)
    (sid,) = state.subscriptions
    last = state.store(sid).doc_at(999)["properties"]
    assert max(parse_time(last[k]) for k in TIME_KEYS) <= ANCHOR


def test_the_fleet_preset_for_sync_at_scale() -> None:
    """bench/scale_out.py's world: 200 subscriptions in 10 tenants, N lazily generated alerts and 2 vaults each."""
    state = EmulatorState(preset="fleet", seed=3, page_size=100, clock=Clock())
    presets.build(state, dt.datetime(2026, 12, 1, tzinfo=dt.UTC), 40)
    assert len(state.tenants) == presets.FLEET_TENANTS == 10
    assert len(state.subscriptions) == presets.FLEET_SUBSCRIPTIONS == 200
    per_tenant = Counter(s.tenant_id for s in state.subscriptions.values())
    assert set(per_tenant.values()) == {20}
    for sid in list(state.subscriptions)[:5]:
        assert len(state.alerts[sid]) == 40 and len(state.vaults[sid]) == 2
        docs = list(state.alerts[sid].iter_docs())
        assert len({d["id"] for d in docs}) == 40 and all(sid in d["id"].lower() for d in docs)
