"""The request-body cap, on a bare ASGI app: refused from Content-Length, and from the bytes
counted when there is none (chunked) — the app never sees more than the limit."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, Request

from api.errors import install_error_handlers
from api.limits import RequestBodyLimit

LIMIT = 1000
pytestmark = pytest.mark.anyio


def make_app() -> tuple[FastAPI, list[int]]:
    app = FastAPI()
    install_error_handlers(app)
    seen: list[int] = []

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            seen.append(size)
        return {"bytes": size}

    @app.post("/json")
    async def parse(payload: dict[str, str]) -> dict[str, int]:
        return {"keys": len(payload)}

    app.add_middleware(RequestBodyLimit, limit_for=lambda scope: LIMIT)
    return app, seen


async def chunks(n: int, size: int = 100) -> AsyncIterator[bytes]:
    for _ in range(n):
        yield b"x" * size


@pytest.mark.parametrize("path", ["/echo", "/json"])
async def test_bodies_past_the_limit_are_413_json(path: str) -> None:
    app, seen = make_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        small = await client.post("/echo", content=b"x" * LIMIT)
        assert small.status_code == 200 and small.json() == {"bytes": LIMIT}
        seen.clear()

        declared = await client.post(path, content=b"x" * (LIMIT + 1))
        assert declared.status_code == 413
        assert (
            declared.json()["error"]["code"] == "payload_too_large"
            and str(LIMIT) in declared.json()["error"]["message"]
        )
        assert seen == []  # refused before the handler read a byte

        streamed = await client.post(path, content=chunks(50))  # no Content-Length
        assert streamed.status_code == 413, streamed.text
        assert streamed.json()["error"]["code"] == "payload_too_large"
        assert all(size <= LIMIT for size in seen)


async def test_a_lying_content_length_is_not_trusted() -> None:
    app, seen = make_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        lying = await client.post("/echo", content=chunks(50), headers={"Content-Length": "10"})
        assert lying.status_code == 413 and all(size <= LIMIT for size in seen)
        bogus = await client.post("/echo", content=b"x", headers={"Content-Length": "ten"})
        assert bogus.status_code == 400
