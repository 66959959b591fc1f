"""The one error shape: ``{"error", "message", "details", "trace_id"}`` for every failure."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, TypeVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledgerbridge.observability.logging import redact
from ledgerbridge.observability.tracing import current_trace_id

log = structlog.get_logger(__name__)
T = TypeVar("T")


class ApiError(Exception):
    """An error the client can act on, answered as ``status`` in the one error shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: str = Field(description="A stable, machine-readable code, e.g. `not_found`.")
    message: str = Field(description="What went wrong and what to do about it.")
    details: Any = Field(None, description="Structured detail, e.g. each validation error.")
    trace_id: str | None = Field(None, description="Also in the `X-Trace-Id` header and logs.")


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
_DESCRIPTIONS = {
    413: "Request Entity Too Large: the body is larger than this route accepts",
    429: "Too Many Requests: slow down; Retry-After says for how long",
    503: "Service Unavailable: overloaded or a dependency is down; Retry-After says when to retry",
}


def _error(status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "model": ErrorBody,
        "description": _DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
    }
    if status in (429, 503):
        answer["headers"] = RETRY_AFTER
    return answer


# Every route can answer these (authentication, validation, limits, overload), in the one shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: _error(status) for status in (400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 503)
}
# Routes that call a provider while the client waits: its failure is a 502.
PROVIDER_RESPONSES: dict[int | str, dict[str, Any]] = {
    502: {"model": ErrorBody, "description": "Bad Gateway: the provider failed; try again"}
}
# Routes that answer ``?format=csv`` with a file.
CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON by default; with `format=csv`, every row as a CSV file.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def existing(row: T | None, what: str) -> T:
    """``row``, or a 404 naming ``what`` when there is none."""
    if row is None:
        raise not_found(what)
    return row


def conflict(message: str, details: Any = None) -> ApiError:
    return ApiError(409, "conflict", message, details)


def error_response(error: ApiError) -> JSONResponse:
    body = {
        "error": error.code,
        "message": error.message,
        "details": error.details,
        "trace_id": current_trace_id(),
    }
    return JSONResponse(body, status_code=error.status, headers=error.headers)


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    502: "provider_unavailable",
    503: "unavailable",
}


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Echo where and why, never the submitted value: it may be a secret.
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"])
        return error_response(
            ApiError(422, "validation_error", f"{where}: {first['msg']}", details)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers) if exc.headers else None
        return error_response(ApiError(exc.status_code, code, message, headers=headers))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "unhandled error",
            path=request.url.path,
            error_type=type(exc).__name__,
            error=redact(str(exc)),
            exc_info=exc,
        )
        return error_response(
            ApiError(500, "internal_error", "an unexpected error occurred; see the logs")
        )
