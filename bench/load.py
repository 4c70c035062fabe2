"""A minimal HTTP/1.1 load generator: N keep-alive connections, each sending requests back to back.

A client that spends about a millisecond of CPU per request (httpx does) takes a whole core from
the server it measures at a few hundred requests a second, on a machine with few cores
(BENCHMARKS.md). This one writes pre-built request bytes and reads each response by its
Content-Length on raw asyncio streams: tens of microseconds per request. It speaks only what
uvicorn answers with (Content-Length bodies, keep-alive).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, one per timed request
    warmup_latencies: list[float] = field(default_factory=list)  # each connection's first `warmup` requests
    statuses: dict[int, int] = field(default_factory=dict)
    timed_from: float = 0.0  # perf_counter when the timed requests began
    wall: float = 0.0  # seconds of the timed requests

    @property
    def errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 400)


def request_bytes(method: str, url: str, body: Any, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(payload)}"]
    if body is not None:
        lines.append("Content-Type: application/json")
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _connection(
    url: str, requests: list[bytes], warmup: int, warmed: asyncio.Barrier, result: LoadResult
) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        for index, request in enumerate(requests):
            if index == warmup and warmup:
                await warmed.wait()  # the timed requests start when every connection is warm
                result.timed_from = result.timed_from or time.perf_counter()
            began = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            (result.latencies if index >= warmup else result.warmup_latencies).append(time.perf_counter() - began)
            result.statuses[status] = result.statuses.get(status, 0) + 1
    finally:
        writer.close()


async def _run(url: str, per_connection: list[list[bytes]], warmup: int) -> LoadResult:
    result = LoadResult()
    warmed = asyncio.Barrier(len(per_connection))
    began = time.perf_counter()
    await asyncio.gather(*(_connection(url, requests, warmup, warmed, result) for requests in per_connection))
    result.wall = time.perf_counter() - (result.timed_from or began)
    return result


def hammer(url: str, per_connection: list[list[bytes]], warmup: int = 0) -> LoadResult:
    """Send each connection's requests in order, all connections at once. The first `warmup` requests of
    each connection (connecting, a client's first contact) are timed apart, and the rest start together
    once every connection is through them."""
    if any(len(requests) <= warmup for requests in per_connection):
        raise ValueError(f"each connection needs more than its {warmup} warm-up requests")
    return asyncio.run(_run(url, per_connection, warmup))
