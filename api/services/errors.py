"""What a use case refuses, as typed errors: the request is at fault, and the message says how.

Services raise these and know nothing of HTTP; api/errors.py gives each kind its status and
writes the `{"error": {"code", "message", "details"}}` body.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refusal the client can act on: a machine-readable code and a message for people."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


class NotFound(ServiceError):
    """No such resource among the caller's. Another principal's row is "not found" too: an answer
    must never confirm that it exists."""

    def __init__(self, what: str, ident: str, message: str | None = None, code: str = "not_found") -> None:
        super().__init__(code, message or f"{what} {ident!r} not found")
        self.what, self.ident = what, ident


class Conflict(ServiceError):
    """The request conflicts with the resource's state (a finished job, a key used for another spec)."""


class Invalid(ServiceError):
    """The request is well-formed, but the service cannot act on what it asks."""


class InvalidField(Invalid):
    """A field the service refuses: the message reads `{field}: {message}`, and `details` names the
    field with `detail` (a shorter reason, when the message says more) and any `facts` beside it."""

    def __init__(
        self, field: str, message: str, code: str = "invalid_request", *, detail: str | None = None, **facts: Any
    ) -> None:
        super().__init__(code, f"{field}: {message}", [{"field": field, "message": detail or message, **facts}])
        self.field = field


class QuotaExceeded(ServiceError):
    """A quota is used up for now: retry after `retry_after` seconds."""

    def __init__(self, code: str, message: str, retry_after: int, details: Any = None) -> None:
        super().__init__(code, message, details)
        self.retry_after = retry_after


class TooLarge(ServiceError):
    """What the request would store does not fit: sending it again cannot help until something is freed."""
