"""A cap on every request body, counted on the bytes actually received.

Content-Length is checked first (a declared oversize body is refused before a byte of it is
read), but never trusted: a chunked body has none and a client can lie, so the ASGI `receive`
channel is wrapped and the request fails the moment the count passes the limit. The app never
holds more than the limit, and the multipart parser never spools more than that to disk.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response
from core.settings import get_settings

UPLOAD_PATH = "/v1/datasets"
# An upload's multipart framing (boundaries, part headers) and its small form fields
# (target, task, name) ride on top of the file: 64 KiB covers them many times over.
MULTIPART_SLACK_BYTES = 64 * 1024
PREDICTIONS_PATH = re.compile(r"/v1/jobs/[^/]+/predictions/?")
# Inline rows to predict on (up to trainwell.predictions.MAX_INLINE_ROWS) are numbers a client writes at
# full precision, ~20–25 bytes each: 1,000 rows of 64 features take ~1.3 MB, past the 1 MiB every other
# body gets. 8 MiB holds 1,000 rows of ~330 features; a wider table is one to upload.
INLINE_ROWS_BYTES = 8 * 1024 * 1024


class BodyTooLarge(HTTPException):
    """Raised from `receive`: an HTTPException, so FastAPI's body parsing passes it through
    and the error handlers answer 413 JSON."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")
        self.limit = limit


def body_limit(scope: Scope) -> int:
    settings = get_settings()
    if scope["method"] == "POST" and scope["path"].rstrip("/") == UPLOAD_PATH:
        return settings.max_dataset_bytes + MULTIPART_SLACK_BYTES
    if scope["method"] == "POST" and PREDICTIONS_PATH.fullmatch(scope["path"]):
        return max(settings.max_request_bytes, INLINE_ROWS_BYTES)
    return settings.max_request_bytes


class RequestBodyLimit:
    def __init__(self, app: ASGIApp, limit_for: Callable[[Scope], int] = body_limit) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(scope, receive, send, 400, "bad_request", "Content-Length is not a number", limit)
                return
            if int(declared) > limit:
                await _refuse(scope, receive, send, 413, "payload_too_large", _too_large(limit), limit)
                return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BodyTooLarge:
            # read outside FastAPI's body parsing (a streaming handler): answer here if we still can
            if started:
                raise
            await _refuse(scope, receive, send, 413, "payload_too_large", _too_large(limit), limit)


def _too_large(limit: int) -> str:
    return f"request body larger than {limit} bytes; the limit is {limit}"


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str, limit: int) -> None:
    response = error_response(status, code, message, {"limit": limit}, headers={"Connection": "close"})
    await response(scope, receive, send)


def install_body_limit(app: FastAPI) -> None:
    app.add_middleware(RequestBodyLimit)
