"""What can go wrong talking to Azure, as the rest of the portal needs to tell it apart."""

from __future__ import annotations


class ArmError(Exception):
    """Base class. `code` and `message` come from the ARM error body when there is one."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __str__(self) -> str:
        prefix = f"{self.status} " if self.status else ""
        code = f"{self.code}: " if self.code else ""
        return f"{prefix}{code}{self.message}"


class ArmAuthError(ArmError):
    """401/403 (after one retry with a fresh token), or no credential: the connection is unhealthy."""


class ArmThrottled(ArmError):
    """429 that outlasted the SDK's retries. `retry_after` seconds, when Azure said."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, status: int | None = None, code: str = ""
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class ArmTransient(ArmError):
    """5xx, timeouts, connection errors that outlasted the SDK's retries: worth retrying the whole run later."""


class ArmNotFound(ArmError):
    """404."""


class ArmRejected(ArmError):
    """400/409 and other refusals: Azure understood and said no (e.g. a deprecated sub-plan)."""


class ArmMalformed(ArmError):
    """A response that is not what ARM sends: invalid JSON, a truncated page, a nextLink loop."""


TRANSIENT = (ArmThrottled, ArmTransient)
