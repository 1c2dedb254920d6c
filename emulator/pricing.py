"""Defender plans (`Microsoft.Security/pricings`): the 13 plans of the spec example, trial and sub-plans.

Rules (DOMAIN.md §1): enabling a plan (Free -> Standard) for the first time on a subscription starts a
30-day trial that counts down on the emulator's clock and cannot be paused; re-enabling later gives no
new trial. KeyVaults' legacy `PerTransaction` sub-plan is refused unless the subscription is already on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .util import ArmRefusal, api_version_at_least, azure_time, iso_duration

TRIAL = dt.timedelta(days=30)

# name -> (allowed sub-plans (first = default when enabling), deprecated, replacedBy)
PLANS: dict[str, tuple[tuple[str, ...], bool, tuple[str, ...]]] = {
    "VirtualMachines": (("P2", "P1"), False, ()),
    "SqlServers": ((), False, ()),
    "AppServices": ((), False, ()),
    "StorageAccounts": (("DefenderForStorageV2", "PerStorageAccount", "PerTransaction"), False, ()),
    "SqlServerVirtualMachines": ((), False, ()),
    "KubernetesService": ((), True, ("Containers",)),
    "ContainerRegistry": ((), True, ("Containers",)),
    "KeyVaults": (("PerKeyVault", "PerTransaction"), False, ()),
    "Dns": ((), True, ()),
    "Arm": (("PerSubscription", "PerApiCall"), False, ()),
    "OpenSourceRelationalDatabases": ((), False, ()),
    "Containers": ((), False, ()),
    "CloudPosture": ((), False, ()),
}
_CANONICAL = {name.lower(): name for name in PLANS}
# sub-plans that new subscriptions (or re-enabling) may no longer choose
LEGACY_SUBPLANS = {
    ("KeyVaults", "PerTransaction"),
    ("StorageAccounts", "PerTransaction"),
    ("Arm", "PerApiCall"),
}
_DEFAULT_EXTENSIONS: dict[str, list[dict[str, Any]]] = {
    "VirtualMachines": [
        {"name": "MdeDesignatedSubscription", "isEnabled": "False"},
        {
            "name": "AgentlessVmScanning",
            "isEnabled": "True",
            "additionalExtensionProperties": {"ExclusionTags": "[]"},
        },
    ],
    "StorageAccounts": [
        {
            "name": "OnUploadMalwareScanning",
            "isEnabled": "True",
            "additionalExtensionProperties": {"capGBPerMonthPerStorageAccount": 5000},
        },
        {"name": "SensitiveDataDiscovery", "isEnabled": "True"},
    ],
    "Containers": [{"name": "ContainerRegistriesVulnerabilityAssessments", "isEnabled": "True"}],
    "CloudPosture": [
        {
            "name": "AgentlessVmScanning",
            "isEnabled": "True",
            "additionalExtensionProperties": {"ExclusionTags": "[]"},
        },
        {"name": "AgentlessDiscoveryForKubernetes", "isEnabled": "True"},
        {"name": "SensitiveDataDiscovery", "isEnabled": "True"},
        {"name": "ContainerRegistriesVulnerabilityAssessments", "isEnabled": "True"},
    ],
}


class PricingError(ArmRefusal):
    pass


@dataclass
class PricingPlan:
    name: str
    tier: str = "Free"
    sub_plan: str | None = None
    enablement_time: dt.datetime | None = None
    trial_end: dt.datetime | None = None  # set on the first enabling; never reset
    enforce: str = "False"
    extensions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def deprecated(self) -> bool:
        return PLANS[self.name][1]

    @property
    def replaced_by(self) -> tuple[str, ...]:
        return PLANS[self.name][2]


def canonical_plan(name: str) -> str | None:
    return _CANONICAL.get(name.lower())


def default_plans() -> dict[str, PricingPlan]:
    return {name: PricingPlan(name=name) for name in PLANS}


def enable(
    plan: PricingPlan,
    now: dt.datetime,
    *,
    sub_plan: str | None = None,
    trial_started: dt.datetime | None = None,
) -> None:
    """Seed helper: put a plan on Standard as if enabled at `trial_started` (default: long ago, trial over)."""
    plan.tier = "Standard"
    allowed = PLANS[plan.name][0]
    plan.sub_plan = sub_plan or (allowed[0] if allowed else None)
    started = trial_started or (now - dt.timedelta(days=400))
    plan.enablement_time = started
    plan.trial_end = started + TRIAL
    plan.extensions = [dict(e) for e in _DEFAULT_EXTENSIONS.get(plan.name, [])]


def _norm_tier(value: Any) -> str:
    if not isinstance(value, str):
        raise PricingError(400, "InvalidInputError", "The property 'pricingTier' is required.")
    lowered = value.strip().lower()
    if lowered == "free":
        return "Free"
    if lowered == "standard":
        return "Standard"
    raise PricingError(
        400,
        "InvalidInputError",
        f"The pricing tier '{value}' is not valid. Supported values are 'Free' and 'Standard'.",
    )


def _norm_sub_plan(plan: PricingPlan, value: Any) -> str:
    allowed = PLANS[plan.name][0]
    if not isinstance(value, str) or not allowed:
        raise PricingError(
            400, "InvalidInputError", f"The pricing '{plan.name}' does not support sub-plans (got '{value}')."
        )
    for candidate in allowed:
        if candidate.lower() == value.strip().lower():
            return candidate
    raise PricingError(
        400,
        "InvalidInputError",
        f"The sub-plan '{value}' is not valid for pricing '{plan.name}'. Supported values: {', '.join(allowed)}.",
    )


def update(plan: PricingPlan, body: Any, now: dt.datetime) -> None:
    """Apply a PUT body `{"properties": {"pricingTier": ..., "subPlan": ..., "enforce": ..., "extensions": ...}}`."""
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        raise PricingError(
            400, "InvalidRequestContent", "The request content was invalid: 'properties' is required."
        )
    props = body["properties"]
    tier = _norm_tier(props.get("pricingTier"))
    requested_sub = props.get("subPlan")
    if tier == "Free":
        plan.tier = "Free"
        plan.sub_plan = None
        plan.enablement_time = None
        plan.extensions = []
        if "enforce" in props:
            plan.enforce = _norm_bool_str(props["enforce"])
        return
    if plan.deprecated and plan.replaced_by:
        raise PricingError(
            400,
            "InvalidInputError",
            f"The pricing '{plan.name}' is deprecated and cannot be enabled; use "
            f"'{', '.join(plan.replaced_by)}' instead.",
        )
    was_standard = plan.tier == "Standard"
    if requested_sub is not None:
        sub = _norm_sub_plan(plan, requested_sub)
    elif was_standard:
        sub = plan.sub_plan or ""
    else:
        allowed = PLANS[plan.name][0]
        sub = allowed[0] if allowed else ""
    if sub and (plan.name, sub) in LEGACY_SUBPLANS and not (was_standard and plan.sub_plan == sub):
        raise PricingError(
            400,
            "InvalidInputError",
            f"The sub-plan '{sub}' of pricing '{plan.name}' is deprecated: it is not available to new "
            "subscriptions or for re-enabling the plan. Subscriptions already on it can keep it. "
            f"Use '{PLANS[plan.name][0][0]}' instead.",
        )
    plan.tier = "Standard"
    plan.sub_plan = sub or None
    if not was_standard:
        plan.enablement_time = now
        if plan.trial_end is None:
            plan.trial_end = now + TRIAL
        plan.extensions = [dict(e) for e in _DEFAULT_EXTENSIONS.get(plan.name, [])]
    if "enforce" in props:
        plan.enforce = _norm_bool_str(props["enforce"])
    if isinstance(props.get("extensions"), list):
        plan.extensions = [_norm_extension(e) for e in props["extensions"]]


def _norm_bool_str(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return "True" if value.strip().lower() == "true" else "False"
    raise PricingError(400, "InvalidInputError", f"'{value}' is not a valid value; use 'True' or 'False'.")


def _norm_extension(ext: Any) -> dict[str, Any]:
    if not isinstance(ext, dict) or not isinstance(ext.get("name"), str) or "isEnabled" not in ext:
        raise PricingError(400, "InvalidInputError", "Each extension needs 'name' and 'isEnabled'.")
    out: dict[str, Any] = {"name": ext["name"], "isEnabled": _norm_bool_str(ext["isEnabled"])}
    if isinstance(ext.get("additionalExtensionProperties"), dict):
        out["additionalExtensionProperties"] = ext["additionalExtensionProperties"]
    return out


def remaining_trial(plan: PricingPlan, now: dt.datetime) -> str:
    """Trial time left: counts down while the trial runs; `P30D` while never used (Free), else `PT0S`."""
    if plan.trial_end is None:
        return "P30D" if plan.tier == "Free" and not plan.deprecated else "PT0S"
    if plan.tier != "Standard":
        return "PT0S"
    return iso_duration(plan.trial_end - now)


def render(
    plan: PricingPlan,
    subscription_id: str,
    now: dt.datetime,
    api_version: str | None,
    *,
    after_put: bool = False,
) -> dict[str, Any]:
    """The pricing resource; a PUT's answer also reports each extension's `operationStatus`."""
    props: dict[str, Any] = {"pricingTier": plan.tier}
    if plan.sub_plan:
        props["subPlan"] = plan.sub_plan
    props["freeTrialRemainingTime"] = remaining_trial(plan, now)
    if plan.tier == "Standard" and plan.enablement_time and api_version_at_least(api_version, "2023-01-01"):
        props["enablementTime"] = azure_time(plan.enablement_time)
    if api_version_at_least(api_version, "2024-01-01"):
        props["enforce"] = plan.enforce
        props["resourcesCoverageStatus"] = "FullyCovered" if plan.tier == "Standard" else "NotCovered"
    if plan.extensions and plan.tier == "Standard" and api_version_at_least(api_version, "2023-01-01"):
        props["extensions"] = [dict(e) for e in plan.extensions]
        if after_put:
            for ext in props["extensions"]:
                enabled = ext["isEnabled"] == "True"
                ext["operationStatus"] = {
                    "code": "Succeeded",
                    "message": f"Successfully {'enabled' if enabled else 'disabled'} extension",
                }
    if plan.deprecated:
        props["deprecated"] = True
        if plan.replaced_by:
            props["replacedBy"] = list(plan.replaced_by)
    return {
        "id": f"/subscriptions/{subscription_id}/providers/Microsoft.Security/pricings/{plan.name}",
        "name": plan.name,
        "type": "Microsoft.Security/pricings",
        "properties": props,
    }


def parse_name_filter(filter_text: str | None) -> set[str] | None:
    """`name in (VirtualMachines,KeyVaults)` -> {"virtualmachines", "keyvaults"}; None = no filter."""
    if not filter_text:
        return None
    text = filter_text.strip()
    lowered = text.lower()
    if not lowered.startswith("name") or " in " not in lowered or "(" not in text or not text.endswith(")"):
        raise PricingError(
            400, "InvalidInputError", f"Invalid $filter '{filter_text}'. Supported: name in (Plan1,Plan2)."
        )
    inner = text[text.index("(") + 1 : -1]
    names = {part.strip().strip("'\"").lower() for part in inner.split(",") if part.strip()}
    return names
