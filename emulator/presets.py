"""Deterministic worlds: `demo` (2 tenants, 3 subscriptions, ~40 vaults, ~500 alerts) and `scale`.

Everything is drawn from `random.Random(seed)` and placed relative to `anchor` (the emulator clock's
"now" when the world was first built), so the same seed and anchor give the same data.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import random
import uuid
from typing import Any

from . import contacts, pricing, suppression
from .alertgen import (
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
from .pools import AZURE_IPS, EXTERNAL_IPS, PEOPLE
from .scale import ScaleAlerts
from .state import AlertStore, EmulatorState, StorageAccount, Subscription, Tenant, Vault
from .util import azure_time


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _secret(rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789~._-"
    return "".join(rng.choice(alphabet) for _ in range(40))


def _tenant(rng: random.Random, name: str, domain: str) -> Tenant:
    return Tenant(
        tenant_id=_guid(rng),
        display_name=name,
        domain=domain,
        client_id=_guid(rng),
        client_secret=_secret(rng),
        principal_object_id=_guid(rng),
        app_name=f"kv-defender-console-{name.lower().split()[0]}",
    )


def _vault_doc(
    rng: random.Random, sub: Subscription, rg: str, name: str, location: str, anchor: dt.datetime, domain: str
) -> dict[str, Any]:
    created = anchor - dt.timedelta(days=rng.randint(60, 1400), seconds=rng.randint(0, 86399))
    modified = created + dt.timedelta(days=rng.randint(0, 50))
    creator = f"{rng.choice(PEOPLE)[0].lower()}@{domain}"
    rbac = rng.random() < 0.6
    purge = rng.random() < 0.55
    soft_delete = rng.random() < 0.95
    public = "Disabled" if rng.random() < 0.2 else "Enabled"
    deny = public == "Enabled" and rng.random() < 0.4
    env = "prod" if "prod" in rg else ("dev" if "dev" in rg or "sandbox" in rg or "ci" in rg else "lab")
    props: dict[str, Any] = {
        "tenantId": sub.tenant_id,
        "sku": {"family": "A", "name": "premium" if rng.random() < 0.3 else "standard"},
        "accessPolicies": []
        if rbac
        else [
            {
                "tenantId": sub.tenant_id,
                "objectId": _guid(rng),
                "permissions": {
                    "keys": ["get", "list", "wrapKey", "unwrapKey"],
                    "secrets": ["get", "list"],
                    "certificates": ["get", "list"],
                },
            }
        ],
        "enabledForDeployment": rng.random() < 0.2,
        "enabledForDiskEncryption": rng.random() < 0.3,
        "enabledForTemplateDeployment": rng.random() < 0.3,
        "enableSoftDelete": soft_delete,
        "softDeleteRetentionInDays": rng.choice((7, 30, 90, 90, 90)),
        "enableRbacAuthorization": rbac,
        "vaultUri": f"https://{name}.vault.azure.net/",
        "provisioningState": "Succeeded",
        "publicNetworkAccess": public,
        "networkAcls": {
            "bypass": "AzureServices" if rng.random() < 0.8 else "None",
            "defaultAction": "Deny" if deny or public == "Disabled" else "Allow",
            "ipRules": [{"value": "192.0.2.0/24"}] if deny else [],
            "virtualNetworkRules": [],
        },
        "privateEndpointConnections": [],
    }
    if purge:
        props["enablePurgeProtection"] = True
    if public == "Disabled":
        props["privateEndpointConnections"] = [
            {
                "id": f"/subscriptions/{sub.subscription_id}/resourceGroups/{rg}/providers/Microsoft.KeyVault/"
                f"vaults/{name}/privateEndpointConnections/pe-{name}",
                "properties": {
                    "provisioningState": "Succeeded",
                    "privateEndpoint": {
                        "id": f"/subscriptions/{sub.subscription_id}/resourceGroups/{rg}/providers/"
                        f"Microsoft.Network/privateEndpoints/pe-{name}"
                    },
                    "privateLinkServiceConnectionState": {"status": "Approved", "actionsRequired": "None"},
                },
            }
        ]
    tags = {"env": env, "owner": creator, "costCenter": f"CC-{rng.randint(1000, 1999)}"}
    if rng.random() < 0.4:
        tags["dataClassification"] = rng.choice(("confidential", "internal", "restricted"))
    return {
        "id": f"/subscriptions/{sub.subscription_id}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}",
        "name": name,
        "type": "Microsoft.KeyVault/vaults",
        "location": location,
        "tags": tags,
        "systemData": {
            "createdBy": creator,
            "createdByType": "User",
            "createdAt": azure_time(created),
            "lastModifiedBy": creator,
            "lastModifiedByType": "User",
            "lastModifiedAt": azure_time(modified),
        },
        "properties": props,
    }


_REGION_ABBR = {
    "westeurope": "weu",
    "northeurope": "neu",
    "eastus": "eus",
    "eastus2": "eus2",
    "westus2": "wus2",
    "centralus": "cus",
    "southeastasia": "sea",
    "uksouth": "uks",
    "francecentral": "frc",
    "japaneast": "jpe",
}
_PURPOSES = (
    "pay",
    "idp",
    "data",
    "shared",
    "orders",
    "billing",
    "reports",
    "certs",
    "ci",
    "api",
    "web",
    "tls",
    "backup",
    "keys",
    "crm",
    "etl",
)


def _add_vaults(
    state: EmulatorState,
    rng: random.Random,
    sub: Subscription,
    groups: list[tuple[str, str]],
    count: int,
    anchor: dt.datetime,
    domain: str,
) -> None:
    vaults: list[Vault] = []
    used: set[str] = set()
    env = (
        "prod"
        if "Production" in sub.display_name
        else ("dev" if "Development" in sub.display_name else "lab")
    )
    for n in range(count):
        rg, location = groups[n % len(groups)]
        while True:
            name = f"kv-{rng.choice(_PURPOSES)}-{env}-{_REGION_ABBR[location]}-{rng.randint(1, 99):02d}"
            if name not in used:
                used.add(name)
                break
        doc = _vault_doc(rng, sub, rg, name, location, anchor, domain)
        vaults.append(Vault(sub.subscription_id, rg, name, location, doc))
    state.vaults[sub.subscription_id.lower()] = vaults


def storage_key(seed: int, name: str) -> str:
    """A storage account's key (64 bytes, base64, like Azure's), deterministic from the seed and the name."""
    return base64.b64encode(
        hmac.new(f"kv-emulator-storage-{seed}".encode(), name.encode(), hashlib.sha512).digest()
    ).decode()


def _add_storage_accounts(state: EmulatorState, sub: Subscription, extra_region: str | None = None) -> None:
    """One `stkvlogs<region><hash>` account per region the subscription's vaults are in (in the resource group of the
    first vault there), and optionally one in `extra_region`, where none of its vaults are (the region refusal).
    Drawn from no random stream, so the rest of the world stays as it was before storage accounts existed."""
    sid = sub.subscription_id.lower()
    regions: dict[str, str] = {}
    for v in state.vaults.get(sid, []):
        regions.setdefault(v.location, v.resource_group)
    if extra_region and extra_region not in regions and regions:
        regions[extra_region] = next(iter(regions.values()))
    taken = {a.name for accounts in state.storage_accounts.values() for a in accounts}
    accounts = []
    for region, rg in regions.items():
        digest = hashlib.sha256(f"{state.seed}:{sid}:{region}".encode()).hexdigest()
        length = 6
        name = f"stkvlogs{_REGION_ABBR[region]}{digest[:length]}"
        while name in taken:
            length += 1
            name = f"stkvlogs{_REGION_ABBR[region]}{digest[:length]}"
        taken.add(name)
        accounts.append(StorageAccount(sub.subscription_id, rg, name, region, storage_key(state.seed, name)))
    state.storage_accounts[sid] = accounts


def _ref(v: Vault, tenant_id: str) -> VaultRef:
    return VaultRef(v.subscription_id, v.resource_group, v.name, v.location, tenant_id)


def _status(rng: random.Random, days_ago: float) -> str:
    r = rng.random()
    if days_ago > 30:
        return "Active" if r < 0.45 else "Resolved" if r < 0.75 else "Dismissed" if r < 0.9 else "InProgress"
    return "Active" if r < 0.75 else "InProgress" if r < 0.87 else "Resolved" if r < 0.95 else "Dismissed"


def _slots(
    rng: random.Random, start: dt.datetime, status: str, ip: str, ck: str, anchor: dt.datetime
) -> tuple[Slots, dt.datetime]:
    end = start + dt.timedelta(seconds=rng.randint(0, 3 * 3600))
    generated = end + dt.timedelta(seconds=rng.randint(60, 1800), microseconds=rng.randint(0, 999999))
    processed = generated + dt.timedelta(seconds=rng.uniform(0.1, 5))
    # a recent alert (or a late one of its group) would end after `anchor`, the clock's now: all of it goes before
    if processed > anchor:
        shift = processed - anchor + dt.timedelta(minutes=1)
        start, end, generated, processed = start - shift, end - shift, generated - shift, processed - shift
    sid = system_alert_id(start, rng)
    return (
        Slots(
            id_segment=sid,
            name=sid,
            start=azure_time(start),
            end=azure_time(end),
            generated=azure_time(generated),
            processing_end=azure_time(processed),
            status=status,
            ip=ip,
            correlation_key=ck,
        ),
        generated,
    )


def _demo_alerts(
    state: EmulatorState,
    rng: random.Random,
    sub: Subscription,
    tenant: Tenant,
    target: int,
    anchor: dt.datetime,
    specials: dict[str, list[int]],
) -> None:
    vaults = state.vaults[sub.subscription_id.lower()]
    made: list[tuple[dt.datetime, dict[str, Any]]] = []
    type_queue = list(KEY_VAULT_ALERT_TYPES)
    rng.shuffle(type_queue)
    others = list(OTHER_TYPES)[:5]
    n = 0
    while n < target:
        group = 1 if rng.random() < 0.8 else rng.randint(2, 5)
        ck = correlation_key(rng)
        vault = rng.choice(vaults)
        days_ago = 90 * rng.random() ** 1.6
        base_start = anchor - dt.timedelta(days=days_ago) - dt.timedelta(hours=3)
        for g in range(min(group, target - n)):
            idx = n
            n += 1
            start = base_start + dt.timedelta(minutes=rng.randint(0, 240) * g)
            status = _status(rng, days_ago)
            rg_level = rng.random() < 0.65
            if idx in specials["name_differs"]:  # whatever the seed: some under a resource group, some not
                rg_level = specials["name_differs"].index(idx) % 2 == 0
            location = sub.asc_location if rng.random() < 0.8 else vault.location
            rg: str | None = vault.resource_group if rg_level or idx in specials["rg_upper"] else None
            if rg and idx in specials["rg_upper"]:
                rg = rg.upper()
            if idx in specials["other"]:
                kind = others[specials["other"].index(idx) % len(others)]
                slots, generated = _slots(rng, start, status, rng.choice(EXTERNAL_IPS)[0], ck, anchor)
                doc = build_other_alert(
                    rng,
                    kind,
                    subscription_id=sub.subscription_id,
                    location=location,
                    resource_group=rg,
                    slots=slots,
                    resource_group_for_resource=vault.resource_group,
                )
                made.append((generated, doc))
                continue
            info = type_queue.pop() if type_queue else rng.choice(KEY_VAULT_ALERT_TYPES)
            external = "IP" in info.alert_type or "TOR" in info.alert_type or rng.random() < 0.4
            ip = rng.choice(EXTERNAL_IPS if external else AZURE_IPS)[0]
            slots, generated = _slots(rng, start, status, ip, ck, anchor)
            if idx in specials["name_differs"]:
                slots.name = system_alert_id(start, rng)
            hostile_kinds = ("script", "img", "template", "jsurl", "long", "nonlatin")
            opts = Options(
                product_name="Azure Security Center"
                if days_ago > 60 and rng.random() < 0.5
                else "Microsoft Defender for Cloud",
                with_component=rng.random() > 0.05,
                evidence="tabular" if rng.random() < 0.35 else ("nested" if rng.random() < 0.12 else None),
                techniques=rng.random() < 0.6,
                log_analytics=rng.random() < 0.15,
                key_casing=idx in specials["key_casing"],
                hostile=hostile_kinds[specials["hostile"].index(idx) % len(hostile_kinds)]
                if idx in specials["hostile"]
                else None,
            )
            doc = build_kv_alert(
                rng,
                info,
                _ref(vault, tenant.tenant_id),
                location=location,
                resource_group=rg,
                slots=slots,
                tenant_domain=tenant.domain,
                opts=opts,
            )
            if group > 2 and g == 0 and rng.random() < 0.12:
                doc["properties"]["isIncident"] = True
            made.append((generated, doc))
    made.sort(key=lambda pair: pair[0])
    store = AlertStore()
    for _, doc in made:
        store.append(doc)
    state.alerts[sub.subscription_id.lower()] = store


def _plans(
    state: EmulatorState,
    sub: Subscription,
    anchor: dt.datetime,
    standard: dict[str, tuple[str | None, dt.datetime | None]],
    used_trial: tuple[str, ...] = (),
) -> None:
    plans = pricing.default_plans()
    for name, (sub_plan, started) in standard.items():
        pricing.enable(plans[name], anchor, sub_plan=sub_plan, trial_started=started)
    for name in used_trial:  # enabled once, later switched off: the trial is used up
        plans[name].trial_end = anchor - dt.timedelta(days=200)
    state.pricings[sub.subscription_id.lower()] = plans


def build_demo(state: EmulatorState, anchor: dt.datetime) -> None:
    rng = random.Random(state.seed)
    contoso = _tenant(rng, "Contoso", "contoso.com")
    fabrikam = _tenant(rng, "Fabrikam", "fabrikam.com")
    for t in (contoso, fabrikam):
        state.tenants[t.tenant_id.lower()] = t
    prod = Subscription(
        _guid(rng),
        "Contoso Production",
        contoso.tenant_id,
        "westeurope",
        tags={"env": "prod", "costCenter": "CC-1001"},
    )
    dev = Subscription(
        _guid(rng),
        "Contoso Development",
        contoso.tenant_id,
        "eastus",
        tags={"env": "dev", "costCenter": "CC-1002"},
        quota_id="MSDN_2014-09-01",
    )
    lab = Subscription(
        _guid(rng),
        "Fabrikam Security Lab",
        fabrikam.tenant_id,
        "centralus",
        tags={"env": "lab"},
        managed_by_tenants=[contoso.tenant_id],
        quota_id="PayAsYouGo_2014-09-01",
    )
    for s in (prod, dev, lab):
        state.subscriptions[s.subscription_id.lower()] = s
    _add_vaults(
        state,
        rng,
        prod,
        [
            ("rg-payments-prod", "westeurope"),
            ("rg-identity-prod", "northeurope"),
            ("rg-data-platform-prod", "westeurope"),
            ("rg-shared-secrets", "eastus2"),
        ],
        16,
        anchor,
        contoso.domain,
    )
    _add_vaults(
        state,
        rng,
        dev,
        [("rg-payments-dev", "eastus"), ("rg-sandbox", "eastus"), ("rg-ci-cd", "westus2")],
        12,
        anchor,
        contoso.domain,
    )
    _add_vaults(
        state,
        rng,
        lab,
        [("rg-seclab", "centralus"), ("rg-honeypots", "southeastasia"), ("rg-forensics", "centralus")],
        12,
        anchor,
        fabrikam.domain,
    )
    _add_storage_accounts(state, prod, "uksouth")
    _add_storage_accounts(state, dev, "westeurope")  # also where a Production vault may send its logs
    _add_storage_accounts(state, lab, "japaneast")
    _demo_alerts(
        state,
        rng,
        prod,
        contoso,
        250,
        anchor,
        {
            "other": [20, 45, 90, 130, 170, 210],
            "hostile": [3, 11, 27, 38, 52, 66, 101, 140],
            "name_differs": [5, 17, 33, 61, 99],
            "key_casing": [8, 41, 77, 120],
            "rg_upper": [9, 19, 29, 59],
        },
    )
    _demo_alerts(
        state,
        rng,
        dev,
        contoso,
        150,
        anchor,
        {
            "other": [15, 60, 110, 140],
            "hostile": [22, 80],
            "name_differs": [7, 70],
            "key_casing": [12],
            "rg_upper": [30, 90],
        },
    )
    _demo_alerts(
        state,
        rng,
        lab,
        fabrikam,
        100,
        anchor,
        {
            "other": [10, 50, 85],
            "hostile": [4, 44],
            "name_differs": [6],
            "key_casing": [14, 64],
            "rg_upper": [16],
        },
    )
    old = anchor - dt.timedelta(days=400)
    _plans(
        state,
        prod,
        anchor,
        {
            "KeyVaults": ("PerKeyVault", anchor - dt.timedelta(days=8, hours=3, minutes=20)),
            "VirtualMachines": ("P2", old),
            "SqlServers": (None, old),
            "StorageAccounts": ("DefenderForStorageV2", old),
            "Arm": ("PerSubscription", old),
            "Containers": (None, old),
            "CloudPosture": (None, old),
        },
    )
    _plans(state, dev, anchor, {"CloudPosture": (None, old)}, used_trial=("AppServices",))
    _plans(
        state,
        lab,
        anchor,
        {
            "KeyVaults": ("PerTransaction", old),
            "VirtualMachines": ("P1", old),
            "Dns": (None, old),
        },
        used_trial=("StorageAccounts",),
    )
    state.contacts[prod.subscription_id.lower()] = contacts.Contact(
        emails=["secops@contoso.com", "kv-owners@contoso.com"],
        phone="+1-425-555-0100",
        minimal_severity="Medium",
        roles=["Owner"],
        attack_path_risk="High",
    )
    state.contacts[dev.subscription_id.lower()] = contacts.Contact(
        emails=["dev-leads@contoso.com"], phone="", minimal_severity="Medium", roles=["Owner", "Contributor"]
    )
    state.contacts[lab.subscription_id.lower()] = contacts.Contact(
        emails=["soc@fabrikam.com"],
        phone="+44 20 7946 0000",
        minimal_severity="Medium",
        roles_on=False,
        roles=[],
    )
    rules = {
        "dismiss-ci-volume": suppression.Rule(
            name="dismiss-ci-volume",
            alert_type="KV_OperationVolumeAnomaly",
            reason="SpecificEntityFalsePositive",
            state="Enabled",
            last_modified=anchor - dt.timedelta(days=20),
            comment="Nightly CI secret rotation",
            expiration=anchor + dt.timedelta(days=160),
            conditions=[{"field": "entities.ip.address", "in": [AZURE_IPS[0][0], AZURE_IPS[3][0]]}],
        ),
        "partner-noise": suppression.Rule(
            name="partner-noise",
            alert_type="*",
            reason="Noise",
            state="Disabled",
            last_modified=anchor - dt.timedelta(days=45),
            comment="Partner batch jobs, under review",
            conditions=[{"field": "entities.account.upnsuffix", "in": ["partner.contoso.com"]}],
        ),
        "tor-pentest-2024": suppression.Rule(
            name="tor-pentest-2024",
            alert_type="KV_TORAccess",
            reason="FalsePositive",
            state="Enabled",
            last_modified=anchor - dt.timedelta(days=120),
            comment="Red team exercise",
            expiration=anchor - dt.timedelta(days=30),
            conditions=[{"field": "entities.azureresource.resourceid", "contains": "kv-"}],
        ),
    }
    state.rules[prod.subscription_id.lower()] = rules
    for s in (dev, lab):
        state.rules[s.subscription_id.lower()] = {}


def build_scale(state: EmulatorState, anchor: dt.datetime, alerts: int) -> None:
    rng = random.Random(state.seed)
    tenant = _tenant(rng, "Contoso Scale", "contoso.com")
    state.tenants[tenant.tenant_id.lower()] = tenant
    sub = Subscription(_guid(rng), "Contoso Scale Test", tenant.tenant_id, "westeurope", tags={"env": "perf"})
    state.subscriptions[sub.subscription_id.lower()] = sub
    _add_vaults(
        state,
        rng,
        sub,
        [
            ("rg-scale-a", "westeurope"),
            ("rg-scale-b", "northeurope"),
            ("rg-scale-c", "eastus2"),
            ("rg-scale-d", "westeurope"),
        ],
        40,
        anchor,
        tenant.domain,
    )
    _add_storage_accounts(state, sub)
    refs = [_ref(v, tenant.tenant_id) for v in state.vaults[sub.subscription_id.lower()]]
    lazy = ScaleAlerts(
        seed=state.seed,
        count=alerts,
        subscription_id=sub.subscription_id,
        asc_location=sub.asc_location,
        vaults=refs,
        tenant_domain=tenant.domain,
        anchor=anchor,
    )
    state.alerts[sub.subscription_id.lower()] = AlertStore(lazy)
    _plans(state, sub, anchor, {"KeyVaults": ("PerKeyVault", anchor - dt.timedelta(days=100))})
    state.contacts[sub.subscription_id.lower()] = contacts.Contact(
        emails=["perf@contoso.com"], minimal_severity="Medium"
    )
    state.rules[sub.subscription_id.lower()] = {}


DEFAULT_SCALE_ALERTS = 100_000
FLEET_TENANTS = 10
FLEET_SUBSCRIPTIONS = 200
DEFAULT_FLEET_ALERTS = 500  # per subscription
LIGHTHOUSE_SUBSCRIPTIONS = 2000
DEFAULT_LIGHTHOUSE_ALERTS = 3  # per subscription


def build_fleet(
    state: EmulatorState,
    anchor: dt.datetime,
    per_subscription: int,
    *,
    subscriptions: int = FLEET_SUBSCRIPTIONS,
    managed_by: str | None = None,
) -> None:
    """Sync at scale (bench/scale_out.py): `subscriptions` subscriptions spread over FLEET_TENANTS tenants (one
    service principal each), `per_subscription` lazily generated alerts and 2 key vaults each; every one delegated
    through Azure Lighthouse to the tenant `managed_by` when given."""
    rng = random.Random(state.seed)
    tenants = [_tenant(rng, f"Fleet{i:02d} Corp", f"fleet{i:02d}.example") for i in range(FLEET_TENANTS)]
    for tenant in tenants:
        state.tenants[tenant.tenant_id.lower()] = tenant
    for i in range(subscriptions):
        tenant = tenants[i % FLEET_TENANTS]
        sub = Subscription(
            _guid(rng),
            f"Fleet subscription {i:04d}" if subscriptions > 1000 else f"Fleet subscription {i:03d}",
            tenant.tenant_id,
            "westeurope",
            managed_by_tenants=[managed_by] if managed_by else [],
        )
        sid = sub.subscription_id.lower()
        state.subscriptions[sid] = sub
        _add_vaults(state, rng, sub, [(f"rg-fleet-{i:03d}", "westeurope")], 2, anchor, tenant.domain)
        refs = [_ref(v, tenant.tenant_id) for v in state.vaults[sid]]
        state.alerts[sid] = AlertStore(
            ScaleAlerts(
                seed=state.seed * 1000 + i,
                count=per_subscription,
                subscription_id=sub.subscription_id,
                asc_location=sub.asc_location,
                vaults=refs,
                tenant_domain=tenant.domain,
                anchor=anchor,
            )
        )
        _plans(state, sub, anchor, {"KeyVaults": ("PerKeyVault", anchor - dt.timedelta(days=100))})
        state.rules[sid] = {}


LIGHTHOUSE_MANAGER = "Fleet SOC"


def build_lighthouse(state: EmulatorState, anchor: dt.datetime, per_subscription: int) -> None:
    """A managed SOC (bench/scale_out.py's throttled variant): LIGHTHOUSE_SUBSCRIPTIONS subscriptions in
    FLEET_TENANTS customer tenants, all delegated through Azure Lighthouse to one managing tenant, whose one service
    principal syncs them all (so they share its Resource Graph quota and tenant-level budget)."""
    soc = _tenant(random.Random(state.seed + 7), LIGHTHOUSE_MANAGER, "fleet-soc.example")
    state.tenants[soc.tenant_id.lower()] = soc
    build_fleet(
        state, anchor, per_subscription, subscriptions=LIGHTHOUSE_SUBSCRIPTIONS, managed_by=soc.tenant_id
    )


def build(state: EmulatorState, anchor: dt.datetime, alerts: int | None) -> None:
    if state.preset == "demo":
        build_demo(state, anchor)
    elif state.preset == "scale":
        build_scale(state, anchor, alerts if alerts is not None else DEFAULT_SCALE_ALERTS)
    elif state.preset == "fleet":
        build_fleet(state, anchor, alerts if alerts is not None else DEFAULT_FLEET_ALERTS)
    elif state.preset == "lighthouse":
        build_lighthouse(state, anchor, alerts if alerts is not None else DEFAULT_LIGHTHOUSE_ALERTS)
    else:
        raise ValueError(f"unknown preset {state.preset!r} (demo, scale, fleet or lighthouse)")
    for store in state.alerts.values():
        store.mark_seeded()
