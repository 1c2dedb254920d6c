"""Resource Graph through the real ResourceGraphClient and credential: rows in Resource Graph's shape (PascalCase
properties, lower-case type), the accepted query subset, paging, the per-user quota and its headers, and the 400
that any other query shape gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from emulator.server import EmulatorServer
from emulator.tests.conftest import Http

ALERTS = "securityresources | where type =~ 'microsoft.security/locations/alerts'"


@pytest.fixture
def graph(emu: EmulatorServer, credential: Any) -> ResourceGraphClient:
    return ResourceGraphClient(credential, base_url=emu.base_url, connection_verify=str(emu.ca_path))


def _query(graph: ResourceGraphClient, subs: list[str], query: str, **options: Any) -> Any:
    return graph.resources(
        QueryRequest(
            subscriptions=subs, query=query, options=QueryRequestOptions(**options) if options else None
        )
    )


def _rest_alerts(http: Http, sub: str) -> list[dict[str, Any]]:
    url = f"/subscriptions/{sub}/providers/Microsoft.Security/alerts?api-version=2022-01-01"
    out: list[dict[str, Any]] = []
    while url:
        page = http.arm("GET", url).json()
        out += page["value"]
        url = (page.get("nextLink") or "").replace(http.emu.base_url, "")
    return out


def test_rows_are_resource_graphs_shape_with_pascalcase_properties(graph, http, tenant) -> None:
    sub = tenant["subscription_ids"][0]
    answer = _query(graph, [sub], ALERTS + " | project id, type, subscriptionId, properties", top=5)
    assert answer.count == 5 and answer.result_truncated == "false" and answer.skip_token
    row = answer.data[0]
    assert row["type"] == "microsoft.security/locations/alerts"
    assert row["subscriptionId"] == sub
    props = row["properties"]
    assert {"Status", "Severity", "AlertType", "SystemAlertId", "TimeGeneratedUtc", "StartTimeUtc"} <= set(
        props
    )
    assert "status" not in props
    rest = {a["id"].lower(): a for a in _rest_alerts(http, sub)}
    assert rest[row["id"].lower()]["properties"]["status"] == props["Status"]
    assert answer.total_records == len(rest)


def test_type_compares_lower_case_and_properties_are_case_sensitive(graph, tenant) -> None:
    sub = tenant["subscription_ids"][0]
    exact = "securityresources | where type == 'Microsoft.Security/locations/alerts' | project id"
    assert _query(graph, [sub], exact).total_records == 0  # `type` is lower-case: use =~
    camel = ALERTS + " | where tostring(properties.status) == 'Active' | project id"
    assert _query(graph, [sub], camel).total_records == 0  # the REST name matches nothing here
    pascal = ALERTS + " | where tostring(properties.Status) == 'Active' | project id"
    assert _query(graph, [sub], pascal).total_records > 0


def test_counts_by_subscription_and_status_match_the_rest_api(graph, http, tenant) -> None:
    subs = list(tenant["subscription_ids"])
    query = ALERTS + " | summarize count() by subscriptionId, Status = tostring(properties.Status)"
    rows = _query(graph, subs, query).data
    assert rows and set(rows[0]) == {"subscriptionId", "Status", "count_"}
    for sub in subs:
        expected: dict[str, int] = {}
        for alert in _rest_alerts(http, sub):
            status = alert["properties"]["status"]
            expected[status] = expected.get(status, 0) + 1
        got = {r["Status"]: r["count_"] for r in rows if r["subscriptionId"] == sub}
        assert got == expected


def test_new_alerts_since_a_time_by_subscription(graph, http, tenant) -> None:
    sub = tenant["subscription_ids"][0]
    times = sorted(a["properties"]["timeGeneratedUtc"] for a in _rest_alerts(http, sub))
    since = datetime.fromisoformat(times[-3]) - timedelta(microseconds=1)
    stamp = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
    query = (
        ALERTS
        + f" | where todatetime(properties.TimeGeneratedUtc) > datetime({stamp}) | summarize count() by subscriptionId"
    )
    assert _query(graph, [sub], query).data == [{"subscriptionId": sub, "count_": 3}]
    # another tenant's subscription is not answered for this principal
    assert _query(graph, ["00000000-0000-0000-0000-000000000000"], query).data == []


def test_pages_follow_the_skip_token(graph, http, tenant) -> None:
    assert http.control("POST", "/resource-graph-quota", json={"limit": 100, "window_seconds": 5}).ok
    sub = tenant["subscription_ids"][0]
    first = _query(graph, [sub], ALERTS + " | project id", top=7)
    seen = [r["id"] for r in first.data]
    token = first.skip_token
    while token:
        page = _query(graph, [sub], ALERTS + " | project id", top=7, skip_token=token)
        seen += [r["id"] for r in page.data]
        token = page.skip_token
    assert len(seen) == len(set(seen)) == first.total_records


@pytest.mark.parametrize(
    ("query", "parser_failure"),
    [
        ("securityresources | where type =~ 'microsoft.security/locations/alerts' | take 5", False),
        ("resources | where type =~ 'microsoft.keyvault/vaults'", False),
        (ALERTS + " | summarize max(properties.Severity) by subscriptionId", False),
        (ALERTS + " | where properties.Status == 'Active'", False),  # not tostring(): outside the subset
        (ALERTS + " | where tostring(properties.Status) == 'Active", True),  # an open quote
        (ALERTS + " | where todatetime(properties.TimeGeneratedUtc) > datetime(yesterday)", True),
    ],
)
def test_any_other_query_shape_gets_resource_graphs_400(
    graph, tenant, query: str, parser_failure: bool
) -> None:
    with pytest.raises(HttpResponseError) as info:
        _query(graph, [tenant["subscription_ids"][0]], query)
    assert info.value.status_code == 400
    error = info.value.response.json()["error"]
    assert error["code"] == "BadRequest"
    codes = [d["code"] for d in error["details"]]
    assert codes[0] == "InvalidQuery" and ("ParserFailure" in codes) == parser_failure


def test_the_per_user_quota_and_its_headers(graph, http, tenant) -> None:
    assert http.control("POST", "/resource-graph-quota", json={"limit": 3, "window_seconds": 30}).ok
    sub = tenant["subscription_ids"][0]
    seen: list[tuple[str, str]] = []

    def hook(response: Any) -> None:
        headers = response.http_response.headers
        seen.append((headers.get("x-ms-user-quota-remaining"), headers.get("x-ms-user-quota-resets-after")))

    for _ in range(3):
        answer = graph.resources(
            QueryRequest(subscriptions=[sub], query=ALERTS + " | project id"), raw_response_hook=hook
        )
        assert answer.count > 0
    assert [r for r, _ in seen] == ["2", "1", "0"]
    assert all(len(after.split(":")) == 3 for _, after in seen)  # hh:mm:ss
    body = {"subscriptions": [sub], "query": ALERTS + " | project id"}
    refused = http.arm(
        "POST", "/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01", json=body
    )
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "RateLimiting"
    assert refused.headers["x-ms-user-quota-remaining"] == "0" and "Retry-After" not in refused.headers
    assert (
        http.control("POST", "/resource-graph-quota", json={"limit": 0, "window_seconds": 5}).status_code
        == 400
    )
