"""Defender plans: the 13 plans, filters, the 30-day trial and the PerTransaction refusal."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.security.v2024_01_01.models import Pricing

from emulator.tests.conftest import Http

PLANS = [
    "VirtualMachines", "SqlServers", "AppServices", "StorageAccounts", "SqlServerVirtualMachines", "KubernetesService",
    "ContainerRegistry", "KeyVaults", "Dns", "Arm", "OpenSourceRelationalDatabases", "Containers", "CloudPosture",
]  # fmt: skip


def test_list_has_the_thirteen_plans_without_next_link(security: Any, http: Http, sub_id: str) -> None:
    result = security(sub_id).pricings.list(f"subscriptions/{sub_id}")
    assert [p.name for p in result.value] == PLANS
    raw = http.arm(
        "GET", f"/subscriptions/{sub_id}/providers/Microsoft.Security/pricings?api-version=2024-01-01"
    ).json()
    assert set(raw) == {"value"}
    k8s = next(p for p in raw["value"] if p["name"] == "KubernetesService")["properties"]
    assert k8s["deprecated"] is True and k8s["replacedBy"] == ["Containers"]
    assert all(p["properties"]["enforce"] in ("True", "False") for p in raw["value"])


def test_list_filter_by_name(security: Any, sub_id: str) -> None:
    result = security(sub_id).pricings.list(
        f"subscriptions/{sub_id}", filter="name in (VirtualMachines,KeyVaults)"
    )
    assert [p.name for p in result.value] == ["VirtualMachines", "KeyVaults"]


def test_get_shows_the_running_trial(security: Any, sub_id: str) -> None:
    plan = security(sub_id).pricings.get(f"subscriptions/{sub_id}", "KeyVaults")
    assert (plan.pricing_tier, plan.sub_plan) == ("Standard", "PerKeyVault")
    assert dt.timedelta(days=21) < plan.free_trial_remaining_time < dt.timedelta(days=22)
    assert plan.enablement_time is not None


def test_first_enabling_starts_a_trial_that_counts_down_and_is_not_renewed(
    security: Any, http: Http, dev_sub_id: str
) -> None:
    client = security(dev_sub_id).pricings
    scope = f"subscriptions/{dev_sub_id}"
    before = client.get(scope, "KeyVaults")
    assert before.pricing_tier == "Free"
    assert before.free_trial_remaining_time == dt.timedelta(
        days=30
    )  # never used: the whole trial is available
    enabled = client.update(scope, "KeyVaults", Pricing(pricing_tier="standard"))
    assert (enabled.pricing_tier, enabled.sub_plan) == ("Standard", "PerKeyVault")
    assert dt.timedelta(days=29, hours=23) < enabled.free_trial_remaining_time <= dt.timedelta(days=30)
    assert enabled.enablement_time is not None
    http.control("POST", "/clock", json={"advance_seconds": 10 * 86400 + 3600})
    later = client.get(scope, "KeyVaults")
    assert dt.timedelta(days=19, hours=22) < later.free_trial_remaining_time < dt.timedelta(days=19, hours=23)
    raw = http.arm(
        "GET", f"/{scope}/providers/Microsoft.Security/pricings/KeyVaults?api-version=2024-01-01"
    ).json()
    assert raw["properties"]["freeTrialRemainingTime"].startswith("P19DT22H")
    assert client.update(
        scope, "KeyVaults", Pricing(pricing_tier="Free")
    ).free_trial_remaining_time == dt.timedelta(0)
    again = client.update(scope, "KeyVaults", Pricing(pricing_tier="Standard"))
    assert dt.timedelta(days=19) < again.free_trial_remaining_time < dt.timedelta(days=20)  # no new trial
    http.control("POST", "/clock", json={"advance_seconds": 40 * 86400})
    assert client.get(scope, "KeyVaults").free_trial_remaining_time == dt.timedelta(0)


def test_a_plan_used_before_gets_no_trial(security: Any, dev_sub_id: str) -> None:
    client = security(dev_sub_id).pricings
    scope = f"subscriptions/{dev_sub_id}"
    assert client.get(scope, "AppServices").free_trial_remaining_time == dt.timedelta(0)
    assert client.update(
        scope, "AppServices", Pricing(pricing_tier="Standard")
    ).free_trial_remaining_time == dt.timedelta(0)


def test_per_transaction_is_refused_for_new_enablements(security: Any, dev_sub_id: str) -> None:
    client = security(dev_sub_id).pricings
    with pytest.raises(HttpResponseError) as err:
        client.update(
            f"subscriptions/{dev_sub_id}",
            "KeyVaults",
            Pricing(pricing_tier="Standard", sub_plan="PerTransaction"),
        )
    assert err.value.status_code == 400
    assert err.value.error is not None and err.value.error.code == "InvalidInputError"
    assert "deprecated" in err.value.error.message
    assert "not available to new subscriptions" in err.value.error.message
    assert client.get(f"subscriptions/{dev_sub_id}", "KeyVaults").pricing_tier == "Free"


def test_a_subscription_already_on_per_transaction_keeps_it(
    security: Any, other_credential: Any, lab_sub_id: str
) -> None:
    client = security(lab_sub_id, cred=other_credential).pricings
    scope = f"subscriptions/{lab_sub_id}"
    assert client.get(scope, "KeyVaults").sub_plan == "PerTransaction"
    kept = client.update(scope, "KeyVaults", Pricing(pricing_tier="Standard", sub_plan="PerTransaction"))
    assert kept.sub_plan == "PerTransaction"
    client.update(scope, "KeyVaults", Pricing(pricing_tier="Free"))
    with pytest.raises(HttpResponseError) as err:  # switched off: re-enabling the legacy sub-plan is refused
        client.update(scope, "KeyVaults", Pricing(pricing_tier="Standard", sub_plan="PerTransaction"))
    assert err.value.status_code == 400
    assert client.update(scope, "KeyVaults", Pricing(pricing_tier="Standard")).sub_plan == "PerKeyVault"


def test_unknown_tier_and_plan(security: Any, http: Http, sub_id: str) -> None:
    client = security(sub_id).pricings
    scope = f"subscriptions/{sub_id}"
    with pytest.raises(HttpResponseError) as err:
        client.update(scope, "KeyVaults", Pricing(pricing_tier="Premium"))
    assert err.value.status_code == 400
    with pytest.raises(ResourceNotFoundError):
        client.get(scope, "Toasters")
    resp = http.arm(
        "PUT",
        f"/{scope}/providers/Microsoft.Security/pricings/KeyVaults?api-version=2024-01-01",
        data=b"{nope",
    )
    assert resp.status_code == 400


def test_sub_plans_are_case_normalised(security: Any, sub_id: str) -> None:
    plan = security(sub_id).pricings.update(
        f"subscriptions/{sub_id}", "VirtualMachines", Pricing(pricing_tier="STANDARD", sub_plan="p1")
    )
    assert (plan.pricing_tier, plan.sub_plan) == ("Standard", "P1")


def test_pricings_at_2023_01_01_without_scope(http: Http, sub_id: str) -> None:
    base = f"/subscriptions/{sub_id}/providers/Microsoft.Security/pricings"
    listed = http.arm("GET", f"{base}?api-version=2023-01-01").json()["value"]
    assert len(listed) == 13
    assert "resourcesCoverageStatus" not in listed[0]["properties"]
    resp = http.arm(
        "PUT", f"{base}/KeyVaults?api-version=2023-01-01", json={"properties": {"pricingTier": "Free"}}
    )
    assert resp.status_code == 200
    assert resp.json()["properties"]["pricingTier"] == "Free"
