"""What a local detection is called, how severe it is and what to do about it.

A detection of a catalog family (the detector's KV_* kinds) keeps the catalog's title, severity, tactics and
remediation, but is stored as its own alert type, `LOCAL_<family>`: Defender's suppression rules (and Azure's) for
KV_* types never dismiss it, and the alert types page tells them apart. The peers' families (mass retrieval, first
retrieval, sensitive operations) are described here.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.catalog import BY_TYPE, tactic_to_intent
from alerts.models import LOCAL_TYPE_PREFIX

PREFIX = LOCAL_TYPE_PREFIX


@dataclass(frozen=True)
class Kind:
    alert_type: str
    title: str
    severity: str
    intent: str
    description: str
    remediation: tuple[str, ...]


_PEERS: dict[str, Kind] = {
    "LOCAL_MassSecretRetrieval": Kind(
        "LOCAL_MassSecretRetrieval",
        "Mass secret retrieval from a key vault",
        "High",
        "CredentialAccess",
        "One identity read many secrets or keys of the vault within minutes, as a dump of the vault would.",
        (
            "Confirm with the identity's owner whether a deployment or a migration explains the reads.",
            "If not, remove the identity's access to the vault and revoke its credentials.",
            "Rotate every secret and key listed in the evidence.",
        ),
    ),
    "LOCAL_FirstSecretRetrieval": Kind(
        "LOCAL_FirstSecretRetrieval",
        "An identity read many secrets it had never read",
        "Medium",
        "Collection",
        "Within a day, an identity read many secrets it had not read in the baseline window, below the volume "
        "thresholds: a slow exfiltration looks like this.",
        (
            "Ask the identity's owner whether its work changed (a new service, a migration).",
            "If not, restrict the identity to the secrets it needs and rotate the ones it read.",
        ),
    ),
    "LOCAL_SensitiveOperation": Kind(
        "LOCAL_SensitiveOperation",
        "Sensitive operation on a key vault",
        "Medium",
        "Impact",
        "A vault delete or purge, an access policy change, or a key or secret delete, purge or backup succeeded.",
        (
            "Check that a change request covers the operation and that its author made it.",
            "A backup taken outside your process can be restored into another tenant's vault: treat it as a copy "
            "of the secret, and rotate it unless it is accounted for.",
            "A purge cannot be undone: turn on purge protection for vaults that hold production secrets.",
        ),
    ),
}


def kind_of(detector_kind: str) -> Kind:
    """The stored form of a detector's kind (KV_* from the catalog, or LOCAL_*)."""
    if detector_kind in _PEERS:
        return _PEERS[detector_kind]
    info = BY_TYPE.get(detector_kind)
    if info is None:
        return Kind(PREFIX + detector_kind, detector_kind, "Medium", "", detector_kind, ())
    return Kind(
        alert_type=PREFIX + detector_kind.removeprefix("KV_"),
        title=info.display_name,
        severity=info.severity,
        intent=",".join(tactic_to_intent(t) for t in info.tactics),
        description=info.description,
        remediation=info.remediation_steps,
    )


def label(alert_type: str) -> str | None:
    """The title of a local alert type (LOCAL_*), None for another type."""
    if not alert_type.startswith(PREFIX):
        return None
    if alert_type in _PEERS:
        return _PEERS[alert_type].title
    info = BY_TYPE.get("KV_" + alert_type.removeprefix(PREFIX))
    return info.display_name if info else None


def names() -> dict[str, str]:
    """{stored alert type: title} of every local detection type (alerts.labels shows them)."""
    found = {kind.alert_type: kind.title for kind in _PEERS.values()}
    for code in BY_TYPE:
        if code.startswith("KV_"):
            kind = kind_of(code)
            found[kind.alert_type] = kind.title
    return found
