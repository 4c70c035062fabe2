"""Errors as JSON `{"error": {"code", "message", "details"}}` with the right status.

A 5xx is a bug, except 503: the database or the broker is down, and the client
should retry later.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy.exc import OperationalError as DatabaseError
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(
        self, status_code: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code, self.code, self.message, self.details = status_code, code, message, details
        self.headers = headers


def not_found(what: str, ident: str) -> ApiError:
    # another principal's row is "not found" too: never confirm that it exists
    return ApiError(404, "not_found", f"{what} {ident!r} not found")


def error_response(
    status_code: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(body, status_code=status_code, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    # ("body", "optimizer", "name") → "optimizer.name"; query and header keep their prefix
    parts = [str(p) for p in loc]
    return ".".join(parts[1:] if parts and parts[0] == "body" else parts) or "body"


def validation_details(errors: Any) -> list[dict[str, Any]]:
    return [
        {"field": _field(tuple(e.get("loc", ()))), "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in errors
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = validation_details(exc.errors())
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        return error_response(422, "invalid_request", message, details)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail), None, getattr(exc, "headers", None))

    @app.exception_handler(DatabaseError)
    async def _database_down(_: Request, exc: DatabaseError) -> JSONResponse:
        # OperationalError: the connection failed or was lost (or SQLite stayed locked)
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return error_response(
            503, "database_unavailable", "the database is unavailable; retry later", headers={"Retry-After": "2"}
        )

    @app.exception_handler(BrokerError)
    async def _broker_down(_: Request, exc: BrokerError) -> JSONResponse:
        log.warning("broker unavailable: %s", exc)
        return error_response(
            503, "broker_unavailable", "the job queue is unavailable; retry later", headers={"Retry-After": "2"}
        )

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error")
