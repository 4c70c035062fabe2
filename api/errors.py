"""Errors as JSON `{"error": {"code", "message", "details"}}` with the right status.

A 5xx is a bug, except 503: the database or the broker is down, and the client
should retry later.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kombu.exceptions import OperationalError as BrokerError
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError as DatabaseError
from sqlalchemy.exc import TimeoutError as DatabasePoolTimeout
from starlette.exceptions import HTTPException

from api.openapi import documented_methods
from api.services.errors import Conflict, Invalid, NotFound, QuotaExceeded, ServiceError, TooLarge
from core.settings import get_settings
from uploads import UploadError

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


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """Every 4xx and 5xx body."""

    error: ErrorDetail


# What each error status means on this API, for the OpenAPI document.
ERROR_DESCRIPTIONS = {
    400: "a malformed request: a body that is not UTF-8 JSON (`invalid_json`, naming line and column), a broken "
    "multipart body, a cursor or Last-Event-ID this API did not send",
    401: "no API key, or an invalid or revoked one",
    404: "no such resource among yours",
    409: "the request conflicts with the resource's state",
    413: "the request body or the uploaded dataset is too large, or would take your stored bytes past "
    "TRAINWELL_MAX_STORED_BYTES",
    415: "the body is not in a media type this operation accepts (or has no Content-Type); the message names the one",
    422: "a parameter or the body is invalid; `details` names each field",
    429: "a quota is exhausted; retry after `Retry-After` seconds",
    503: "the database or the job queue is down; retry after `Retry-After` seconds",
}
_ERROR_HEADERS = {
    401: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "seconds", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "seconds", "schema": {"type": "string"}}},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for these error statuses, all with the ErrorBody model. Declaring
    422 here also replaces FastAPI's default 422, whose body is not the one this API sends."""
    return {
        status: {"model": ErrorBody, "description": ERROR_DESCRIPTIONS[status]}
        | ({"headers": _ERROR_HEADERS[status]} if status in _ERROR_HEADERS else {})
        for status in statuses
    }


# Any operation that needs an API key and touches the database.
AUTHENTICATED = error_responses(401, 422, 503)


class ApiError(Exception):
    """An error of the HTTP exchange itself (auth, media type, a cursor or event id this API did not
    send); what a use case refuses is a ServiceError instead."""

    def __init__(
        self, status_code: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code, self.code, self.message, self.details = status_code, code, message, details
        self.headers = headers


# The status of each kind of refusal a use case raises (api/services/errors.py).
SERVICE_ERROR_STATUS: dict[type[ServiceError], int] = {
    NotFound: 404,
    Conflict: 409,
    Invalid: 422,
    QuotaExceeded: 429,
    TooLarge: 413,
}


def service_error_status(exc: ServiceError) -> int:
    """Its kind's status; a refusal of no kind above is still the request's fault: 400."""
    return next((status for kind, status in SERVICE_ERROR_STATUS.items() if isinstance(exc, kind)), 400)


# Messages quote what the client sent ("job '…' not found"); a key pasted into the wrong place
# (a path, a job name, an Idempotency-Key) must not come back in them, since clients and proxies
# log error bodies. Anything shaped like a key is cut to `tw_` and 8 characters (a real key's public prefix).
_KEY_SHAPED = re.compile(r"(tw_[A-Za-z0-9_-]{8})[A-Za-z0-9_-]*")


def redact_keys(value: Any) -> Any:
    if isinstance(value, str):
        admin_key = get_settings().admin_key
        if admin_key:
            value = value.replace(admin_key, "<admin key>")
        return _KEY_SHAPED.sub(r"\1…", value)
    if isinstance(value, dict):
        return {key: redact_keys(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_keys(item) for item in value]
    return value


def error_response(
    status_code: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": redact_keys(message), "details": redact_keys(details)}}
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


def invalid_json(error: dict[str, Any], document: Any) -> JSONResponse:
    """400 `invalid_json` for a body that does not parse, naming where: FastAPI's error gives the
    character offset alone (as a 422 on `field: "44"`), the document it failed on gives line and column."""
    position = error["loc"][-1] if isinstance(error["loc"][-1], int) else 0
    reason = (error.get("ctx") or {}).get("error", "JSON decode error")
    text = document if isinstance(document, str) else ""
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    where = {"line": line, "column": column, "position": position}
    message = f"the body is not valid JSON: {reason} at line {line}, column {column} (character {position})"
    return error_response(400, "invalid_json", message, where)


def allowed_methods(request: Request, routed: str) -> list[str]:
    """Every method this path serves, for a 405's Allow. Starlette's `routed` names only those of the
    first route that matched the path, and /v1/datasets is two routes (GET, POST): the served schema
    lists them all (and `routed` those of a route outside the schema, such as /docs)."""
    methods = {method.strip() for method in routed.split(",") if method.strip()}
    return sorted(methods | documented_methods(request.app.openapi(), request.scope["path"]))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(ServiceError)
    async def _refused(_: Request, exc: ServiceError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, QuotaExceeded) else None
        return error_response(service_error_status(exc), exc.code, exc.message, exc.details, headers)

    @app.exception_handler(UploadError)
    async def _refused_upload(_: Request, exc: UploadError) -> JSONResponse:
        # the upload readers name the status themselves: 413 for any size limit, 415, 422
        return error_response(exc.status_code, exc.code, exc.message, exc.details or None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        malformed = next((e for e in exc.errors() if e.get("type") == "json_invalid"), None)
        if malformed is not None:
            return invalid_json(malformed, exc.body)
        details = validation_details(exc.errors())
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        return error_response(422, "invalid_request", message, details)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = STATUS_CODES.get(exc.status_code, "error")
        headers = getattr(exc, "headers", None) or {}
        if exc.status_code == 405:
            headers = {**headers, "Allow": ", ".join(allowed_methods(request, headers.get("Allow", "")))}
        return error_response(exc.status_code, code, str(exc.detail), None, headers or None)

    @app.exception_handler(DatabaseError)
    async def _database_down(_: Request, exc: DatabaseError) -> JSONResponse:
        # OperationalError: the connection failed or was lost (or SQLite stayed locked)
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return error_response(
            503, "database_unavailable", "the database is unavailable; retry later", headers={"Retry-After": "2"}
        )

    @app.exception_handler(DatabasePoolTimeout)
    async def _database_busy(_: Request, exc: DatabasePoolTimeout) -> JSONResponse:
        # every connection of this process's pool stayed busy for the pool timeout (store/db.py)
        log.warning("database pool exhausted: %s", exc)
        return error_response(
            503, "database_busy", "every database connection is busy; retry later", headers={"Retry-After": "1"}
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
