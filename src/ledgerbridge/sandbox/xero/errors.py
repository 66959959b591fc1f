"""Xero's answers, in Xero's shapes: envelopes and errors."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from starlette.responses import Response

from ledgerbridge.sandbox.xero.dates import ms_date

Record = dict[str, Any]


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def envelope(
    key: str,
    records: list[Record],
    now_ms: int,
    provider_name: str,
    pagination: dict[str, int] | None = None,
) -> dict[str, Any]:
    """``{Id, Status, ProviderName, DateTimeUTC, [pagination], <key>: [...]}``."""
    body: dict[str, Any] = {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": provider_name,
        "DateTimeUTC": ms_date(now_ms),
    }
    if pagination is not None:
        body["pagination"] = pagination
    body[key] = records
    return body


def problem(status: int, title: str, detail: str) -> Response:
    """The problem-details shape of Xero's 401, 403 and 404 answers."""
    body: dict[str, object] = {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return json_response(body, status, headers)


def unauthorized(detail: str = "AuthenticationUnsuccessful") -> Response:
    return problem(401, "Unauthorized", detail)


def forbidden() -> Response:
    return problem(403, "Forbidden", "AuthenticationUnsuccessful")


def not_found() -> Response:
    return problem(404, "Not Found", "The resource you're looking for cannot be found")


def validation_exception(elements: list[Record]) -> Response:
    return json_response(
        {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": elements,
        },
        400,
    )


def bad_request(number: int, kind: str, message: str) -> Response:
    """Other 400s: ``QueryParseException`` (16), ``PostDataInvalidException`` (14), ..."""
    return json_response({"ErrorNumber": number, "Type": kind, "Message": message}, 400)
