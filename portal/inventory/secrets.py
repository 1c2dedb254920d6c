"""Secrets at rest: Azure client secrets are stored encrypted (Fernet) with keys from the environment.

ENCRYPTION_KEYS (comma-separated Fernet keys; the first encrypts, all decrypt, so keys can be rotated).
Without it, a key is derived from SECRET_KEY, so a stored secret survives restarts but not a SECRET_KEY change.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnavailable(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


def _fernet() -> MultiFernet:
    keys = list(settings.ENCRYPTION_KEYS)
    if not keys:
        digest = hashlib.sha256(b"kv-console-secrets:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnavailable(
            "The stored secret cannot be decrypted with the configured ENCRYPTION_KEYS."
        ) from exc
