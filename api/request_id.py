"""Every response carries `X-Request-ID`: the client's own when it sent a sane one, else a new one.

The SDK puts it on its errors (APIStatusError.request_id), so a user can quote it and an operator
can find the request in a proxy's or the API's access log. A pure ASGI middleware: it only adds a
header to the response start, so streams (SSE) pass through untouched.
"""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
# An incoming id is echoed only when it is short and plain: it goes into logs and headers verbatim.
SANE = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope["headers"]).get(HEADER)
        request_id = sent if sent is not None and SANE.match(sent) else uuid.uuid4().hex.encode()
        scope.setdefault("state", {})["request_id"] = request_id.decode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (HEADER, request_id)]
            await send(message)

        await self.app(scope, receive, send_with_id)


def install_request_id(app: FastAPI) -> None:
    app.add_middleware(RequestId)  # added last, so it is the outermost: every response, errors included
