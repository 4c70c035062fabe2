"""The SDK's error tree: every failure a caller can see is one of these, never an httpx exception.

TrainwellError
├── APIError
│   ├── APIStatusError (status_code, code, message, details, request_id)
│   │   ├── BadRequestError 400, AuthenticationError 401, PermissionDeniedError 403,
│   │   ├── NotFoundError 404, ConflictError 409, UnprocessableEntityError 422,
│   │   └── RateLimitError 429, InternalServerError >= 500
│   ├── APIConnectionError
│   │   └── APITimeoutError
│   └── APIResponseValidationError (a 2xx body that is not the documented model)
└── WaitTimeoutError (Jobs.wait gave up; the job goes on)
"""

from __future__ import annotations

from typing import Any

import httpx


class TrainwellError(Exception):
    """Base of every error the SDK raises."""


class APIError(TrainwellError):
    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class APIStatusError(APIError):
    """The API answered with a 4xx or 5xx; `code` is its machine-readable error code."""

    status_code: int

    def __init__(self, message: str, *, response: httpx.Response, code: str | None, details: Any) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code
        self.code = code
        self.details = details
        self.request_id: str | None = response.headers.get("x-request-id")

    def __str__(self) -> str:
        return f"{self.status_code} {self.code or 'error'}: {self.message}"


class BadRequestError(APIStatusError):
    status_code = 400


class AuthenticationError(APIStatusError):
    status_code = 401


class PermissionDeniedError(APIStatusError):
    status_code = 403


class NotFoundError(APIStatusError):
    status_code = 404


class ConflictError(APIStatusError):
    status_code = 409


class UnprocessableEntityError(APIStatusError):
    status_code = 422


class RateLimitError(APIStatusError):
    status_code = 429


class InternalServerError(APIStatusError):
    status_code = 500


_BY_STATUS: dict[int, type[APIStatusError]] = {
    cls.status_code: cls
    for cls in (
        BadRequestError,
        AuthenticationError,
        PermissionDeniedError,
        NotFoundError,
        ConflictError,
        UnprocessableEntityError,
        RateLimitError,
    )
}


def status_error(response: httpx.Response) -> APIStatusError:
    """The typed error for a non-2xx response, read from the API's `{"error": {code, message, details}}`."""
    code: str | None = None
    details: Any = None
    try:
        error = response.json()["error"]
        code, message, details = error.get("code"), str(error.get("message") or ""), error.get("details")
    except (ValueError, KeyError, TypeError, AttributeError):
        # not the API's error body (a proxy's HTML page, say): keep a readable piece of it
        message = response.text[:500].strip() or response.reason_phrase
    if response.status_code >= 500:
        cls: type[APIStatusError] = InternalServerError
    else:
        cls = _BY_STATUS.get(response.status_code, APIStatusError)
    return cls(message, response=response, code=code, details=details)


class APIConnectionError(APIError):
    """The request never got an HTTP answer: refused, reset, DNS, TLS, ..."""

    def __init__(self, message: str = "connection error", *, request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)


class APITimeoutError(APIConnectionError):
    def __init__(self, message: str = "request timed out", *, request: httpx.Request | None = None) -> None:
        super().__init__(message, request=request)


class APIResponseValidationError(APIError):
    """A 2xx answer whose body is not the model this SDK version expects (an SDK/server version skew)."""

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code


class WaitTimeoutError(TrainwellError, TimeoutError):
    """`wait()` ran out of time; the job itself is untouched and still running."""

    def __init__(self, job_id: str, timeout: float) -> None:
        super().__init__(f"job {job_id!r} did not finish within {timeout:g}s")
        self.job_id = job_id
        self.timeout = timeout


class PredictionFailedError(TrainwellError):
    """A worker could not make the predictions; `reason` says why."""

    def __init__(self, prediction_id: str, reason: str | None) -> None:
        super().__init__(f"predictions {prediction_id!r} failed: {reason or 'no reason given'}")
        self.prediction_id = prediction_id
        self.reason = reason
