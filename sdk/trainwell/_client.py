"""`Client` and `AsyncClient`: configuration, the send loop with retries, and the resources."""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Self

import httpx

from trainwell._base_client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    Attempt,
    BaseClient,
    Call,
    ModelT,
)
from trainwell.resources.jobs import AsyncJobs, Jobs


class Client(BaseClient):
    """A synchronous trainwell client.

    Every argument falls back: `base_url` to $TRAINWELL_URL, then http://127.0.0.1:8000; `api_key` to
    $TRAINWELL_API_KEY, then the key file that embedded mode writes ($TRAINWELL_DATA_DIR/api_key,
    else ./var/api_key). Connection errors, 408, 429 and 5xx are retried `max_retries` times.
    """

    jobs: Jobs

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client()
        self.jobs = Jobs(self)

    def request(self, call: Call[ModelT]) -> ModelT:
        attempt = Attempt(call)
        while True:
            request = self._build_request(self._http, attempt)
            try:
                response = self._http.send(request)
                response.read()
            except httpx.HTTPError as exc:
                delay = self._retry_delay(attempt, None)
                if delay is None:
                    raise self._connection_error(exc, request) from None
            else:
                delay = self._retry_delay(attempt, response) if response.is_error else None
                if delay is None:
                    return self._parse(call, response)
            time.sleep(delay)
            attempt.number += 1

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r})"


class AsyncClient(BaseClient):
    """The asyncio twin of `Client`: the same arguments, fallbacks and retries; every call is awaited."""

    jobs: AsyncJobs

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient()
        self.jobs = AsyncJobs(self)

    async def request(self, call: Call[ModelT]) -> ModelT:
        attempt = Attempt(call)
        while True:
            request = self._build_request(self._http, attempt)
            try:
                response = await self._http.send(request)
                await response.aread()
            except httpx.HTTPError as exc:
                delay = self._retry_delay(attempt, None)
                if delay is None:
                    raise self._connection_error(exc, request) from None
            else:
                delay = self._retry_delay(attempt, response) if response.is_error else None
                if delay is None:
                    return self._parse(call, response)
            await asyncio.sleep(delay)
            attempt.number += 1

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncClient(base_url={self.base_url!r})"


__all__ = ["AsyncClient", "Client"]
