"""What the sync and async clients share: configuration fallbacks, request building, the retry
policy and turning a response into a model or a typed error. Only the send loop differs."""

from __future__ import annotations

import email.utils
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from trainwell._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    TrainwellError,
    status_error,
)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2
# Backoff between attempts: 0.5 s, 1 s, 2 s, ... capped at 8 s, each cut by up to 25 % at random
# so that many clients retrying after one outage do not come back in lockstep.
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
# A Retry-After longer than this is not a hint to wait but a sign to give up and tell the caller.
MAX_RETRY_AFTER = 60.0
RETRYABLE_STATUS = frozenset({408, 429})

ModelT = TypeVar("ModelT", bound=BaseModel)


def resolve_base_url(base_url: str | None) -> str:
    return (base_url or os.environ.get("TRAINWELL_URL") or DEFAULT_BASE_URL).rstrip("/")


def resolve_api_key(api_key: str | None) -> str:
    """The key passed in, else $TRAINWELL_API_KEY, else the key file embedded mode writes (`make run`)."""
    if api_key:
        return api_key
    if os.environ.get("TRAINWELL_API_KEY"):
        return os.environ["TRAINWELL_API_KEY"]
    key_file = Path(os.environ.get("TRAINWELL_DATA_DIR") or "var") / "api_key"
    try:
        key = key_file.read_text().strip()
    except OSError:
        key = ""
    if key:
        return key
    raise TrainwellError(
        "no API key: pass api_key=..., set TRAINWELL_API_KEY, or run the embedded service (`make run`), "
        f"which writes its key to {key_file}"
    )


class NoContent(BaseModel):
    """The answer of an operation that answers 204 with no body (a delete)."""


class Binary(BaseModel):
    """A non-JSON answer, such as a PNG plot: its bytes and content type."""

    content: bytes
    content_type: str


@dataclass(frozen=True)
class Call(Generic[ModelT]):
    """One API operation: what to send and which model the answer is."""

    method: str
    path: str
    cast_to: type[ModelT]
    params: dict[str, Any] | None = None
    json: Any = None
    idempotency_key: str | None = None
    files: dict[str, Any] | None = None  # multipart parts, with `data` as the text fields
    data: dict[str, str] | None = None


@dataclass
class Attempt:
    """Per-call retry state: the idempotency key is made once so every retry of a POST carries the same one."""

    call: Call[Any]
    number: int = 0
    idempotency_key: str = field(default_factory=lambda: str(uuid.uuid4()))


class BaseClient:
    def __init__(self, *, base_url: str | None, api_key: str | None, timeout: float, max_retries: int) -> None:
        self.base_url = resolve_base_url(base_url)
        self.api_key = resolve_api_key(api_key)
        self.timeout = timeout
        self.max_retries = max_retries

    def _headers(self, attempt: Attempt) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        if attempt.call.method == "POST":
            headers["Idempotency-Key"] = attempt.call.idempotency_key or attempt.idempotency_key
        return headers

    def _build_request(self, http: httpx.Client | httpx.AsyncClient, attempt: Attempt) -> httpx.Request:
        call = attempt.call
        try:
            return http.build_request(
                call.method,
                self.base_url + call.path,
                params=call.params,
                json=call.json,
                files=call.files,
                data=call.data,
                headers=self._headers(attempt),
                timeout=self.timeout,
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise APIConnectionError(f"bad base_url {self.base_url!r}: {exc}") from None

    def _build_stream_request(
        self, http: httpx.Client | httpx.AsyncClient, path: str, last_event_id: str | None
    ) -> httpx.Request:
        """A GET of an SSE stream: the server pings every 10 s, so `timeout` also bounds a silent stream."""
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        try:
            return http.build_request("GET", self.base_url + path, headers=headers, timeout=self.timeout)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise APIConnectionError(f"bad base_url {self.base_url!r}: {exc}") from None

    def _retry_delay(self, attempt: Attempt, response: httpx.Response | None) -> float | None:
        """Seconds to wait before the next attempt, or None when this outcome is final."""
        if attempt.number >= self.max_retries:
            return None
        if response is not None:
            if response.status_code not in RETRYABLE_STATUS and response.status_code < 500:
                return None
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None:
                return retry_after if retry_after <= MAX_RETRY_AFTER else None
        backoff = min(INITIAL_RETRY_DELAY * 2**attempt.number, MAX_RETRY_DELAY)
        return backoff * (1 - 0.25 * random.random())

    @staticmethod
    def _connection_error(exc: httpx.HTTPError, request: httpx.Request) -> APIConnectionError:
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"request timed out: {request.method} {request.url}", request=request)
        return APIConnectionError(
            f"cannot reach {request.url.scheme}://{request.url.netloc.decode()}: {exc or type(exc).__name__}",
            request=request,
        )

    @staticmethod
    def _parse(call: Call[ModelT], response: httpx.Response) -> ModelT:
        if response.is_error:
            raise status_error(response)
        if call.cast_to is NoContent:
            return NoContent()  # type: ignore[return-value]
        if call.cast_to is Binary:
            return Binary(content=response.content, content_type=response.headers.get("content-type", ""))  # type: ignore[return-value]
        try:
            return call.cast_to.model_validate_json(response.content)
        except ValidationError as exc:
            raise APIResponseValidationError(
                f"{call.method} {call.path} answered a body that is not a {call.cast_to.__name__}: {exc}",
                response=response,
            ) from None


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())
