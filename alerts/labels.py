"""People's words for Azure's codes: one mapping, used by the pages (alerts_ui filters), the mails and the CSV's
human-readable columns. The API, the JSON export and the CSV's code columns keep Azure's codes."""

from __future__ import annotations

import re

from alerts.catalog import BY_TYPE
from alerts.models import CLASSIFICATIONS, Status

_STATUS = dict(Status.choices)
_CLASSIFICATION = dict(CLASSIFICATIONS)


def status_label(code: str) -> str:
    """InProgress -> "In progress"."""
    return _STATUS.get(code, code)


def classification_label(code: str) -> str:
    return _CLASSIFICATION.get(code, code)


def tactic_label(code: str) -> str:
    """CredentialAccess -> "Credential Access" (several may be comma-separated)."""
    if not code:
        return ""
    parts = [p.strip() for p in code.split(",") if p.strip()]
    return ", ".join(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", p) for p in parts)


# Alert types that apps above alerts raise themselves (accesslogs' local detections), named at start-up.
_MORE_TYPES: dict[str, str] = {}


def name_types(names: dict[str, str]) -> None:
    _MORE_TYPES.update(names)


def alert_type_name(code: str) -> str:
    """KV_TORAccess -> "Access from a TOR exit node to a key vault"; an unknown type is shown as its code."""
    if code in _MORE_TYPES:
        return _MORE_TYPES[code]
    info = BY_TYPE.get(code.removeprefix("SIMULATED_")) if code else None
    return info.display_name if info is not None else code
