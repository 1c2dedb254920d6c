"""Detections over a vault's AuditEvent records (issue 24), in memory: fed records in time order, it answers the
detections they complete, each with its explanation and its evidence records.

Two kinds:

- rules, from a vault's first record: access from a TOR exit node or a listed suspicious address (user-maintained
  lists), sensitive operations (vault delete or purge, access policy changes, key or secret delete, purge, backup),
  mass secret retrieval (`mass_secrets` reads by one identity within `mass_window`);
- baselines, once the vault has learnt for `learning_days` from its first record: an identity, application or
  identity-application pair unseen on the vault for `window_days` (once each), a listing followed by many reads by
  an identity that has not done so within the window, a policy change followed by a secret read, many secrets an
  identity had not read within the window read within a day (slow exfiltration under the volume thresholds), an hour's reads far above the identity's `window_days` hourly maximum, a
  spray of denied requests, one identity reaching many vaults in an hour that it had not reached within the window.

State is per vault and identity (last-seen tables, hourly counts over the window), bounded by the identities active
in the window, not by records: once a day of records, what left the window is forgotten (`prune`). A detection of one type, vault and identity is not repeated within `quiet` of the last one.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from accesslogs.auditevent import Record

READS = frozenset({"SecretGet", "KeyGet", "CertificateGet", "SecretBackup", "KeyBackup"})
LISTS = frozenset({"SecretList", "KeyList", "CertificateList", "SecretListVersions", "KeyListVersions"})
POLICY = frozenset({"VaultPut", "VaultPatch", "VaultAccessPolicyChangedEventGridNotification"})
SENSITIVE = frozenset(
    {
        "VaultDelete",
        "VaultPurge",
        "KeyDelete",
        "KeyPurge",
        "SecretDelete",
        "SecretPurge",
        "SecretBackup",
        "KeyBackup",
        "VaultAccessPolicyChangedEventGridNotification",
    }
)


@dataclass(frozen=True)
class Settings:
    learning_days: int = 7
    window_days: int = 14
    mass_secrets: int = 50
    mass_window: timedelta = timedelta(minutes=10)
    list_then_reads: int = 10  # distinct secrets read after a listing, within list_window
    list_window: timedelta = timedelta(minutes=10)
    policy_window: timedelta = timedelta(minutes=30)
    volume_factor: float = 3.0  # an hour's reads above factor × the identity's hourly maximum of the window
    volume_floor: int = 30  # ... and above this many
    denied_spray: int = 10  # denied requests by one identity on one vault within mass_window
    many_vaults: int = 5  # distinct vaults one identity reaches within an hour, never reached before
    first_reads: int = 10  # secrets an identity had not read in the window, read within first_window
    first_window: timedelta = timedelta(hours=24)
    quiet: timedelta = timedelta(hours=1)
    tor_exits: frozenset[str] = frozenset()
    suspicious_ips: frozenset[str] = frozenset()


@dataclass
class Detection:
    alert_type: str  # the catalog's KV_* type, or LOCAL_* for the peers' families
    vault: str
    identity: str
    start: datetime
    end: datetime
    explanation: str
    evidence: list[Record]


@dataclass
class _Identity:
    last_seen: datetime
    hour: datetime | None = None  # the hour being counted
    count: int = 0  # reads in it
    # the window's earlier hours that can still be its maximum: (hour, reads), reads decreasing (a sliding-window
    # maximum: O(1) a record, at most one entry per hour of the window)
    peaks: deque[tuple[datetime, int]] = field(default_factory=deque)
    recent: deque[Record] = field(default_factory=deque)  # reads within mass_window
    denied: deque[Record] = field(default_factory=deque)
    last_list: Record | None = None
    after_list: dict[str, Record] = field(default_factory=dict)  # secret -> read, after the last listing
    last_policy: Record | None = None
    pattern_at: datetime | None = None  # its last listing followed by many reads (list then get)
    secrets: dict[str, datetime] = field(default_factory=dict)  # secret -> last read, within the window
    firsts: deque[Record] = field(default_factory=deque)  # reads of a secret new to it, within first_window
    first: datetime | None = None  # when it was first seen on the vault (this time round)
    ops: dict[str, datetime] | None = None  # operation -> last succeeded, within the window


@dataclass
class _Vault:
    name: str
    first: datetime
    identities: dict[str, _Identity] = field(default_factory=dict)
    apps: dict[str, datetime] = field(default_factory=dict)
    pairs: dict[tuple[str, str], datetime] = field(default_factory=dict)


def _burst(queue: deque[Record], r: Record, span: timedelta, threshold: int) -> list[Record] | None:
    """`r` joins the records of the last `span`; once they are `threshold`, they are the evidence (and start over)."""
    queue.append(r)
    while queue and r.time - queue[0].time > span:
        queue.popleft()
    if len(queue) < threshold:
        return None
    evidence = list(queue)
    queue.clear()
    return evidence


_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)
_READ_SUFFIXES = ("Get", "List", "ListVersions", "GetDeleted", "ListDeleted")


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def vault_name(arm_id: str) -> str:
    return arm_id.rstrip("/").rsplit("/", 1)[-1]


class Detector:
    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._window = timedelta(days=self.settings.window_days)
        self._learning = timedelta(days=self.settings.learning_days)
        self.vaults: dict[str, _Vault] = {}
        self.reach: dict[str, dict[str, datetime]] = defaultdict(dict)  # identity -> vault -> last seen
        self.last: dict[tuple[str, str, str], datetime] = {}  # (type, vault, identity) -> last detection
        self.pruned: datetime | None = None  # the day the state last forgot what left the window
        self.denied_reach: dict[str, dict[str, datetime]] = {}  # identity -> vault -> last denied

    def __setstate__(self, state: dict[str, object]) -> None:
        """A state pickled by an earlier version gains the fields added since."""
        self.__dict__.update(state)
        self.__dict__.setdefault("pruned", None)
        self.__dict__.setdefault("denied_reach", {})

    def feed(self, records: Iterable[Record]) -> list[Detection]:
        found: list[Detection] = []
        due = self.pruned + _DAY if self.pruned is not None else None
        for record in records:
            if due is None or record.time >= due:
                self.prune(record.time)
                due = self.pruned + _DAY if self.pruned is not None else None
            found += self._one(record)
        return found

    def prune(self, now: datetime) -> None:
        """Forget what left the window (once a day of records): identities, applications, pairs and vaults reached
        unseen for `window_days`, secrets not read within it, detections older than `quiet`. What is forgotten is
        exactly what the detectors would treat as new anyway, so the state is bounded by the identities active in
        the window, not by the records or the identities ever seen."""
        self.pruned = now.replace(hour=0, minute=0, second=0, microsecond=0)
        cutoff = now - self._window
        for vault in self.vaults.values():
            gone = [who for who, ident in vault.identities.items() if ident.last_seen < cutoff]
            for who in gone:
                del vault.identities[who]
            for ident in vault.identities.values():
                if ident.secrets and min(ident.secrets.values()) < cutoff:
                    ident.secrets = {k: t for k, t in ident.secrets.items() if t >= cutoff}
                if ident.ops and min(ident.ops.values()) < cutoff:
                    ident.ops = {k: t for k, t in ident.ops.items() if t >= cutoff}
            vault.apps = {k: t for k, t in vault.apps.items() if t >= cutoff}
            vault.pairs = {k: t for k, t in vault.pairs.items() if t >= cutoff}
        for who in list(self.reach):
            kept = {v: t for v, t in self.reach[who].items() if t >= cutoff}
            if kept:
                self.reach[who] = kept
            else:
                del self.reach[who]
        for who in list(self.denied_reach):
            recent = {v: t for v, t in self.denied_reach[who].items() if now - t <= _HOUR}
            if recent:
                self.denied_reach[who] = recent
            else:
                del self.denied_reach[who]
        quiet = now - self.settings.quiet
        self.last = {k: t for k, t in self.last.items() if t >= quiet}

    # -- one record --------------------------------------------------------------------------------------------
    def _one(self, r: Record) -> list[Detection]:
        s = self.settings
        vault = self.vaults.get(r.vault)
        if vault is None:
            vault = self.vaults[r.vault] = _Vault(vault_name(r.vault), r.time)
        learnt = r.time - vault.first >= self._learning
        window = self._window
        out: list[Detection] = []
        who = r.identity or f"ip:{r.caller_ip}"
        if r.caller_ip in s.tor_exits:
            out += self._emit(
                "KV_TORAccess",
                vault,
                who,
                [r],
                f"{vault.name}: {r.operation} from TOR exit node {r.caller_ip}",
            )
        elif r.caller_ip in s.suspicious_ips:
            kind = "KV_SuspiciousIPAccess" if r.succeeded else "KV_SuspiciousIPAccessDenied"
            out += self._emit(
                kind, vault, who, [r], f"{vault.name}: {r.operation} from listed address {r.caller_ip}"
            )
        if r.operation in SENSITIVE and r.succeeded:
            out += self._emit(
                "LOCAL_SensitiveOperation", vault, who, [r], f"{vault.name}: {r.operation} by {who}"
            )
        ident = vault.identities.get(who)
        unseen = ident is None or r.time - ident.last_seen > window
        if ident is None:
            ident = vault.identities[who] = _Identity(last_seen=r.time, first=r.time)
        if unseen and learnt and r.identity:
            out += self._emit(
                "KV_UserAnomaly",
                vault,
                who,
                [r],
                f"{vault.name}: {who} had not accessed it in {s.window_days} days",
            )
        ident.last_seen = max(ident.last_seen, r.time)
        if r.app_id:
            app_seen = vault.apps.get(r.app_id)
            if learnt and (app_seen is None or r.time - app_seen > window):
                out += self._emit(
                    "KV_AppAnomaly",
                    vault,
                    r.app_id,
                    [r],
                    f"{vault.name}: application {r.app_id} is new to it",
                )
            vault.apps[r.app_id] = r.time
            if r.object_id:
                pair = (r.object_id, r.app_id)
                pair_seen = vault.pairs.get(pair)
                if learnt and (pair_seen is None or r.time - pair_seen > window) and app_seen is not None:
                    out += self._emit(
                        "KV_UserAppAnomaly",
                        vault,
                        who,
                        [r],
                        f"{vault.name}: {r.object_id} through application {r.app_id}, a pair it has not seen",
                    )
                vault.pairs[pair] = r.time
        if not r.succeeded and r.status in (401, 403):
            out += self._denied(vault, ident, who, r)
            out += self._denied_reach(vault, who, r)
        if r.succeeded:
            ops = ident.ops
            if ops is None:
                ops = ident.ops = {}
            last = ops.get(r.operation)
            ops[r.operation] = r.time
            if last is None or r.time - last > window:  # the usual case (a repeat) costs one lookup
                out += self._pattern(vault, ident, who, r, learnt and not unseen)
            out += self._reads(vault, ident, who, r, learnt)
            out += self._reach(vault, who, r, learnt)
        return out

    def _pattern(self, vault: _Vault, ident: _Identity, who: str, r: Record, known: bool) -> list[Detection]:
        """(Called for an operation the identity has not performed within the window.) An identity the vault has
        known for over a day performs a change, export or cryptographic operation it has
        not performed on it within the window (a reader that starts deleting, a deployment that starts exporting
        keys). New reads are left out: on the tuning seeds every such detection was a person's first SecretList,
        VaultGet or KeyGet, and none an attack."""
        first = ident.first or r.time
        if not known or r.time - first < _DAY:
            return []
        if (
            r.operation.endswith(_READ_SUFFIXES)
            or r.operation in ("Authentication",)
            or r.operation.endswith("EventGridNotification")
        ):
            return []  # a known identity's first read of another kind is common (tuning seeds: every one of these)
        usual = ", ".join(sorted(op for op in ident.ops or {} if op != r.operation)[:5])
        return self._emit(
            "KV_OperationPatternAnomaly",
            vault,
            who,
            [r],
            f"{vault.name}: {who} performed {r.operation}, which it had not done in {self.settings.window_days} days"
            + (f" (its usual operations: {usual})" if usual else ""),
        )

    def _denied_reach(self, vault: _Vault, who: str, r: Record) -> list[Detection]:
        """One identity denied on many vaults within an hour (a principal probing what it can reach)."""
        denied = self.denied_reach.setdefault(who, {})
        new = r.vault not in denied or r.time - denied[r.vault] > _HOUR
        denied[r.vault] = r.time
        if not new:
            return []
        recent = [v for v, t in denied.items() if r.time - t <= _HOUR]
        if len(recent) != self.settings.many_vaults:
            return []
        return self._emit(
            "KV_AccountVolumeAccessDeniedAnomaly",
            vault,
            who,
            [r],
            f"{who} was denied on {len(recent)} key vaults within an hour, {vault.name} among them",
        )

    def _denied(self, vault: _Vault, ident: _Identity, who: str, r: Record) -> list[Detection]:
        s = self.settings
        evidence = _burst(ident.denied, r, s.mass_window, s.denied_spray)
        if evidence:
            return self._emit(
                "KV_UserAccessDeniedAnomaly",
                vault,
                who,
                evidence,
                f"{vault.name}: {len(evidence)} denied requests by {who} within {int(s.mass_window.total_seconds() // 60)} minutes",
            )
        return []

    def _reads(self, vault: _Vault, ident: _Identity, who: str, r: Record, learnt: bool) -> list[Detection]:
        s = self.settings
        out: list[Detection] = []
        if r.operation in LISTS:
            ident.last_list, ident.after_list = r, {}
        if r.operation in POLICY:
            ident.last_policy = r
        if r.operation not in READS:
            return out
        hour = _hour(r.time)
        if hour != ident.hour:  # a new hour: the one that ended joins the peaks, what left the window goes
            if ident.hour is not None and hour > ident.hour:
                while ident.peaks and ident.peaks[-1][1] <= ident.count:
                    ident.peaks.pop()
                ident.peaks.append((ident.hour, ident.count))
            cutoff = hour - self._window
            while ident.peaks and ident.peaks[0][0] < cutoff:
                ident.peaks.popleft()
            ident.hour, ident.count = hour, 0
        ident.count += 1
        minutes = int(s.mass_window.total_seconds() // 60)
        evidence = _burst(ident.recent, r, s.mass_window, s.mass_secrets)
        if evidence:
            out += self._emit(
                "LOCAL_MassSecretRetrieval",
                vault,
                who,
                evidence,
                f"{vault.name}: {len(evidence)} secrets read by {who} in {minutes} minutes",
            )
        if learnt:
            usual = ident.peaks[0][1] if ident.peaks else 0
            now_n = ident.count
            if now_n > max(s.volume_floor, s.volume_factor * usual) and now_n - 1 <= max(
                s.volume_floor, s.volume_factor * usual
            ):
                out += self._emit(
                    "KV_OperationVolumeAnomaly",
                    vault,
                    who,
                    [r],
                    f"{vault.name}: {now_n} reads by {who} this hour; its {s.window_days}-day hourly maximum was {usual}",
                )
        secret = r.target or r.request_uri
        if learnt and r.operation == "SecretGet":
            last_read = ident.secrets.get(secret)
            if last_read is None or r.time - last_read > self._window:
                evidence = _burst(ident.firsts, r, s.first_window, s.first_reads)
                if evidence:
                    out += self._emit(
                        "LOCAL_FirstSecretRetrieval",
                        vault,
                        who,
                        evidence,
                        f"{vault.name}: {who} read {len(evidence)} secrets it had not read in {s.window_days} days, "
                        f"within {int(s.first_window.total_seconds() // 3600)} h",
                    )
        if r.operation == "SecretGet":
            ident.secrets[secret] = r.time
        if ident.last_list is not None and r.time - ident.last_list.time <= s.list_window:
            ident.after_list[secret] = r
            if len(ident.after_list) == s.list_then_reads:
                usual = ident.pattern_at is not None and r.time - ident.pattern_at <= timedelta(
                    days=s.window_days
                )
                ident.pattern_at = r.time
                if learnt and not usual:  # else its own habit (a CI job): learnt, not reported
                    out += self._emit(
                        "KV_ListGetAnomaly",
                        vault,
                        who,
                        [ident.last_list, *ident.after_list.values()],
                        f"{vault.name}: {who} listed secrets, then read {s.list_then_reads} of them within "
                        f"{int(s.list_window.total_seconds() // 60)} minutes, which it had not done in "
                        f"{s.window_days} days",
                    )
        if (
            learnt
            and r.operation == "SecretGet"
            and ident.last_policy is not None
            and r.time - ident.last_policy.time <= s.policy_window
        ):
            policy, ident.last_policy = ident.last_policy, None
            out += self._emit(
                "KV_PutGetAnomaly",
                vault,
                who,
                [policy, r],
                f"{vault.name}: {who} changed the vault's policy ({policy.operation}), then read a secret",
            )
        return out

    def _reach(self, vault: _Vault, who: str, r: Record, learnt: bool) -> list[Detection]:
        s = self.settings
        seen = self.reach[who]
        new = r.vault not in seen
        seen[r.vault] = r.time
        if not (learnt and new):
            return []
        recent = [v for v, t in seen.items() if r.time - t <= timedelta(hours=1)]
        if len(recent) == s.many_vaults:
            return self._emit(
                "KV_AccountVolumeAnomaly",
                vault,
                who,
                [r],
                f"{who} reached {len(recent)} key vaults within an hour, {vault.name} among them",
            )
        return []

    def _emit(self, kind: str, vault: _Vault, who: str, evidence: list[Record], why: str) -> list[Detection]:
        key = (kind, vault.name, who)
        last = self.last.get(key)
        end = evidence[-1].time
        if last is not None and end - last < self.settings.quiet:
            return []
        self.last[key] = end
        return [Detection(kind, evidence[-1].vault, who, evidence[0].time, end, why, evidence)]


def read_list(path: str) -> frozenset[str]:
    """An address list (accesslogs/lists/README.md): one address per line, `#` comments."""
    with open(path, encoding="utf-8") as handle:
        return frozenset(line.split("#", 1)[0].strip() for line in handle if line.split("#", 1)[0].strip())
