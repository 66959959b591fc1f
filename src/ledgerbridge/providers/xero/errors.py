"""Xero's error answers as ``ProviderError``, with Xero's own messages.

Xero answers errors in two shapes: its API exceptions
(``{ErrorNumber, Type, Message, Elements: [{..., ValidationErrors: [{Message}]}]}``, e.g.
``ValidationException`` or ``QueryParseException``) and problem details
(``{Title, Status, Detail, ...}``) for 401, 403, 404, 429 and server errors. Anything
else (an HTML or empty body from a proxy) is reported by its status and text.
"""

from __future__ import annotations

from typing import Any

import httpx

from ledgerbridge.providers.pulling import ProviderError


def raise_for_error(response: httpx.Response) -> None:
    """Return when the response succeeded, else raise ``ProviderError``."""
    if response.is_success:
        return
    body = _json(response)
    status = response.status_code
    if "Message" in body or "ErrorNumber" in body:
        raise ProviderError(
            status,
            str(body.get("Message") or body.get("Type") or response.reason_phrase),
            _validation_messages(body.get("Elements")),
            code=body.get("Type") or _text(body.get("ErrorNumber")),
        )
    if "Title" in body or "Detail" in body:
        title = _text(body.get("Title"))
        detail = _text(body.get("Detail"))
        raise ProviderError(status, detail or title or response.reason_phrase, code=title)
    if "error" in body:  # the identity service's OAuth errors
        raise ProviderError(status, str(body["error"]), code=str(body["error"]))
    raise ProviderError(status, response.text.strip()[:500] or response.reason_phrase)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _validation_messages(elements: object) -> list[str]:
    """Every ``ValidationErrors[].Message`` of every element, in order."""
    if not isinstance(elements, list):
        return []
    return [
        str(error["Message"])
        for element in elements
        if isinstance(element, dict)
        for error in element.get("ValidationErrors") or []
        if isinstance(error, dict) and error.get("Message")
    ]


def _text(value: object) -> str | None:
    return None if value is None or value == "" else str(value)
