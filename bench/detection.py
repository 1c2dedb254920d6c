#!/usr/bin/env python
"""Detections from Key Vault's own logs (issue 24): precision and recall per family on labelled attacks, beside the
peers' published rules, and throughput from blob bytes to detections.

    .venv/bin/python -m bench.detection [--seeds held-out|tuning] [--vaults 50]

The generator writes 21 days of AuditEvent records for 50 vaults: days 0-13 are history (the detector's learning
period of 7 days falls in them), days 14-20 the evaluation week, which alone holds the labelled attacks and alone is
scored. Traffic per vault (seeded): scheduled service principals reading a few secrets every 15-60 minutes around the
clock; CI jobs on weekdays listing then reading 5-15 secrets a run; office-hours people (UPNs) reading keys, secrets
and the vault from the office network; a new team member who starts during the evaluation week, from the office
network; benign bursts (a deployment reading 40 secrets at once). Attacks, labelled with family, vault, identity and
span: `tor` (reads from a TOR exit node), `mass_dump` (a listing, then 100-300 secrets in 10 minutes),
`new_identity` (an identity never seen, from a network never seen), `policy_then_read` (an access policy change,
then secret reads), `denied_spray` (20-50 denied requests in 5 minutes), `slow_exfil` (one new secret every 20
minutes for 2 days by a known service principal: under every threshold).

A hit is a detection naming an attack's vault and identity within its span + 1 h. Per family: recall = attacks of
the family with a hit / attacks of the family; precision = detections of the family's types that hit any attack /
detections of those types in the evaluation week. The same records go through exact re-implementations of the peers' rules (AZURE.md §7.6):
Sentinel "Mass secret retrieval from Azure Key Vault" 1.0.7, Elastic "Azure Key Vault Excessive Secret or Key
Retrieved" and "Azure Key Vault Unusual Secret Key Usage", scored the same way in the families they cover.

The scenarios and both seed lists were committed before any tuning; tuning reads only TUNING_SEEDS, and only the
report (`--seeds held-out`, the default) reads HELD_OUT_SEEDS.

Throughput: the records as JSON Lines bytes in memory (one blob per vault and hour, as Azure Monitor writes them),
then parse_chunk and the detector, timed with the process's CPU time; reported as records per CPU-second with the
mean record size. Download and alert inserts are not in it.
"""

from __future__ import annotations

import argparse
import pickle
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if not __package__:  # run by its path, not as `python -m bench.<name>`: start again that way
    import _as_module

    _as_module.rerun(__file__)

import orjson

from accesslogs.auditevent import parse_chunk
from accesslogs.detect import Detection, Detector, Settings, read_list

ROOT = Path(__file__).resolve().parents[1]
TUNING_SEEDS = [11, 12, 13]
HELD_OUT_SEEDS = [71, 72, 73]
DAYS = 21
EVAL_FROM = 14
START = datetime(2026, 10, 1, tzinfo=UTC)
FAMILIES = {
    "tor": {"KV_TORAccess"},
    "mass_dump": {"LOCAL_MassSecretRetrieval", "KV_OperationVolumeAnomaly", "KV_ListGetAnomaly"},
    "new_identity": {"KV_UserAnomaly", "KV_AppAnomaly", "KV_UserAppAnomaly"},
    "policy_then_read": {"KV_PutGetAnomaly"},
    "denied_spray": {"KV_UserAccessDeniedAnomaly", "KV_AccountVolumeAccessDeniedAnomaly"},
    "slow_exfil": {"LOCAL_FirstSecretRetrieval"},
}
PEER_FAMILIES = {  # which families each peer rule claims to cover
    "Sentinel mass secret retrieval 1.0.7": {"mass_dump", "slow_exfil"},
    "Elastic excessive secret or key retrieved": {"mass_dump"},
    "Elastic unusual secret key usage": {"new_identity", "slow_exfil", "mass_dump"},
}
ELASTIC_READS = frozenset(
    {
        "VaultGet",
        "KeyGet",
        "KeyList",
        "KeyListVersions",
        "KeyGetDeleted",
        "KeyListDeleted",
        "SecretGet",
        "SecretList",
        "SecretListVersions",
        "SecretGetDeleted",
        "SecretListDeleted",
        "CertificateGet",
        "CertificateList",
        "CertificateListVersions",
        "CertificateGetDeleted",
        "CertificateListDeleted",
        "CertificatePolicyGet",
        "CertificateContactsGet",
        "CertificateIssuerGet",
        "CertificateIssuersList",
    }
)
SENTINEL_EXCLUDED_APPS = {"509e4652-da8d-478d-a730-e9d4a1996ca4", "8cae6e77-e04e-42ce-b5cb-50d82bce26b1"}


@dataclass(frozen=True)
class Attack:
    family: str
    vault: str  # ARM id, lower-cased
    identity: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Hit:
    """What a detection (ours or a peer's) names: for scoring."""

    kind: str
    vault: str
    identity: str
    start: datetime
    end: datetime


# -- the generator ---------------------------------------------------------------------------------------------
def _guid(rng: random.Random) -> str:
    return "%08x-%04x-%04x-%04x-%012x" % (  # noqa: UP031 - a GUID's fixed widths
        rng.getrandbits(32),
        rng.getrandbits(16),
        rng.getrandbits(16),
        rng.getrandbits(16),
        rng.getrandbits(48),
    )


class World:
    def __init__(self, seed: int, vaults: int) -> None:
        self.rng = random.Random(seed)
        self.lines: list[tuple[datetime, str, bytes]] = []  # (time, vault id, JSON line)
        self.attacks: list[Attack] = []
        self.tor = sorted(read_list(str(ROOT / "accesslogs" / "lists" / "tor_exits.txt")))
        self.vault_ids = [
            f"/subscriptions/{_guid(self.rng)}/resourcegroups/rg-{i:02d}/providers/microsoft.keyvault/vaults/kv-{i:02d}"
            for i in range(vaults)
        ]
        self.office = [f"10.{i}.0.{j}" for i in range(3) for j in range(1, 60)]

    def emit(
        self,
        vault: str,
        moment: datetime,
        op: str,
        *,
        oid: str = "",
        appid: str = "",
        upn: str = "",
        ip: str,
        target: str = "",
        status: int = 200,
    ) -> None:
        name = vault.rsplit("/", 1)[1]
        claims: dict[str, str] = {}
        if oid:
            claims["http://schemas.microsoft.com/identity/claims/objectidentifier"] = oid
        if appid:
            claims["appid"] = appid
        if upn:
            claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] = upn
        doc = {
            "time": moment.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
            "resourceId": vault.upper(),
            "operationName": op,
            "operationVersion": "7.4",
            "category": "AuditEvent",
            "resultType": "Success" if status < 400 else ("Unauthorized" if status == 401 else "Forbidden"),
            "resultSignature": "OK" if status < 400 else "Forbidden",
            "resultDescription": "",
            "durationMs": str(self.rng.randint(5, 120)),
            "callerIpAddress": ip,
            "correlationId": "",
            "identity": {"claim": claims},
            "properties": {
                "id": target or f"https://{name}.vault.azure.net/",
                "clientInfo": "azsdk-python-keyvault-secrets/4.8.0 Python/3.11.9",
                "requestUri": f"{target or f'https://{name}.vault.azure.net/'}?api-version=7.4",
                "httpStatusCode": status,
            },
        }
        self.lines.append((moment, vault, orjson.dumps(doc)))

    def secret(self, vault: str, n: int) -> str:
        return f"https://{vault.rsplit('/', 1)[1]}.vault.azure.net/secrets/secret-{n:03d}"

    def build(self) -> None:
        rng = self.rng
        end = START + timedelta(days=DAYS)
        for vault in self.vault_ids:
            secrets = rng.randint(20, 80)
            for _ in range(rng.randint(1, 3)):  # scheduled service principals
                oid, app = _guid(rng), _guid(rng)
                every = rng.choice([15, 30, 60])
                reads = rng.sample(range(secrets), rng.randint(1, 4))
                ip = f"10.200.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                t = START + timedelta(minutes=rng.uniform(0, every))
                while t < end:
                    for n in reads:
                        self.emit(
                            vault, t, "SecretGet", oid=oid, appid=app, ip=ip, target=self.secret(vault, n)
                        )
                    t += timedelta(minutes=every, seconds=rng.uniform(-20, 20))
            for _ in range(rng.randint(0, 2)):  # CI jobs, weekdays
                oid, app = _guid(rng), _guid(rng)
                ip = f"10.250.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                picks = rng.sample(range(secrets), min(secrets, rng.randint(5, 15)))
                for day in range(DAYS):
                    base = START + timedelta(days=day)
                    if base.weekday() >= 5:
                        continue
                    for _run in range(rng.randint(2, 6)):
                        t = base + timedelta(hours=rng.uniform(7, 20))
                        if rng.random() < 0.5:
                            self.emit(vault, t, "SecretList", oid=oid, appid=app, ip=ip)
                        for k, n in enumerate(picks):
                            self.emit(
                                vault,
                                t + timedelta(seconds=2 + k),
                                "SecretGet",
                                oid=oid,
                                appid=app,
                                ip=ip,
                                target=self.secret(vault, n),
                            )
            people = [
                (_guid(rng), f"user{rng.randint(1, 9999)}@contoso.com") for _ in range(rng.randint(1, 4))
            ]
            newcomer_day = rng.randint(EVAL_FROM, DAYS - 1)
            people.append((_guid(rng), f"new{rng.randint(1, 9999)}@contoso.com"))
            for i, (oid, upn) in enumerate(people):
                first_day = newcomer_day if i == len(people) - 1 else 0
                for day in range(first_day, DAYS):
                    base = START + timedelta(days=day)
                    if base.weekday() >= 5:
                        continue
                    for _ in range(rng.randint(0, 8)):
                        t = base + timedelta(hours=rng.uniform(8, 18))
                        op = rng.choice(["SecretGet", "SecretGet", "KeyGet", "VaultGet", "SecretList"])
                        target = self.secret(vault, rng.randrange(secrets)) if op == "SecretGet" else ""
                        self.emit(vault, t, op, oid=oid, upn=upn, ip=rng.choice(self.office), target=target)
            if rng.random() < 0.3:  # a deployment reading 40 secrets at once, by a known principal
                oid, app = _guid(rng), _guid(rng)
                ip = f"10.251.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                for day in rng.sample(range(DAYS), 3):
                    t = START + timedelta(days=day, hours=rng.uniform(0, 24))
                    for k in range(min(40, secrets)):
                        self.emit(
                            vault,
                            t + timedelta(seconds=k),
                            "SecretGet",
                            oid=oid,
                            appid=app,
                            ip=ip,
                            target=self.secret(vault, k),
                        )
        self._attacks()
        self.lines.sort(key=lambda item: item[0])

    def _attacks(self) -> None:
        rng = self.rng
        families = list(FAMILIES)
        for vault in rng.sample(self.vault_ids, len(self.vault_ids) // 2):
            family = rng.choice(families)
            start = START + timedelta(days=rng.uniform(EVAL_FROM, DAYS - 2.5))
            oid = _guid(rng)
            upn = (
                f"mallory{rng.randint(1, 9999)}@contoso.com" if rng.random() < 0.5 else ""
            )  # a person, or not
            ip = f"203.0.113.{rng.randint(1, 150)}"  # not on the suspicious list: only TOR is listed here
            t = start
            if family == "tor":
                ip = rng.choice(self.tor)
                for k in range(rng.randint(1, 5)):
                    t = start + timedelta(minutes=k)
                    self.emit(vault, t, "SecretGet", oid=oid, upn=upn, ip=ip, target=self.secret(vault, k))
            elif family == "mass_dump":
                self.emit(vault, t, "SecretList", oid=oid, upn=upn, ip=ip)
                count = rng.randint(100, 300)
                for k in range(count):
                    t = start + timedelta(seconds=1 + k * 600 / count)
                    self.emit(
                        vault, t, "SecretGet", oid=oid, upn=upn, ip=ip, target=self.secret(vault, k % 80)
                    )
            elif family == "new_identity":
                for k in range(rng.randint(2, 8)):
                    t = start + timedelta(minutes=k * 3)
                    self.emit(vault, t, "SecretGet", oid=oid, upn=upn, ip=ip, target=self.secret(vault, k))
            elif family == "policy_then_read":
                self.emit(vault, t, "VaultAccessPolicyChangedEventGridNotification", oid=oid, upn=upn, ip=ip)
                self.emit(vault, t + timedelta(seconds=5), "VaultPut", oid=oid, upn=upn, ip=ip)
                for k in range(rng.randint(1, 4)):
                    t = start + timedelta(minutes=2 + k)
                    self.emit(vault, t, "SecretGet", oid=oid, upn=upn, ip=ip, target=self.secret(vault, k))
            elif family == "denied_spray":
                for k in range(rng.randint(20, 50)):
                    t = start + timedelta(seconds=k * 6)
                    self.emit(
                        vault,
                        t,
                        "SecretGet",
                        oid=oid,
                        upn=upn,
                        ip=ip,
                        target=self.secret(vault, k),
                        status=403,
                    )
            elif family == "slow_exfil":  # a known principal, from its usual address, slowly
                known = [
                    orjson.loads(line)
                    for _t, v, line in self.lines
                    if v == vault and b"appid" in line and b'"SecretGet"' in line
                ][:1]
                if not known:
                    continue
                claims = known[0]["identity"]["claim"]
                oid = claims["http://schemas.microsoft.com/identity/claims/objectidentifier"]
                app = claims["appid"]
                ip = known[0]["callerIpAddress"]
                for k in range(144):
                    t = start + timedelta(minutes=20 * k)
                    self.emit(
                        vault, t, "SecretGet", oid=oid, appid=app, ip=ip, target=self.secret(vault, 100 + k)
                    )
            self.attacks.append(Attack(family, vault, oid, start, t))


# -- the peers' rules (AZURE.md §7.6) -------------------------------------------------------------------------------
def _day(moment: datetime) -> datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def sentinel_mass_retrieval(records: list) -> list[Hit]:  # type: ignore[type-arg]
    """Sentinel 1.0.7, run once a day over the day before: callers with > 10 distinct requestUri among successful
    records of one operation (SecretGet, KeyGet, VaultGet; minus two Microsoft app ids), then those callers' records
    of any result counted per result type, app id, caller and UPN across vaults: an alert above 50."""
    hits: list[Hit] = []
    by_day: dict[datetime, list] = defaultdict(list)  # type: ignore[type-arg]
    for r in records:
        if r.operation in ("SecretGet", "KeyGet", "VaultGet") and r.app_id not in SENTINEL_EXCLUDED_APPS:
            by_day[_day(r.time)].append(r)
    for _day_start, day_records in by_day.items():
        distinct: dict[tuple[str, str], set[str]] = defaultdict(set)
        for r in day_records:
            if r.result == "Success":
                distinct[(r.object_id, r.operation)].add(r.request_uri or r.target)
        callers = {caller for (caller, _op), uris in distinct.items() if len(uris) > 10}
        groups: dict[tuple[str, str, str, str], list] = defaultdict(list)  # type: ignore[type-arg]
        for r in day_records:
            if r.object_id in callers:
                groups[(r.result, r.app_id, r.object_id, r.upn)].append(r)
        for (_res, _app, caller, _upn), rs in groups.items():
            if len(rs) > 50:
                for vault in {r.vault for r in rs}:
                    mine = [r for r in rs if r.vault == vault]
                    hits.append(Hit("sentinel", vault, caller, mine[0].time, mine[-1].time))
    return hits


def elastic_excessive(records: list) -> list[Hit]:  # type: ignore[type-arg]
    """Elastic: per UPN and 1-minute bucket, ≥ 10 of the 20 read operations (any result) and ≥ 2 distinct
    operations; records without a UPN never alert."""
    buckets: dict[tuple[str, datetime], list] = defaultdict(list)  # type: ignore[type-arg]
    for r in records:
        if r.upn and r.operation in ELASTIC_READS:
            buckets[(r.upn, r.time.replace(second=0, microsecond=0))].append(r)
    hits = []
    for (_upn, _minute), rs in buckets.items():
        if len(rs) >= 10 and len({r.operation for r in rs}) >= 2:
            for vault in {r.vault for r in rs}:
                hits.append(Hit("elastic-excessive", vault, rs[0].identity, rs[0].time, rs[-1].time))
    return hits


def elastic_unusual(records: list, since: datetime) -> list[Hit]:  # type: ignore[type-arg]
    """Elastic new terms: a successful read having a UPN and properties.id whose (UPN, id) pair was not seen in the
    previous 14 days; alerts from `since` (the rule's history must exist first)."""
    seen: dict[tuple[str, str], datetime] = {}
    hits = []
    for r in records:
        if not (r.upn and r.target and r.succeeded and r.operation in ELASTIC_READS):
            continue
        key = (r.upn, r.target)
        last = seen.get(key)
        if r.time >= since and (last is None or r.time - last > timedelta(days=14)):
            hits.append(Hit("elastic-unusual", r.vault, r.identity, r.time, r.time))
        seen[key] = r.time
    return hits


# -- scoring ----------------------------------------------------------------------------------------------------
def _hits(hit: Hit, attack: Attack) -> bool:
    return (
        hit.vault == attack.vault
        and hit.identity == attack.identity
        and hit.end >= attack.start
        and hit.start <= attack.end + timedelta(hours=1)
    )


def score(
    hits: list[Hit], attacks: list[Attack], family: str, kinds: set[str] | None
) -> tuple[int, int, int, int]:
    """(attacks of the family hit, attacks of the family, detections that hit an attack, detections) for one family's
    detection types (`kinds` None: every hit of a peer rule). A detection that names an attack of another family is
    still right (an attacker new to the vault is reported as one): precision counts any attack."""
    mine = [h for h in hits if kinds is None or h.kind in kinds]
    targets = [a for a in attacks if a.family == family]
    caught = sum(1 for a in targets if any(_hits(h, a) for h in mine))
    useful = sum(1 for h in mine if any(_hits(h, a) for a in attacks))
    return caught, len(targets), useful, len(mine)


def f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", choices=("held-out", "tuning"), default="held-out")
    parser.add_argument("--vaults", type=int, default=50)
    args = parser.parse_args()
    seeds = HELD_OUT_SEEDS if args.seeds == "held-out" else TUNING_SEEDS
    settings = Settings(tor_exits=read_list(str(ROOT / "accesslogs" / "lists" / "tor_exits.txt")))
    eval_from = START + timedelta(days=EVAL_FROM)
    totals: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0, 0]))
    records_total, bytes_total, cpu_total = 0, 0, 0.0
    attacks_total = 0
    sizes: list[tuple[int, int, int, int]] = []  # (seed, day, records fed, pickled detector bytes)
    unscored: dict[str, list[int]] = defaultdict(lambda: [0, 0])  # kind -> [detections, naming an attack]
    for seed in seeds:
        world = World(seed, args.vaults)
        world.build()
        attacks_total += len(world.attacks)
        # one blob per vault and hour, as Azure Monitor writes them; read back in receive order
        blobs: dict[tuple[str, datetime], list[bytes]] = defaultdict(list)
        for moment, vault, line in world.lines:
            blobs[(vault, moment.replace(minute=0, second=0, microsecond=0))].append(line)
        payloads = [(hour, b"\n".join(lines) + b"\n") for (_vault, hour), lines in blobs.items()]
        payloads.sort(key=lambda item: item[0])
        detector = Detector(settings)
        found: list[Detection] = []
        # timed as a poll runs: each blob's records are parsed, fed and let go (keeping every record alive, as the
        # peers' scoring below needs, would time memory growth the console never has: 74k -> 143k records/s)
        cpu = 0.0
        day_mark = START + timedelta(days=7)
        fed = 0
        for hour, payload in payloads:  # an hour of every vault before the next hour
            if hour >= day_mark:  # the detector's state as it grows: by identities, not records (untimed)
                sizes.append((seed, (day_mark - START).days, fed, len(pickle.dumps(detector))))
                day_mark += timedelta(days=7)
            cpu0 = time.process_time()
            chunk = parse_chunk(payload)
            found += detector.feed(chunk.records)
            cpu += time.process_time() - cpu0
            fed += len(chunk.records)
        sizes.append((seed, DAYS, fed, len(pickle.dumps(detector))))
        cpu_total += cpu
        records = [r for _hour, payload in payloads for r in parse_chunk(payload).records]  # for the peers
        assert len(records) == fed and fed == len(world.lines), "the timed pass did not read every record"
        records_total += len(records)
        bytes_total += sum(len(p) for _h, p in payloads)
        ours = [Hit(d.alert_type, d.vault, d.identity, d.start, d.end) for d in found if d.end >= eval_from]
        scored = set().union(*FAMILIES.values())
        for hit in (
            ours
        ):  # kinds no labelled family covers: what they add to the analysts' queue, and how much of it
            if hit.kind not in scored:  # names an attack's vault and identity
                unscored[hit.kind][0] += 1
                unscored[hit.kind][1] += any(_hits(hit, attack) for attack in world.attacks)
        records.sort(key=lambda r: r.time)
        peers = {
            "Sentinel mass secret retrieval 1.0.7": [
                h for h in sentinel_mass_retrieval(records) if h.end >= eval_from
            ],
            "Elastic excessive secret or key retrieved": [
                h for h in elastic_excessive(records) if h.end >= eval_from
            ],
            "Elastic unusual secret key usage": elastic_unusual(records, eval_from),
        }
        for family, kinds in FAMILIES.items():
            for i, v in enumerate(score(ours, world.attacks, family, kinds)):
                totals["ours"][family][i] += v
            for peer, hits in peers.items():
                if family in PEER_FAMILIES[peer]:
                    for i, v in enumerate(score(hits, world.attacks, family, None)):
                        totals[peer][family][i] += v
    print(
        f"seeds {args.seeds} {seeds}: {args.vaults} vaults × {DAYS} days each, {attacks_total} labelled attacks, "
        f"{records_total:,} records ({bytes_total / records_total:,.0f} bytes on average)"
    )
    print(
        f"throughput: {records_total / cpu_total:,.0f} records per CPU-second (parse + detect, one process; "
        f"{cpu_total:.1f} CPU-s)"
    )
    print("detector state (pickled, as DetectorState stores it) as records accumulate:")
    for seed, day, fed, size in sizes:
        print(f"  seed {seed} day {day:>2}: {fed:>9,} records fed, state {size / 1e6:6.2f} MB")
    for kind, (n, on_attacks) in sorted(unscored.items()):
        print(
            f"not scored (no labelled family): {kind}: {n} detections in the evaluation week, {on_attacks} on attacks"
        )
    print("\nfamily            who                                         recall        precision     F1")
    for family in FAMILIES:
        for who in ["ours", *PEER_FAMILIES]:
            if family not in totals[who]:
                continue
            caught, n, useful, hits = totals[who][family]
            recall = caught / n if n else 0.0
            precision = useful / hits if hits else 0.0
            print(
                f"{family:<17} {who:<43} {caught:>3}/{n:<3} {recall:5.2f}  {useful:>4}/{hits:<5} {precision:5.2f}"
                f"  {f1(precision, recall):5.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
