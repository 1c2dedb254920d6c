"""Writes on alerts: status changes, new alerts (control API, simulate) with suppression, upstream edits."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from . import suppression
from .alertgen import (
    BUNDLE_TYPES,
    KV_BY_TYPE,
    OTHER_TYPES,
    Options,
    Slots,
    VaultRef,
    build_kv_alert,
    build_other_alert,
    correlation_key,
    system_alert_id,
)
from .catalog import KEY_VAULT_ALERT_TYPES
from .pools import AZURE_IPS, EXTERNAL_IPS
from .state import ALERT_STATUSES, AlertRecord, EmulatorState
from .util import ArmRefusal, azure_time

UNSET: Any = object()  # resource group not given: the generator picks (mostly the vault's group)
VAULT_RG: Any = object()  # always the vault's resource group
SEVERITIES = {"informational": "Informational", "low": "Low", "medium": "Medium", "high": "High"}


class ActionError(ArmRefusal):
    pass


@dataclass
class Created:
    id: str
    name: str
    status: str
    suppressed_by: str | None


def set_status(state: EmulatorState, subscription_id: str, rec: AlertRecord | None, status: str) -> None:
    """Move an alert to Active/InProgress/Resolved/Dismissed (any state may follow any other)."""
    with state.lock:
        if rec is None:
            return
        rec.doc["properties"]["status"] = ALERT_STATUSES[status.lower()]
        state.store(subscription_id).touch(rec)


def _rng(state: EmulatorState) -> random.Random:
    state.gen_counter += 1
    return random.Random(f"{state.seed}:generated:{state.gen_counter}")


def _tenant_domain(state: EmulatorState, tenant_id: str) -> str:
    tenant = state.tenant_by_id(tenant_id)
    return tenant.domain if tenant else "contoso.com"


def _new_slots(rng: random.Random, now: dt.datetime, ip: str) -> Slots:
    start = now - dt.timedelta(minutes=rng.randint(5, 45), seconds=rng.randint(0, 59))
    end = now - dt.timedelta(minutes=rng.randint(1, 4))
    processed = now + dt.timedelta(milliseconds=rng.randint(100, 2000))
    sid = system_alert_id(start, rng)
    return Slots(
        id_segment=sid,
        name=sid,
        start=azure_time(start),
        end=azure_time(end),
        generated=azure_time(now),
        processing_end=azure_time(processed),
        status="Active",
        ip=ip,
        correlation_key=correlation_key(rng),
    )


def _build(
    state: EmulatorState,
    rng: random.Random,
    subscription_id: str,
    alert_type: str | None,
    resource_group: Any,
    location: str | None,
    title_prefix: str,
    vault_index: int | None = None,
) -> dict[str, Any]:
    sub = state.subscription(subscription_id)
    assert sub is not None
    vaults = state.vaults.get(sub.subscription_id.lower()) or []
    now = state.clock.now()
    if vaults:
        pool = vaults
        if isinstance(resource_group, str):
            pool = [v for v in vaults if v.resource_group.lower() == resource_group.lower()] or vaults
        v = pool[vault_index % len(pool)] if vault_index is not None else rng.choice(pool)
        vault = VaultRef(v.subscription_id, v.resource_group, v.name, v.location, sub.tenant_id)
    else:
        vault = VaultRef(sub.subscription_id, "rg-sample", "kv-sample", sub.asc_location, sub.tenant_id)
    if resource_group is UNSET:
        rg: str | None = vault.resource_group if rng.random() < 0.65 else None
    elif resource_group is VAULT_RG:
        rg = vault.resource_group
    else:
        rg = resource_group
    loc = location or sub.asc_location
    info = KV_BY_TYPE.get(alert_type) if alert_type else rng.choice(KEY_VAULT_ALERT_TYPES)
    if alert_type and info is None and alert_type in OTHER_TYPES:
        slots = _new_slots(rng, now, rng.choice(EXTERNAL_IPS)[0])
        return build_other_alert(
            rng,
            alert_type,
            subscription_id=sub.subscription_id,
            location=loc,
            resource_group=rg,
            slots=slots,
            resource_group_for_resource=vault.resource_group,
            title_prefix=title_prefix,
        )
    custom = alert_type if info is None else None
    info = info or rng.choice(KEY_VAULT_ALERT_TYPES)
    external = "IP" in info.alert_type or "TOR" in info.alert_type or rng.random() < 0.4
    slots = _new_slots(rng, now, rng.choice(EXTERNAL_IPS if external else AZURE_IPS)[0])
    doc = build_kv_alert(
        rng,
        info,
        vault,
        location=loc,
        resource_group=rg,
        slots=slots,
        tenant_domain=_tenant_domain(state, sub.tenant_id),
        opts=Options(title_prefix=title_prefix, evidence="tabular" if rng.random() < 0.4 else None),
    )
    if custom:
        doc["properties"]["alertType"] = custom
    return doc


def _insert(state: EmulatorState, subscription_id: str, doc: dict[str, Any]) -> Created:
    """Append a new alert; enabled, unexpired suppression rules dismiss it at once (as Azure does)."""
    sid = subscription_id.lower()
    rules = list(state.rules.get(sid, {}).values())
    rule = suppression.first_match(rules, doc, state.clock.now())
    if rule is not None:
        doc["properties"]["status"] = "Dismissed"
    rec = state.store(sid).append(doc)
    return Created(rec.doc["id"], rec.doc["name"], rec.status, rule.name if rule else None)


def create_alerts(state: EmulatorState, body: Any) -> list[Created]:
    if not isinstance(body, dict):
        raise ActionError(400, "InvalidRequestContent", "body must be a JSON object")
    sub_id = body.get("subscription_id")
    if not isinstance(sub_id, str) or state.subscription(sub_id) is None:
        raise ActionError(404, "SubscriptionNotFound", f"The subscription '{sub_id}' could not be found.")
    count = body.get("count", 1)
    if not isinstance(count, int) or not 1 <= count <= 10_000:
        raise ActionError(400, "InvalidInputError", "'count' must be an integer between 1 and 10000")
    severity = body.get("severity")
    if severity is not None and str(severity).lower() not in SEVERITIES:
        raise ActionError(400, "InvalidInputError", f"'severity' must be one of {list(SEVERITIES.values())}")
    overrides = body.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ActionError(400, "InvalidInputError", "'overrides' must be an object of alert properties")
    rg = body.get("resource_group", UNSET)
    if rg is not UNSET and rg is not None and not isinstance(rg, str):
        raise ActionError(400, "InvalidInputError", "'resource_group' must be a string or null")
    created: list[Created] = []
    with state.lock:
        for _ in range(count):
            rng = _rng(state)
            doc = _build(state, rng, sub_id, body.get("alert_type"), rg, body.get("location"), "")
            if severity is not None:
                doc["properties"]["severity"] = SEVERITIES[str(severity).lower()]
            doc["properties"].update(overrides)
            if "status" in overrides:
                doc["properties"]["status"] = ALERT_STATUSES.get(str(overrides["status"]).lower(), "Active")
            created.append(_insert(state, sub_id, doc))
    return created


def simulate(state: EmulatorState, subscription_id: str, location: str, body: Any) -> list[Created]:
    """`alerts/default/simulate`: sample alerts for each requested bundle, titled `[SAMPLE ALERT] ...`."""
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise ActionError(
            400, "InvalidRequestContent", "The request content was invalid: 'properties' is required."
        )
    kind = str(props.get("kind", ""))
    if kind.lower() != "bundles":
        raise ActionError(
            400, "InvalidInputError", f"The simulation kind '{kind}' is not supported; use 'Bundles'."
        )
    bundles = props.get("bundles")
    if not isinstance(bundles, list) or not bundles:
        raise ActionError(400, "InvalidInputError", "'bundles' must be a non-empty list.")
    unknown = [b for b in bundles if str(b).lower() not in BUNDLE_TYPES]
    if unknown:
        raise ActionError(400, "InvalidInputError", f"Unknown bundles: {', '.join(map(str, unknown))}.")
    created: list[Created] = []
    with state.lock:
        for bundle in bundles:
            for n, alert_type in enumerate(BUNDLE_TYPES[str(bundle).lower()]):
                rng = _rng(state)
                # sample alerts live on a vault of the subscription, under its resource group
                doc = _build(
                    state, rng, subscription_id, alert_type, VAULT_RG, location, "[SAMPLE ALERT] ", n
                )
                created.append(_insert(state, subscription_id, doc))
    return created


def patch_alert(state: EmulatorState, body: Any) -> dict[str, Any]:
    """Change an alert upstream (as Azure would, e.g. a status change made in the Azure portal)."""
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise ActionError(400, "InvalidInputError", "'id' (the alert's ARM id) is required")
    props = body.get("properties") or {}
    if not isinstance(props, dict):
        raise ActionError(400, "InvalidInputError", "'properties' must be an object")
    if "status" in props and str(props["status"]).lower() not in ALERT_STATUSES:
        raise ActionError(
            400, "InvalidInputError", f"'status' must be one of {list(ALERT_STATUSES.values())}"
        )
    with state.lock:
        found = state.find_alert_by_id(body["id"])
        if found is None:
            raise ActionError(404, "NotFound", f"No alert with id '{body['id']}'.")
        sid, rec = found
        rec.doc["properties"].update(props)
        if "status" in props:
            rec.doc["properties"]["status"] = ALERT_STATUSES[str(props["status"]).lower()]
        state.store(sid).touch(rec)
        return rec.doc


_SEVERITY_SWAP = {"High": "Low", "Medium": "High", "Low": "Medium", "Informational": "Medium"}


def churn(state: EmulatorState, body: Any) -> dict[str, Any]:
    """Benchmarks: change a scale subscription's alerts upstream, spread over every page.

    `{"subscription_id": s, "hold_back_every": n}` hides every n-th generated alert (i % n == n - 1): not raised
    yet. `{"subscription_id": s, "release": true, "change_every": m}` raises the held-back alerts (new to a
    client, on every page) and changes every m-th other one (i % m == m // 2), in turn its status, its severity
    and its entities (a new IP entity), as Azure would when an alert is updated or an analyst acts in the portal.
    """
    if not isinstance(body, dict) or not isinstance(body.get("subscription_id"), str):
        raise ActionError(400, "InvalidInputError", "'subscription_id' is required")
    sid = body["subscription_id"].lower()
    with state.lock:
        store = state.alerts.get(sid)
        if store is None or store.lazy is None:
            raise ActionError(404, "NotFound", "No generated (scale preset) alerts in that subscription.")
        hold = body.get("hold_back_every")
        if hold is not None:
            if not isinstance(hold, int) or hold < 2:
                raise ActionError(400, "InvalidInputError", "'hold_back_every' must be an integer >= 2")
            store.held = {i for i in range(hold - 1, store.base, hold)}
            return {"held": len(store.held), "listed": len(store)}
        if body.get("release") is not True:
            raise ActionError(400, "InvalidInputError", "give 'hold_back_every' or 'release': true")
        every = body.get("change_every", 20)
        if not isinstance(every, int) or every < 2:
            raise ActionError(400, "InvalidInputError", "'change_every' must be an integer >= 2")
        released = len(store.held)
        store.held = set()
        changed = {"status": 0, "severity": 0, "entities": 0}
        for n, i in enumerate(range(every // 2, store.base, every)):
            if i in store.removed:
                continue
            rec = store.materialise(i)
            props = rec.doc["properties"]
            kind = ("status", "severity", "entities")[n % 3]
            if kind == "status":
                props["status"] = "Dismissed" if props.get("status") == "Active" else "Active"
            elif kind == "severity":
                props["severity"] = _SEVERITY_SWAP.get(props.get("severity", "Medium"), "Medium")
            else:
                entities = props.setdefault("entities", [])
                entities.append(
                    {"$id": str(len(entities) + 1), "address": f"192.0.2.{n % 254 + 1}", "type": "ip"}
                )
            store.touch(rec)
            changed[kind] += 1
        return {"released": released, "changed": changed, "listed": len(store)}
