"""`Client` and `AsyncClient`: configuration, the send loop with retries, and the resources."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Iterator
from types import TracebackType
from typing import Self

import httpx
from pydantic import BaseModel

from trainwell._base_client import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    Attempt,
    BaseClient,
    Call,
    ModelT,
)
from trainwell._exceptions import status_error
from trainwell.events import JobEvent, aiter_events, iter_events
from trainwell.resources.datasets import AsyncDatasets, Datasets
from trainwell.resources.jobs import AsyncJobs, Jobs
from trainwell.resources.runs import Runs
from trainwell.resources.sweeps import AsyncSweeps, Sweeps
from trainwell.usage import Usage


class Client(BaseClient):
    """A synchronous trainwell client.

    Every argument falls back: `base_url` to $TRAINWELL_URL, then http://127.0.0.1:8000; `api_key` to
    $TRAINWELL_API_KEY, then the key file that embedded mode writes ($TRAINWELL_DATA_DIR/api_key,
    else ./var/api_key). Connection errors, 408, 429 and 5xx are retried `max_retries` times.
    """

    jobs: Jobs
    datasets: Datasets
    sweeps: Sweeps
    runs: Runs

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
        self.datasets = Datasets(self)
        self.sweeps = Sweeps(self)
        self.runs = Runs(self)

    def usage(self) -> Usage:
        """Your jobs by status, the bytes you store by kind, and your quotas with what is left of each."""
        return self.request(Call("GET", "/v1/usage", Usage))

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

    def stream_events(self, path: str, last_event_id: str | None = None) -> Iterator[JobEvent]:
        """The events of the SSE stream at `path` until the server ends it. A dropped connection (or a
        retryable status) is retried up to `max_retries` times in a row, resuming with Last-Event-ID."""
        attempt = Attempt(Call("GET", path, BaseModel))
        while True:
            request = self._build_stream_request(self._http, path, last_event_id)
            try:
                response = self._http.send(request, stream=True)
            except httpx.HTTPError as exc:
                delay = self._retry_delay(attempt, None)
                if delay is None:
                    raise self._connection_error(exc, request) from None
            else:
                try:
                    if response.is_error:
                        response.read()
                        delay = self._retry_delay(attempt, response)
                        if delay is None:
                            raise status_error(response)
                    else:
                        for event in iter_events(response):
                            last_event_id = event.id or last_event_id
                            attempt.number = 0  # the budget is for failures in a row
                            yield event
                        return
                except httpx.HTTPError as exc:
                    delay = self._retry_delay(attempt, None)
                    if delay is None:
                        raise self._connection_error(exc, request) from None
                finally:
                    response.close()
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
    datasets: AsyncDatasets
    sweeps: AsyncSweeps

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
        self.datasets = AsyncDatasets(self)
        self.sweeps = AsyncSweeps(self)

    async def usage(self) -> Usage:
        """See `Client.usage`."""
        return await self.request(Call("GET", "/v1/usage", Usage))

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

    async def stream_events(self, path: str, last_event_id: str | None = None) -> AsyncGenerator[JobEvent, None]:
        """See `Client.stream_events`."""
        attempt = Attempt(Call("GET", path, BaseModel))
        while True:
            request = self._build_stream_request(self._http, path, last_event_id)
            try:
                response = await self._http.send(request, stream=True)
            except httpx.HTTPError as exc:
                delay = self._retry_delay(attempt, None)
                if delay is None:
                    raise self._connection_error(exc, request) from None
            else:
                try:
                    if response.is_error:
                        await response.aread()
                        delay = self._retry_delay(attempt, response)
                        if delay is None:
                            raise status_error(response)
                    else:
                        async for event in aiter_events(response):
                            last_event_id = event.id or last_event_id
                            attempt.number = 0
                            yield event
                        return
                except httpx.HTTPError as exc:
                    delay = self._retry_delay(attempt, None)
                    if delay is None:
                        raise self._connection_error(exc, request) from None
                finally:
                    await response.aclose()
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
