"""Lightspeed's error answers as :class:`ProviderError`.

API 2.0 answers ``{"error": "<text>"}`` (401 "Access token is not valid", 403, 404);
validation failures (422) add ``details`` by field, a 429 adds ``message``, and the token
endpoint uses OAuth's ``error_description``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ledgerbridge.providers.pulling import ProviderError


def raise_for_error(response: httpx.Response) -> None:
    """Return quietly on 2xx; otherwise raise ``ProviderError`` with Lightspeed's own words."""
    if response.is_success:
        return
    body = _json_or_none(response)
    if isinstance(body, dict) and body.get("error"):
        raise ProviderError(response.status_code, str(body["error"]), _details(body))
    text = response.text.strip()
    raise ProviderError(
        response.status_code,
        response.reason_phrase or f"HTTP {response.status_code}",
        [text[:500]] if text else [],
    )


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _details(body: dict[str, Any]) -> list[str]:
    details = [str(body[key]) for key in ("message", "error_description") if body.get(key)]
    extra = body.get("details")
    if isinstance(extra, dict):
        details += [f"{field}: {problem}" for field, problem in extra.items()]
    elif isinstance(extra, list):
        details += [str(problem) for problem in extra]
    elif extra:
        details.append(str(extra))
    return details
