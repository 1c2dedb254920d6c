"""The emulator's in-memory model: tenants, subscriptions, vaults, alerts, pricings, contacts, rules.

Alerts live in one `AlertStore` per subscription, ordered by an internal ascending sequence number:
new alerts get the next number and so appear at the end of every listing, which keeps `$skipToken`
paging stable while alerts are being added. The scale preset backs the first N sequence numbers
with a `LazySource` that computes alert i on demand; any change to such an alert is kept in a small
overlay dict, so memory stays constant however many alerts there are.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from .util import Clock

ALERT_ID_RE = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)(?:/resourceGroups/(?P<rg>[^/]+))?"
    r"/providers/Microsoft\.Security/locations/(?P<loc>[^/]+)/alerts/(?P<key>[^/]+)$",
    re.IGNORECASE,
)
ALERT_STATUSES = {
    "active": "Active",
    "inprogress": "InProgress",
    "resolved": "Resolved",
    "dismissed": "Dismissed",
}


@dataclass
class Tenant:
    tenant_id: str
    display_name: str
    domain: str
    client_id: str
    client_secret: str
    principal_object_id: str
    app_name: str


@dataclass
class Subscription:
    subscription_id: str
    display_name: str
    tenant_id: str
    asc_location: str
    tags: dict[str, str] = field(default_factory=dict)
    managed_by_tenants: list[str] = field(default_factory=list)
    quota_id: str = "EnterpriseAgreement_2014-09-01"
    spending_limit: str = "Off"
    state: str = "Enabled"


@dataclass
class Vault:
    subscription_id: str
    resource_group: str
    name: str
    location: str
    doc: dict[str, Any]
    _raw: bytes | None = None

    @property
    def id(self) -> str:
        return str(self.doc["id"])

    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = orjson.dumps(self.doc)
        return self._raw


@dataclass(frozen=True)
class StorageAccount:
    """A seeded storage account: an ARM resource, and an Azurite account (same name) when Azurite runs."""

    subscription_id: str
    resource_group: str
    name: str
    location: str
    key: str  # base64, as AZURITE_ACCOUNTS and SharedKey clients want it

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Storage/storageAccounts/{self.name}"
        )


class AlertRecord:
    """One materialised alert: its JSON document and (cached) serialised bytes."""

    __slots__ = ("_raw", "doc", "key", "location", "rg", "seq")

    def __init__(self, seq: int, doc: dict[str, Any]) -> None:
        match = ALERT_ID_RE.match(doc["id"])
        if not match:
            raise ValueError(f"not an alert id: {doc['id']}")
        self.seq = seq
        self.doc = doc
        self.rg: str | None = match["rg"].lower() if match["rg"] else None
        self.location: str = match["loc"].lower()
        self.key: str = match["key"].lower()
        self._raw: bytes | None = None

    def raw(self) -> bytes:
        raw = self._raw
        if raw is None:
            raw = self._raw = orjson.dumps(self.doc)
        return raw

    def changed(self) -> None:
        self._raw = None

    @property
    def status(self) -> str:
        return str(self.doc["properties"].get("status", "Active"))


class LazySource(Protocol):
    """Alerts 0..count-1 computed on demand (scale preset)."""

    count: int

    def meta(self, i: int) -> tuple[str | None, str]:
        """(resource group lower-cased or None, location lower-cased) of alert i, cheaply."""
        ...

    def lookup(self, key: str) -> int | None:
        """The index whose id ends with `key` (lower-cased), or None."""
        ...

    def doc(self, i: int) -> dict[str, Any]: ...

    def raw(self, i: int) -> bytes: ...


class AlertStore:
    """All alerts of one subscription, in ascending sequence order."""

    def __init__(self, lazy: LazySource | None = None) -> None:
        self.lazy = lazy
        self.base = lazy.count if lazy else 0
        self.overlay: dict[int, AlertRecord] = {}
        self.records: list[AlertRecord] = []
        self.index: dict[tuple[str | None, str, str], AlertRecord] = {}
        self.groups: set[str] = set()  # lower-cased resource groups that appended alerts live under
        self.removed: set[int] = set()  # seqs Azure no longer lists (retention), see remove()
        self.held: set[int] = (
            set()
        )  # lazy seqs not raised yet (benchmarks: new alerts spread over every page)
        self.seeded = self.base  # seqs below this are the preset's (see mark_seeded); above: appended since
        self.touched: set[int] = set()  # seeded seqs whose document changed (what a snapshot keeps of them)

    def __len__(self) -> int:
        return self.base + len(self.records) - len(self.removed) - len(self.held - self.removed)

    def hidden(self, seq: int) -> bool:
        return seq in self.removed or seq in self.held

    def mark_seeded(self) -> None:
        """The preset is built: what is stored now is the seed, rebuilt from it on every start."""
        self.seeded = self.next_seq
        self.touched.clear()

    def touch(self, rec: AlertRecord) -> None:
        """`rec.doc` was changed in place: keep the record (the overlay for generated alerts), drop its cached
        bytes, and remember it for the state snapshot."""
        if rec.seq < self.base:
            self.overlay[rec.seq] = rec
        if rec.seq < self.seeded:
            self.touched.add(rec.seq)
        rec.changed()

    def remove(self, rec: AlertRecord) -> None:
        """Azure stops listing an alert (its 90-day retention ended): gone from lists and gets."""
        self.removed.add(rec.seq)

    @property
    def next_seq(self) -> int:
        return self.base + len(self.records)

    def append(self, doc: dict[str, Any]) -> AlertRecord:
        rec = AlertRecord(self.next_seq, doc)
        self.records.append(rec)
        self.index[(rec.rg, rec.location, rec.key)] = rec
        if rec.rg:
            self.groups.add(rec.rg)
        return rec

    def find(self, rg: str | None, location: str, key: str) -> AlertRecord | None:
        """Address an alert as ARM does: by the scope of its id and the id's last segment."""
        rg_l = rg.lower() if rg else None
        loc_l = location.lower()
        key_l = key.lower()
        rec = self.index.get((rg_l, loc_l, key_l))
        if rec is not None:
            return None if rec.seq in self.removed else rec
        if self.lazy is None:
            return None
        i = self.lazy.lookup(key_l)
        if i is None or self.hidden(i) or self.lazy.meta(i) != (rg_l, loc_l):
            return None
        return self.materialise(i)

    def materialise(self, i: int) -> AlertRecord:
        rec = self.overlay.get(i)
        if rec is None:
            assert self.lazy is not None
            rec = AlertRecord(i, self.lazy.doc(i))
            self.overlay[i] = rec
        return rec

    def raw_at(self, seq: int) -> bytes:
        if seq < self.base:
            rec = self.overlay.get(seq)
            if rec is not None:
                return rec.raw()
            assert self.lazy is not None
            return self.lazy.raw(seq)
        return self.records[seq - self.base].raw()

    def doc_at(self, seq: int) -> dict[str, Any]:
        if seq < self.base:
            rec = self.overlay.get(seq)
            if rec is not None:
                return rec.doc
            assert self.lazy is not None
            return self.lazy.doc(seq)
        return self.records[seq - self.base].doc

    def _meta(self, seq: int) -> tuple[str | None, str]:
        if seq < self.base:
            assert self.lazy is not None
            return self.lazy.meta(seq)
        rec = self.records[seq - self.base]
        return rec.rg, rec.location

    def page(
        self, *, after: int, limit: int, rg: str | None = None, location: str | None = None
    ) -> tuple[list[bytes], int, bool]:
        """Up to `limit` alerts with seq > after matching the scope; (bytes, last seq returned, more?)."""
        out: list[bytes] = []
        last = after
        total = self.next_seq
        seq = after + 1
        rg_l = rg.lower() if rg else None
        loc_l = location.lower() if location else None
        unfiltered = rg_l is None and loc_l is None
        hidden = (self.removed | self.held) if self.held else self.removed  # one set lookup per alert
        while seq < total and len(out) < limit:
            if seq not in hidden and (unfiltered or self._matches(seq, rg_l, loc_l)):
                out.append(self.raw_at(seq))
                last = seq
            seq += 1
        more = any(self._matches(s, rg_l, loc_l) for s in self._range_probe(seq, total, unfiltered))
        return out, last, more

    def _range_probe(self, start: int, total: int, unfiltered: bool) -> Iterator[int]:
        if unfiltered:
            if start < total:
                yield start
            return
        yield from range(start, total)

    def _matches(self, seq: int, rg_l: str | None, loc_l: str | None) -> bool:
        if rg_l is None and loc_l is None:
            return True
        rg, loc = self._meta(seq)
        if rg_l is not None and rg != rg_l:
            return False
        return not (loc_l is not None and loc != loc_l)

    def iter_docs(self) -> Iterator[dict[str, Any]]:
        for seq in range(self.next_seq):
            if not self.hidden(seq):
                yield self.doc_at(seq)

    def status_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        if self.lazy is not None:
            # lazily generated alerts are not walked (a million of them); report overlay and appended ones
            counts["lazy_total"] = self.base
            recs: list[AlertRecord] = list(self.overlay.values()) + self.records
        else:
            recs = self.records
        for rec in recs:
            if not self.hidden(rec.seq):
                counts[rec.status] = counts.get(rec.status, 0) + 1
        return counts


@dataclass
class Operation:
    """A long-running operation (simulate) as its status URL reports it."""

    operation_id: str
    subscription_id: str
    status: str
    start: str
    end: str
    created_alert_ids: list[str] = field(default_factory=list)


class EmulatorState:
    """Everything the ARM and identity endpoints read and write. Guard changes with `lock`."""

    def __init__(self, *, preset: str, seed: int, page_size: int, clock: Clock) -> None:
        self.preset = preset
        self.seed = seed
        self.page_size = page_size
        self.clock = clock
        self.lock = threading.RLock()
        self.tenants: dict[str, Tenant] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.vaults: dict[str, list[Vault]] = {}
        self.alerts: dict[str, AlertStore] = {}
        # pricing, contacts and rules are keyed by lower-cased subscription id; their types live in
        # pricing.py, contacts.py and suppression.py
        self.pricings: dict[str, dict[str, Any]] = {}
        self.contacts: dict[str, Any] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, Operation] = {}
        # seeded storage accounts, keyed by lower-cased subscription id (storage.py)
        self.storage_accounts: dict[str, list[StorageAccount]] = {}
        # vault diagnostic settings: lower-cased vault ARM id -> lower-cased setting name -> DiagnosticSetting
        # (diagnostics.py)
        self.diagnostic_settings: dict[str, dict[str, Any]] = {}
        self.gen_counter = 0  # alerts created since start (control API, simulate): seeds their randomness

    # -- lookups -------------------------------------------------------------------------------
    def tenant_by_id(self, tenant_id: str) -> Tenant | None:
        return self.tenants.get(tenant_id.lower())

    def subscription(self, subscription_id: str) -> Subscription | None:
        return self.subscriptions.get(subscription_id.lower())

    def subscriptions_of(self, tenant_id: str) -> list[Subscription]:
        """What a principal of `tenant_id` sees: its tenant's subscriptions, and those delegated to its tenant
        through Azure Lighthouse (`managedByTenants`), as ARM shows them."""
        return [s for s in self.subscriptions.values() if self.can_access(s, tenant_id)]

    def own_subscriptions(self, tenant_id: str) -> list[Subscription]:
        """The subscriptions whose home is `tenant_id` (connections.json lists these)."""
        return [s for s in self.subscriptions.values() if s.tenant_id.lower() == tenant_id.lower()]

    @staticmethod
    def can_access(sub: Subscription, tenant_id: str) -> bool:
        tid = tenant_id.lower()
        return sub.tenant_id.lower() == tid or any(t.lower() == tid for t in sub.managed_by_tenants)

    def store(self, subscription_id: str) -> AlertStore:
        return self.alerts[subscription_id.lower()]

    def known_resource_group(self, subscription_id: str, rg: str) -> bool:
        sid = subscription_id.lower()
        rg_l = rg.lower()
        if any(v.resource_group.lower() == rg_l for v in self.vaults.get(sid, [])):
            return True
        if any(a.resource_group.lower() == rg_l for a in self.storage_accounts.get(sid, [])):
            return True
        store = self.alerts.get(sid)
        return store is not None and rg_l in store.groups

    def vault_by_id(self, arm_id: str) -> Vault | None:
        parts = arm_id.strip().strip("/").split("/")
        if len(parts) != 8 or [p.lower() for p in parts[::2]] != [
            "subscriptions",
            "resourcegroups",
            "providers",
            "vaults",
        ]:
            return None
        if parts[5].lower() != "microsoft.keyvault":
            return None
        for v in self.vaults.get(parts[1].lower(), []):
            if v.resource_group.lower() == parts[3].lower() and v.name.lower() == parts[7].lower():
                return v
        return None

    def storage_account_by_id(self, arm_id: str) -> StorageAccount | None:
        for a in self.storage_accounts.get(_segment(arm_id, 1), []):
            if a.id.lower() == arm_id.strip().rstrip("/").lower():
                return a
        return None

    def replace_with(self, fresh: EmulatorState) -> None:
        """Reset in place (so references held by tests stay live): take every field of `fresh`."""
        with self.lock:
            for key, value in fresh.__dict__.items():
                if key != "lock":
                    setattr(self, key, value)

    def find_alert_by_id(self, arm_id: str) -> tuple[str, AlertRecord] | None:
        match = ALERT_ID_RE.match(arm_id.strip())
        if not match:
            return None
        sub = match["sub"].lower()
        store = self.alerts.get(sub)
        if store is None:
            return None
        rec = store.find(match["rg"], match["loc"], match["key"])
        return (sub, rec) if rec else None

    def summary(self) -> dict[str, Any]:
        with self.lock:
            subs = []
            for sid, sub in self.subscriptions.items():
                store = self.alerts.get(sid)
                subs.append(
                    {
                        "subscription_id": sub.subscription_id,
                        "display_name": sub.display_name,
                        "tenant_id": sub.tenant_id,
                        "alerts": len(store) if store else 0,
                        "alerts_by_status": store.status_counts() if store else {},
                        "vaults": len(self.vaults.get(sid, [])),
                        "suppression_rules": len(self.rules.get(sid, {})),
                        "has_security_contact": self.contacts.get(sid) is not None,
                        "pricings": {
                            name: plan.tier for name, plan in sorted(self.pricings.get(sid, {}).items())
                        },
                    }
                )
            return {
                "preset": self.preset,
                "seed": self.seed,
                "page_size": self.page_size,
                "now": self.clock.now().isoformat(),
                "clock_offset_seconds": self.clock.offset_seconds,
                "tenants": [
                    {"tenant_id": t.tenant_id, "name": t.display_name, "client_id": t.client_id}
                    for t in self.tenants.values()
                ],
                "subscriptions": subs,
            }


def _segment(arm_id: str, i: int) -> str:
    parts = arm_id.strip().strip("/").split("/")
    return parts[i].lower() if len(parts) > i else ""
