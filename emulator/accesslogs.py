"""Key Vault AuditEvent logs delivered to storage, as Azure Monitor does it (AZURE.md §7), with Azurite as the blob
service.

For every diagnostic setting that sends enabled `AuditEvent` logs to a storage account, a background writer appends
the vault's records every `interval` seconds to that account in Azurite, with the account key:

- container `insights-logs-auditevent`, **append blobs** named
  `resourceId=/SUBSCRIPTIONS/{SUB}/RESOURCEGROUPS/{RG}/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/{NAME}/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`
  (the upper-cased vault id; the hour of the emulator clock when the record is *received*);
- JSON Lines, one record per `\\n`-terminated line, in uneven appends: a tick's bytes may go in two or three appends
  cut anywhere, and the end of a tick may stop in the middle of a line, completed by the next tick's first append;
- records arrive a little late now and then (received a tick or so after their `time`), so an hour's blob can hold
  records of the hour before.

Traffic is deterministic from the seed, the vault and the time: a few service principals reading a handful of secrets
periodically (with an occasional SecretList, KeyGet or unauthenticated 401, which has no `identity`), a person during
office hours (Mon-Fri 08-18 UTC), and every `attack_interval` seconds (on average) one attack: `tor` (calls from the
documentation addresses 198.51.100.1-40, the console's sample TOR list), `mass_dump` (>= 60 SecretGet of distinct
secrets by a new identity within 3 minutes), `sensitive` (a successful SecretPurge, KeyBackup or
VaultAccessPolicyChangedEventGridNotification) or `denied_spray` (>= 12 requests answered 403 by one identity within
5 minutes). The control API (control.py) appends scenarios or exact bytes now, rewrites a blob and pauses the writer.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import random
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .blobstore import Azurite, AzuriteUnavailable, locate
from .certs import ensure_azurite_certificate
from .pools import PEOPLE, SECRET_NAMES, USER_AGENTS
from .state import StorageAccount, Vault
from .util import UTC, azure_time

if TYPE_CHECKING:
    from .server import Runtime

CONTAINER = "insights-logs-auditevent"
DEFAULT_PORT = 10000  # Azurite's default blob port: the endpoint listed while Azurite does not run
MODES = ("auto", "azurite", "off")
SCENARIOS = ("usual", "tor", "mass_dump", "sensitive", "denied_spray")
ATTACKS = ("tor", "mass_dump", "sensitive", "denied_spray")
TOR_ADDRESSES = tuple(f"198.51.100.{i}" for i in range(1, 41))
OBJECT_ID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
SP_ADDRESSES = ("20.61.15.4", "52.164.206.56", "40.78.12.201", "13.69.104.3", "10.20.4.17", "10.20.8.33")
PERSON_ADDRESSES = ("203.0.113.77", "203.0.113.9", "192.0.2.88")
SDK_AGENTS = tuple(a for a in USER_AGENTS if a.startswith("azsdk"))
KEY_NAMES = ("cmk-storage", "token-signing", "backup-wrap")
MAX_APPEND = 4 * 1024 * 1024  # Azure's append-block limit
MAX_CATCH_UP = 3600.0  # after a clock jump, generate at most the last hour of traffic


def blob_name(vault_id: str, received: dt.datetime) -> str:
    t = received.astimezone(UTC)
    return f"resourceId={vault_id.upper()}/y={t:%Y}/m={t:%m}/d={t:%d}/h={t:%H}/m=00/PT1H.json"


# -- records --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    object_id: str
    app_id: str
    address: str
    agent: str
    upn: str | None = None

    def claim(self) -> dict[str, str]:
        claim = {OBJECT_ID: self.object_id, "appid": self.app_id}
        if self.upn:
            claim[UPN] = self.upn
        return claim


@dataclass
class Profile:
    """A vault's usual callers and objects, drawn from (seed, vault id)."""

    vault: Vault
    services: list[tuple[Caller, float, float, list[str]]]  # caller, period s, phase s, the secrets it reads
    person: Caller
    secrets: list[str]
    keys: list[str]
    seed_key: str

    @classmethod
    def of(cls, seed: int, vault: Vault, domain: str) -> Profile:
        key = f"{seed}|{vault.id.lower()}"
        rng = random.Random(f"profile|{key}")
        secrets = rng.sample(SECRET_NAMES, rng.randint(5, 8))
        services = []
        for _ in range(rng.randint(2, 4)):
            caller = Caller(_guid(rng), _guid(rng), rng.choice(SP_ADDRESSES), rng.choice(SDK_AGENTS))
            period = float(rng.randint(30, 120))
            services.append((caller, period, rng.uniform(0, period), rng.sample(secrets, rng.randint(1, 3))))
        given, family = rng.choice(PEOPLE)
        upn = f"{given.lower()}.{family.lower().replace(chr(39), '')}@{domain}"
        person = Caller(
            _guid(rng),
            "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            rng.choice(PERSON_ADDRESSES),
            _cli_agent(),
            upn,
        )
        return cls(vault, services, person, secrets, rng.sample(KEY_NAMES, 2), key)

    def rng(self, *parts: object) -> random.Random:
        return random.Random("|".join([self.seed_key, *map(str, parts)]))

    def stranger(self, rng: random.Random, address: str) -> Caller:
        """An identity this vault has never seen."""
        return Caller(_guid(rng), _guid(rng), address, rng.choice(USER_AGENTS))


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _cli_agent() -> str:
    return "AzureCLI/2.57.0 (DEB) azsdk-python-azure-keyvault/7.3 Python/3.11.5"


_STATUS = {200: ("Success", "OK"), 401: ("Unauthorized", "Unauthorized"), 403: ("Forbidden", "Forbidden")}


def record(
    profile: Profile,
    when: float,
    op: str,
    who: Caller | None,
    status: int,
    target: str | None,
    rng: random.Random,
) -> dict[str, Any]:
    vault = profile.vault
    base = f"https://{vault.name}.vault.azure.net"
    arm = f"https://management.azure.com{vault.id}"
    if op == "SecretList":
        uri, obj = f"{base}/secrets?api-version=7.4", f"{base}/secrets"
    elif op in ("SecretGet", "SecretSet"):
        uri, obj = f"{base}/secrets/{target}?api-version=7.4", f"{base}/secrets/{target}"
    elif op == "SecretPurge":
        uri, obj = f"{base}/deletedsecrets/{target}?api-version=7.4", f"{base}/deletedsecrets/{target}"
    elif op == "KeyGet":
        uri, obj = f"{base}/keys/{target}?api-version=7.4", f"{base}/keys/{target}"
    elif op == "KeyBackup":
        uri, obj = f"{base}/keys/{target}/backup?api-version=7.4", f"{base}/keys/{target}"
    elif op == "VaultAccessPolicyChangedEventGridNotification":
        uri, obj = f"{arm}/accessPolicies/add?api-version=2023-07-01", vault.id
    else:  # VaultGet
        uri, obj = f"{arm}?api-version=2023-07-01", vault.id
    result_type, signature = _STATUS[status]
    doc: dict[str, Any] = {
        "time": azure_time(dt.datetime.fromtimestamp(when, UTC)),
        "resourceId": vault.id.upper(),
        "operationName": op,
        "operationVersion": "7.4",
        "category": "AuditEvent",
        "resultType": result_type,
        "resultSignature": signature,
        "resultDescription": ""
        if status != 403
        else "Caller is not authorized to perform action on resource.",
        "durationMs": str(rng.randint(4, 90) if status == 200 else rng.randint(1, 12)),
        "callerIpAddress": who.address if who is not None else profile.services[0][0].address,
        "correlationId": _guid(rng) if rng.random() < 0.3 else "",
    }
    if (
        who is not None
    ):  # an unauthenticated request (the SDK's first, challenge-getting call) has no identity
        doc["identity"] = {"claim": who.claim()}
    doc["properties"] = {
        "clientInfo": who.agent if who is not None else profile.services[0][0].agent,
        "requestUri": uri,
        "id": obj,
        "httpStatusCode": status,
        "tlsVersion": "TLS1.2",
        "isAccessPolicyMatch": status == 200,
    }
    return doc


Timed = tuple[float, dict[str, Any]]  # (time, record)


def usual(profile: Profile, start: float, end: float) -> list[Timed]:
    """The vault's everyday traffic with `time` in (start, end]: the same whatever the tick boundaries."""
    out: list[Timed] = []
    for n, (caller, period, phase, reads) in enumerate(profile.services):
        k = math.floor((start - phase) / period) + 1
        while (t := phase + k * period) <= end:
            if t > start:
                rng = profile.rng("sp", n, k)
                r = rng.random()
                t_exact = t + rng.uniform(0, 0.9)
                if r < 0.03:
                    out.append(
                        (t_exact, record(profile, t_exact, "SecretGet", None, 401, rng.choice(reads), rng))
                    )
                elif r < 0.08:
                    out.append((t_exact, record(profile, t_exact, "SecretList", caller, 200, None, rng)))
                elif r < 0.12:
                    out.append(
                        (
                            t_exact,
                            record(profile, t_exact, "KeyGet", caller, 200, rng.choice(profile.keys), rng),
                        )
                    )
                else:
                    out.append(
                        (t_exact, record(profile, t_exact, "SecretGet", caller, 200, rng.choice(reads), rng))
                    )
            k += 1
    minute = math.floor(start / 60)
    while minute * 60 <= end:
        moment = dt.datetime.fromtimestamp(minute * 60, UTC)
        if moment.weekday() < 5 and 8 <= moment.hour < 18:
            rng = profile.rng("person", minute)
            if rng.random() < 0.15:
                t = minute * 60 + rng.uniform(0, 59.9)
                if start < t <= end:
                    op = rng.choice(("SecretGet", "SecretGet", "SecretList", "VaultGet", "KeyGet"))
                    target = rng.choice(profile.keys if op == "KeyGet" else profile.secrets)
                    out.append((t, record(profile, t, op, profile.person, 200, target, rng)))
        minute += 1
    return out


def scenario(
    profile: Profile, kind: str, start: float, rng: random.Random, count: int | None = None
) -> list[Timed]:
    """One scenario's records from `start` on (times ascending)."""
    out: list[Timed] = []
    if kind == "usual":
        n = count if count is not None else 10
        for i in range(n):
            t = start + i * 5 + rng.uniform(0, 4)
            caller, _, _, reads = rng.choice(profile.services)
            out.append((t, record(profile, t, "SecretGet", caller, 200, rng.choice(reads), rng)))
    elif kind == "tor":
        n = count if count is not None else 3
        who = Caller(
            profile.person.object_id,
            profile.person.app_id,
            rng.choice(TOR_ADDRESSES),
            "python-requests/2.31.0",
            profile.person.upn,
        )
        for i in range(n):
            t = start + i * rng.uniform(5, 20)
            op = "SecretList" if i == 0 and n > 1 else "SecretGet"
            out.append((t, record(profile, t, op, who, 200, rng.choice(profile.secrets), rng)))
    elif kind == "mass_dump":
        n = count if count is not None else 70
        who = profile.stranger(rng, "192.0.2.145")
        names = [f"{base}-{i:02d}" for i in range(1, 11) for base in SECRET_NAMES]
        rng.shuffle(names)
        span = 150.0
        for i in range(n):
            t = start + span * i / max(n, 1) + rng.uniform(0, 1)
            out.append((t, record(profile, t, "SecretGet", who, 200, names[i % len(names)], rng)))
    elif kind == "sensitive":
        n = count if count is not None else 1
        for i in range(n):
            t = start + i * 30 + rng.uniform(0, 5)
            op = rng.choice(("SecretPurge", "KeyBackup", "VaultAccessPolicyChangedEventGridNotification"))
            target = rng.choice(profile.keys if op == "KeyBackup" else profile.secrets)
            out.append((t, record(profile, t, op, profile.person, 200, target, rng)))
    elif kind == "denied_spray":
        n = count if count is not None else 15
        who = profile.stranger(rng, "203.0.113.201")
        span = 240.0
        for i in range(n):
            t = start + span * i / max(n, 1) + rng.uniform(0, 1)
            op = rng.choice(("SecretGet", "SecretGet", "SecretList", "KeyGet"))
            target = rng.choice(profile.keys if op == "KeyGet" else profile.secrets)
            out.append((t, record(profile, t, op, who, 403, target, rng)))
    else:
        raise ValueError(f"unknown scenario {kind!r}")
    return out


def scenario_span(kind: str, count: int | None) -> float:
    """How long before "now" a scenario appended on demand starts, so that its last record is about now."""
    n = (
        count
        if count is not None
        else {"usual": 10, "tor": 3, "mass_dump": 70, "sensitive": 1, "denied_spray": 15}[kind]
    )
    return {
        "usual": n * 5.0,
        "tor": n * 20.0,
        "mass_dump": 151.0,
        "sensitive": n * 30.0,
        "denied_spray": 241.0,
    }[kind]


def lines_of(records: list[Timed]) -> bytes:
    return b"".join(orjson.dumps(doc) + b"\n" for _, doc in sorted(records, key=lambda x: x[0]))


# -- the service: Azurite, the writer, the control calls ----------------------------------------------------
class AccessLogError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class _Traffic:
    last: float
    queue: list[tuple[float, float, dict[str, Any]]] = field(default_factory=list)  # (due, time, record)


class AccessLogService:
    """Azurite (started on demand) and the writer that plays Azure Monitor for the runtime's diagnostic settings."""

    def __init__(
        self,
        rt: Runtime,
        *,
        mode: str = "off",
        interval: float = 10.0,
        attack_interval: float = 300.0,
        writer_enabled: bool = False,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"storage must be one of {', '.join(MODES)}")
        if interval <= 0:
            raise ValueError("the log interval must be positive")
        self.rt = rt
        self.mode = mode
        self.interval = float(interval)
        self.attack_interval = float(attack_interval)
        self.writer_enabled = writer_enabled
        self.reason: str | None = "storage is off (--storage off): access-log collection is unavailable"
        self.azurite: Azurite | None = None
        self.ca_path: Path | None = None
        self._lock = threading.RLock()  # writes, the traffic state and the tails
        self._cond = threading.Condition()
        self._stopping = False
        self._wake = False  # the writer's settings changed: start a new wait with the new interval
        self._thread: threading.Thread | None = None
        self._clients: dict[str, Any] = {}
        self._ready: set[tuple[str, str]] = set()  # (account, blob) created; (account, "") container created
        self._traffic: dict[str, _Traffic] = {}
        self._tails: dict[
            tuple[str, str], tuple[str, bytes]
        ] = {}  # (account, vault) -> (blob, held-back bytes)
        self._last_error = ""
        self._appended = 0
        self.ticks = 0

    # -- lifecycle ------------------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self.azurite is not None

    def start(self, data_dir: Path, ca_path: Path, persist: bool) -> None:
        """Start Azurite (storage auto or azurite) and the writer thread. `azurite` raises AzuriteUnavailable when
        it cannot run; `auto` then runs without it (`reason` says why)."""
        self.ca_path = ca_path
        if self.mode == "off":
            return
        try:
            launch = locate()
            cert, key = ensure_azurite_certificate(data_dir)
            accounts = {
                a.name: a.key for accounts in self.rt.state.storage_accounts.values() for a in accounts
            }
            self.azurite = Azurite(
                launch, accounts=accounts, cert=cert, key=key, data_dir=data_dir, persist=persist
            )
        except AzuriteUnavailable as exc:
            if self.mode == "azurite":
                raise
            self.reason = str(exc)
            return
        self.reason = None
        with self._cond:
            self._stopping = False
        self._thread = threading.Thread(target=self._run, name="emulator-accesslogs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        with self._lock:
            for client in self._clients.values():
                with contextlib.suppress(Exception):
                    client.close()
            self._clients.clear()
            self._ready.clear()
        if self.azurite is not None:
            self.azurite.stop()
            self.azurite = None

    def blob_endpoint(self, account: str) -> str:
        port = self.azurite.port if self.azurite is not None else DEFAULT_PORT
        return f"https://127.0.0.1:{port}/{account}/"

    def reset(self) -> None:
        """Back to the seed: no logs (every account's container is deleted), the writer's memory cleared."""
        with self._lock:
            self._traffic.clear()
            self._tails.clear()
            self._ready.clear()
            if self.azurite is None:
                return
            from azure.core.exceptions import ResourceNotFoundError

            for accounts in self.rt.state.storage_accounts.values():
                for account in accounts:
                    with contextlib.suppress(ResourceNotFoundError):
                        self._service(account).delete_container(CONTAINER)

    # -- the writer -----------------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or self._wake, timeout=self.interval)
                if self._stopping:
                    return
                if self._wake:
                    self._wake = False
                    continue
            if not self.writer_enabled:
                continue
            try:
                self.tick()
                self._last_error = ""
            except Exception as exc:  # Azurite gone, a bug: say so once, keep the emulator up
                message = f"{type(exc).__name__}: {exc}"
                if message != self._last_error:
                    print(f"emulator: the access-log writer failed: {message}", file=sys.stderr, flush=True)
                    self._last_error = message
                if self.azurite is not None and self.azurite.proc.poll() is not None:
                    self.reason = f"Azurite exited with status {self.azurite.proc.returncode}"
                    return

    def sinks(self) -> list[tuple[Vault, list[StorageAccount]]]:
        """Each vault whose diagnostic settings send AuditEvent to storage, with those accounts."""
        state = self.rt.state
        out = []
        with state.lock:
            for vault_key, settings in state.diagnostic_settings.items():
                vault = state.vault_by_id(vault_key)
                if vault is None:
                    continue
                accounts: dict[str, StorageAccount] = {}
                for s in settings.values():
                    if s.sends_audit_events_to_storage:
                        account = state.storage_account_by_id(s.storage_account_id)
                        if account is not None:
                            accounts[account.name] = account
                if accounts:
                    out.append((vault, list(accounts.values())))
        return out

    def profile(self, vault: Vault) -> Profile:
        state = self.rt.state
        sub = state.subscription(vault.subscription_id)
        tenant = state.tenant_by_id(sub.tenant_id) if sub is not None else None
        return Profile.of(state.seed, vault, tenant.domain if tenant is not None else "contoso.com")

    def tick(self) -> dict[str, int]:
        """One write: each sink gets the records received since the last tick. Returns bytes written per blob."""
        if self.azurite is None:
            raise AccessLogError(503, "StorageUnavailable", self.reason or "Azurite does not run")
        written: dict[str, int] = {}
        with self._lock:
            now_dt = self.rt.clock.now()
            now = now_dt.timestamp()
            self.ticks += 1
            live = set()
            for vault, accounts in self.sinks():
                key = vault.id.lower()
                profile = self.profile(vault)
                traffic = self._traffic.get(key)
                if traffic is None:  # collection starts now
                    traffic = self._traffic[key] = _Traffic(last=now)
                start = max(traffic.last, now - MAX_CATCH_UP)
                fresh = usual(profile, start, now)
                if self.attack_interval > 0:
                    fresh += self._attacks(profile, start, now)
                for t, doc in fresh:
                    rng = profile.rng("late", t)
                    delay = rng.uniform(1, 1.5 * self.interval) if rng.random() < 0.1 else 0.0
                    traffic.queue.append((t + delay, t, doc))
                traffic.last = now
                due = sorted((q for q in traffic.queue if q[0] <= now), key=lambda q: q[0])
                traffic.queue = [q for q in traffic.queue if q[0] > now]
                data = b"".join(orjson.dumps(doc) + b"\n" for _, _, doc in due)
                rng = profile.rng("cut", self.ticks)
                for account in accounts:
                    live.add((account.name, key))
                    name, n = self._deliver(account, vault, data, now_dt, rng, hold_back=rng.random() < 0.25)
                    written[f"{account.name}/{name}"] = n
            for tail_key in [k for k in self._tails if k not in live]:  # a setting went: finish its last line
                blob, tail = self._tails.pop(tail_key)
                self._append(self._account(tail_key[0]), blob, tail)
        return written

    def _attacks(self, profile: Profile, start: float, end: float) -> list[Timed]:
        """Attacks that begin in (start, end]: one per `attack_interval` slot, at a random moment of it."""
        out: list[Timed] = []
        slot_len = self.attack_interval
        slot = math.floor(start / slot_len)
        while slot * slot_len <= end:
            rng = profile.rng("attack", slot_len, slot)
            begin = slot * slot_len + rng.uniform(0, slot_len)
            if start < begin <= end:
                out += scenario(profile, rng.choice(ATTACKS), begin, rng)
            slot += 1
        return out

    def _account(self, name: str) -> StorageAccount:
        for accounts in self.rt.state.storage_accounts.values():
            for a in accounts:
                if a.name == name:
                    return a
        raise KeyError(name)

    def _deliver(
        self,
        account: StorageAccount,
        vault: Vault,
        data: bytes,
        received: dt.datetime,
        rng: random.Random,
        *,
        hold_back: bool = False,
        split: bool | None = None,
    ) -> tuple[str, int]:
        """Append `data` (whole lines) to the vault's blob of the hour `received` in `account`, after what an
        earlier delivery held back. split None: sometimes in 2-3 appends cut anywhere; True: a first append that ends
        in the middle of a line; False: one append. hold_back: keep the end of the last line for the next
        delivery."""
        name = blob_name(vault.id, received)
        key = (account.name, vault.id.lower())
        written = 0
        pending = self._tails.pop(key, None)
        if pending is not None:
            if pending[0] == name:
                data = pending[1] + data
            else:  # an hour ended: the line is completed in the blob it began in
                written += self._append(account, pending[0], pending[1])
        if not data:
            return name, written
        if hold_back and data.endswith(b"\n") and len(data) > 2:
            last_start = data.rfind(b"\n", 0, len(data) - 1) + 1
            cut = rng.randint(last_start + 1, len(data) - 1)
            self._tails[key] = (name, data[cut:])
            data = data[:cut]
        cuts: list[int] = []
        if split is True:
            first_end = data.find(b"\n")
            cuts = [max(1, first_end // 2)] if first_end > 1 else []
        elif split is None and len(data) > 2 and rng.random() < 0.35:
            cuts = sorted(rng.sample(range(1, len(data)), min(rng.randint(1, 2), len(data) - 1)))
        previous = 0
        for cut in [*cuts, len(data)]:
            written += self._append(account, name, data[previous:cut])
            previous = cut
        return name, written

    # -- blob access ------------------------------------------------------------------------------------
    def _service(self, account: StorageAccount) -> Any:
        client = self._clients.get(account.name)
        if client is None:
            from azure.core.pipeline.transport import RequestsTransport
            from azure.storage.blob import BlobServiceClient

            client = BlobServiceClient(
                account_url=self.blob_endpoint(account.name).rstrip("/"),
                credential={"account_name": account.name, "account_key": account.key},
                connection_verify=str(self.ca_path),
                transport=RequestsTransport(use_env_settings=False, connection_verify=str(self.ca_path)),
                retry_total=2,
            )
            self._clients[account.name] = client
        return client

    def _prepare(self, account: StorageAccount, name: str) -> Any:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError

        container = self._service(account).get_container_client(CONTAINER)
        if (account.name, "") not in self._ready:
            with contextlib.suppress(ResourceExistsError):
                container.create_container()
            self._ready.add((account.name, ""))
        blob = container.get_blob_client(name)
        if (account.name, name) not in self._ready:
            with contextlib.suppress(ResourceExistsError):
                blob.create_append_blob(match_condition=MatchConditions.IfMissing)
            self._ready.add((account.name, name))
        return blob

    def _append(self, account: StorageAccount, name: str, data: bytes) -> int:
        from azure.core.exceptions import ResourceNotFoundError

        for start in range(0, len(data), MAX_APPEND):
            chunk = data[start : start + MAX_APPEND]
            try:
                self._prepare(account, name).append_block(chunk)
            except ResourceNotFoundError:  # deleted behind our back: create it again, once
                self._ready.discard((account.name, ""))
                self._ready.discard((account.name, name))
                self._prepare(account, name).append_block(chunk)
        return len(data)

    # -- control calls --------------------------------------------------------------------------------------
    def _require(self) -> None:
        if self.azurite is None:
            raise AccessLogError(503, "StorageUnavailable", self.reason or "Azurite does not run")

    def _vault_of(self, ref: Any) -> tuple[Vault, list[StorageAccount]]:
        if not isinstance(ref, str) or not ref.strip():
            raise AccessLogError(400, "InvalidInputError", "'vault' (an ARM id or a vault name) is required")
        state = self.rt.state
        vault = state.vault_by_id(ref) if ref.startswith("/") else None
        if vault is None and not ref.startswith("/"):
            vault = next(
                (v for vs in state.vaults.values() for v in vs if v.name.lower() == ref.lower()), None
            )
        if vault is None:
            raise AccessLogError(404, "NotFound", f"No key vault '{ref}'.")
        for v, accounts in self.sinks():
            if v.id.lower() == vault.id.lower():
                return v, accounts
        raise AccessLogError(
            409,
            "NoDiagnosticSetting",
            f"Key vault '{vault.name}' has no diagnostic setting sending AuditEvent logs to a storage account: PUT "
            "one first.",
        )

    def append(self, body: dict[str, Any]) -> dict[str, Any]:
        """`{"vault", "scenario", "count"?, "split"?}` or `{"vault", "lines": [...]}` or `{"vault", "raw": "..."}`."""
        self._require()
        vault, accounts = self._vault_of(body.get("vault"))
        received = self.rt.clock.now()
        split = body.get("split")
        if split is not None and not isinstance(split, bool):
            raise AccessLogError(400, "InvalidInputError", "'split' is true or false")
        records = 0
        if "raw" in body or "lines" in body:
            if "raw" in body:
                if not isinstance(body["raw"], str):
                    raise AccessLogError(400, "InvalidInputError", "'raw' is a string")
                data = body["raw"].encode()
            else:
                lines = body["lines"]
                if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
                    raise AccessLogError(400, "InvalidInputError", "'lines' is a list of strings")
                data = b"".join(line.encode() + b"\n" for line in lines)
                records = len(lines)
        else:
            kind = body.get("scenario", "usual")
            if kind not in SCENARIOS:
                raise AccessLogError(400, "InvalidInputError", f"'scenario' is one of {', '.join(SCENARIOS)}")
            count = body.get("count")
            if count is not None and (
                not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 10000
            ):
                raise AccessLogError(400, "InvalidInputError", "'count' is an integer from 1 to 10000")
            profile = self.profile(vault)
            with self._lock:
                self._appended += 1
                rng = profile.rng("control", kind, self._appended)
            start = received.timestamp() - scenario_span(kind, count)
            made = scenario(profile, kind, start, rng, count)
            made = [(min(t, received.timestamp()), doc) for t, doc in made]
            data = lines_of(made)
            records = len(made)
        with self._lock:
            rng = random.Random(len(data))
            results = [self._deliver(a, vault, data, received, rng, split=bool(split)) for a in accounts]
        name = results[0][0]
        return {
            "blob": name,
            "container": CONTAINER,
            "accounts": [a.name for a in accounts],
            "appended_bytes": results[0][1],
            "records": records,
        }

    def rewrite(self, body: dict[str, Any]) -> dict[str, Any]:
        """`{"blob": name, "raw": "...", "account"?: name}`: the blob's content replaced (a new append blob)."""
        self._require()
        name, raw = body.get("blob"), body.get("raw")
        if not isinstance(name, str) or not isinstance(raw, str):
            raise AccessLogError(400, "InvalidInputError", "'blob' and 'raw' (strings) are required")
        vault_id = name.removeprefix("resourceId=").split("/y=")[0]
        _, accounts = self._vault_of(vault_id)
        wanted = body.get("account")
        if wanted is not None:
            accounts = [a for a in accounts if a.name == wanted]
            if not accounts:
                raise AccessLogError(
                    404, "NotFound", f"The vault's settings send nothing to account '{wanted}'."
                )
        from azure.core.exceptions import ResourceNotFoundError

        with self._lock:
            for account in accounts:
                blob = self._service(account).get_container_client(CONTAINER).get_blob_client(name)
                try:
                    blob.get_blob_properties()
                except ResourceNotFoundError:
                    raise AccessLogError(
                        404, "BlobNotFound", f"No blob '{name}' in '{account.name}'."
                    ) from None
                blob.create_append_blob()  # replaces it: empty, a new ETag
                self._ready.add((account.name, name))
                self._append(account, name, raw.encode())
                self._tails.pop((account.name, vault_id.lower()), None)
        return {"blob": name, "accounts": [a.name for a in accounts], "size": len(raw.encode())}

    def status(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "reason": self.reason,
            "blob_url": self.azurite.url if self.azurite is not None else None,
            "container": CONTAINER,
            "writer_enabled": self.writer_enabled,
            "interval_seconds": self.interval,
            "attack_interval_seconds": self.attack_interval,
            "ticks": self.ticks,
            "sinks": [
                {"vault": v.id, "accounts": [a.name for a in accounts]} for v, accounts in self.sinks()
            ],
        }

    def set_writer(self, body: dict[str, Any]) -> dict[str, Any]:
        enabled = body.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise AccessLogError(400, "InvalidInputError", "'enabled' is true or false")
        interval = body.get("interval_seconds")
        if interval is not None:
            if not isinstance(interval, int | float) or isinstance(interval, bool) or interval <= 0:
                raise AccessLogError(400, "InvalidInputError", "'interval_seconds' is a positive number")
            self.interval = float(interval)
        attacks = body.get("attack_interval_seconds")
        if attacks is not None:
            if not isinstance(attacks, int | float) or isinstance(attacks, bool) or attacks < 0:
                raise AccessLogError(400, "InvalidInputError", "'attack_interval_seconds' is a number >= 0")
            self.attack_interval = float(attacks)
        if enabled is not None:
            with self._lock:
                if enabled and not self.writer_enabled:  # resume from now: nothing is back-filled
                    now = self.rt.clock.now().timestamp()
                    for traffic in self._traffic.values():
                        traffic.last = now
                self.writer_enabled = enabled
        with self._cond:
            self._wake = True
            self._cond.notify_all()
        return self.status()
