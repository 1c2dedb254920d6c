"""Injected faults against the SDK's retry policy (AZURE.md §4.2): what is retried, how often, what surfaces."""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ServiceResponseError,
)

from emulator.server import EmulatorServer
from emulator.state import ALERT_ID_RE
from emulator.tests.conftest import PAGE_SIZE, Http, make_credential

FAST = {"retry_backoff_factor": 0.01}


def _fault(http: Http, **spec: Any) -> dict[str, Any]:
    resp = http.control("POST", "/faults", json=spec)
    assert resp.status_code == 201, resp.text
    return resp.json()


def _sub_level_alert(emu: EmulatorServer, sub_id: str) -> tuple[str, str]:
    for doc in emu.state.store(sub_id).iter_docs():
        m = ALERT_ID_RE.match(doc["id"])
        if m and not m["rg"]:
            return m["loc"], m["key"]
    raise AssertionError("no subscription-level alert")


def test_get_429_with_retry_after_is_retried_and_succeeds(security: Any, http: Http, sub_id: str) -> None:
    _fault(http, operation="pricings.get", kind="429", retry_after=0)
    seq = http.last_seq()
    plan = security(sub_id, **FAST).pricings.get(f"subscriptions/{sub_id}", "KeyVaults")
    assert plan.name == "KeyVaults"
    calls = http.requests_since(seq, "pricings.get")
    assert [c["status"] for c in calls] == [429, 200]
    assert calls[0]["fault"] == "429"


def test_retry_after_header_is_sent(http: Http, sub_id: str) -> None:
    _fault(http, operation="pricings.list", kind="429", retry_after=7)
    resp = http.arm(
        "GET", f"/subscriptions/{sub_id}/providers/Microsoft.Security/pricings?api-version=2024-01-01"
    )
    assert (resp.status_code, resp.headers["Retry-After"]) == (429, "7")
    assert resp.json()["error"]["code"] == "SubscriptionRequestsThrottled"


def test_persistent_429_gives_up_after_four_requests(security: Any, http: Http, sub_id: str) -> None:
    _fault(http, operation="alerts.list", kind="429", retry_after=0, times=10)
    seq = http.last_seq()
    with pytest.raises(HttpResponseError) as err:
        list(security(sub_id, **FAST).alerts.list())
    assert err.value.status_code == 429
    # Count only what this fault answered: a request from an earlier test still in the server's hands when the
    # log was reset may land in the log afterwards.
    calls = http.requests_since(seq, "alerts.list")
    assert [c["status"] for c in calls if c["fault"] == "429"] == [429] * 4, calls


def test_post_429_without_retry_after_is_not_retried(
    emu: EmulatorServer, security: Any, http: Http, sub_id: str
) -> None:
    loc, key = _sub_level_alert(emu, sub_id)
    _fault(http, operation="alerts.state", kind="429", times=5)
    seq = http.last_seq()
    with pytest.raises(HttpResponseError) as err:
        security(sub_id, **FAST).alerts.update_subscription_level_state_to_dismiss(loc, key)
    assert err.value.status_code == 429
    assert len(http.requests_since(seq, "alerts.state")) == 1


def test_post_503_is_retried(emu: EmulatorServer, security: Any, http: Http, sub_id: str) -> None:
    loc, key = _sub_level_alert(emu, sub_id)
    _fault(http, operation="alerts.state", kind="503", times=2)
    seq = http.last_seq()
    security(sub_id, **FAST).alerts.update_subscription_level_state_to_resolve(loc, key)
    assert [c["status"] for c in http.requests_since(seq, "alerts.state")] == [503, 503, 204]


@pytest.mark.parametrize("kind", ["malformed", "truncated"])
def test_malformed_and_truncated_pages_fail_to_parse(
    security: Any, http: Http, sub_id: str, kind: str
) -> None:
    _fault(http, operation="alerts.list", kind=kind)
    with pytest.raises(DecodeError):
        list(security(sub_id).alerts.list())


def test_truncated_page_is_cut_mid_json(http: Http, sub_id: str) -> None:
    _fault(http, operation="alerts.list", kind="truncated")
    resp = http.arm(
        "GET", f"/subscriptions/{sub_id}/providers/Microsoft.Security/alerts?api-version=2022-01-01"
    )
    assert resp.status_code == 200
    assert resp.content.startswith(b'{"value":[') and not resp.content.endswith(b"}")


def test_nextlink_loop_is_observable(emu: EmulatorServer, security: Any, http: Http, sub_id: str) -> None:
    _fault(http, operation="alerts.list", kind="nextlink_loop", times=3)
    seq = http.last_seq()
    ids = [a.id for a in security(sub_id).alerts.list()]
    total = len(emu.state.store(sub_id))
    assert len(ids) == total + 3 * PAGE_SIZE
    assert len(set(ids)) == total
    calls = http.requests_since(seq, "alerts.list")
    assert [c["fault"] for c in calls[:4]] == ["nextlink_loop"] * 3 + [None]
    assert len({c["query"] for c in calls[:4]}) == 1


def test_expired_token_is_a_401_and_the_next_call_succeeds(
    emu: EmulatorServer, security: Any, http: Http, sub_id: str, tenant: dict[str, Any]
) -> None:
    cred = make_credential(emu, tenant)
    client = security(sub_id, cred=cred)
    client.pricings.get(f"subscriptions/{sub_id}", "KeyVaults")
    _fault(http, operation="pricings.get", kind="expired_token")
    seq = http.last_seq()
    with pytest.raises(ClientAuthenticationError) as err:
        client.pricings.get(f"subscriptions/{sub_id}", "KeyVaults")
    assert err.value.error is not None and err.value.error.code == "ExpiredAuthenticationToken"
    assert client.pricings.get(f"subscriptions/{sub_id}", "KeyVaults").name == "KeyVaults"
    # the policy drops its token after a 401, but MSAL's cache hands the same (still valid) one back
    assert [(c["op"], c["status"]) for c in http.requests_since(seq)] == [
        ("pricings.get", 401),
        ("pricings.get", 200),
    ]


def test_latency(security: Any, http: Http, sub_id: str) -> None:
    _fault(http, operation="pricings.get", kind="latency", latency_ms=250)
    started = time.monotonic()
    security(sub_id).pricings.get(f"subscriptions/{sub_id}", "KeyVaults")
    assert time.monotonic() - started >= 0.25


def test_timeout_holds_then_closes(security: Any, http: Http, sub_id: str) -> None:
    _fault(http, operation="pricings.get", kind="timeout", latency_ms=1500)
    with pytest.raises(ServiceResponseError):
        security(sub_id, retry_total=0, read_timeout=0.3).pricings.get(f"subscriptions/{sub_id}", "KeyVaults")


def test_match_limits_a_fault_to_one_subscription(
    security: Any, http: Http, sub_id: str, dev_sub_id: str
) -> None:
    _fault(http, operation="*", kind="500", times=5, match={"subscription_id": dev_sub_id})
    assert security(sub_id).pricings.get(f"subscriptions/{sub_id}", "KeyVaults").name == "KeyVaults"
    with pytest.raises(HttpResponseError) as err:
        security(dev_sub_id, retry_total=0).pricings.get(f"subscriptions/{dev_sub_id}", "KeyVaults")
    assert err.value.status_code == 500


def test_token_endpoint_fault_is_retried_by_azure_identity(
    emu: EmulatorServer, http: Http, tenant: dict[str, Any]
) -> None:
    _fault(http, operation="token", kind="503")
    seq = http.last_seq()
    assert make_credential(emu, tenant).get_token("https://management.azure.com/.default").token
    assert [c["status"] for c in http.requests_since(seq, "token")] == [503, 200]


def test_faults_can_be_listed_and_cleared(http: Http) -> None:
    _fault(http, operation="alerts.get", kind="500", times=3)
    assert [f["kind"] for f in http.control("GET", "/faults").json()["faults"]] == ["500"]
    http.control("DELETE", "/faults")
    assert http.control("GET", "/faults").json()["faults"] == []
    bad = http.control("POST", "/faults", json={"operation": "alerts.get", "kind": "teapot"})
    assert bad.status_code == 400


def test_relative_nextlink_pages_are_followed_by_the_sdk(
    emu: EmulatorServer, security: Any, http: Http, sub_id: str
) -> None:
    """`relative_nextlink`: a list page's nextLink is path and query only, as some ARM providers send it."""
    _fault(http, operation="*", kind="relative_nextlink", times=100)
    path = f"/subscriptions/{sub_id}/providers/Microsoft.Security/alerts?api-version=2022-01-01"
    first = http.arm("GET", path).json()
    link = first["nextLink"]
    assert (
        link.startswith(f"/subscriptions/{sub_id}/providers/Microsoft.Security/alerts?")
        and "$skipToken=" in link
    )
    second = http.arm("GET", link).json()
    assert second["nextLink"].startswith("/subscriptions/") and second["value"][0] != first["value"][0]
    vaults = http.arm(
        "GET", f"/subscriptions/{sub_id}/providers/Microsoft.KeyVault/vaults?api-version=2023-07-01&$top=5"
    )
    assert vaults.json()["nextLink"].startswith(
        f"/subscriptions/{sub_id}/providers/Microsoft.KeyVault/vaults?"
    )
    seq = http.last_seq()
    ids = [a.id for a in security(sub_id).alerts.list()]  # the SDK's pager joins it to its base URL
    assert len(ids) == len(set(ids)) == len(emu.state.store(sub_id))
    calls = http.requests_since(seq, "alerts.list")
    assert len(calls) > 1 and {c["fault"] for c in calls} == {"relative_nextlink"}
