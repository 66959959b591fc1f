"""Reading a provider's answer: checked, not trusted.

A 200 is not proof of an answer. A body that is not a JSON object, or a listing without
the collection that was asked for, is a ``BadAnswer`` (a provider error), never "there
are no objects": read as an empty list, a missing ``Items`` would make an id sweep mark
every item deleted. ``get_checked`` asks again a few times (with backoff) before it gives
up; the transport has already capped the body's size and the call's duration
(``connections/http.py``).

JSON numbers with a fraction are read as ``Decimal``, so money is never rounded through a
float on its way to the mappers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import stamina

from ledgerbridge.providers.pulling import ProviderError

ANSWER_ATTEMPTS = 3

T = TypeVar("T")
# Raises the provider's own error for an answer that is one, given the parsed body (None
# when the body is not JSON); returns quietly otherwise.
ErrorCheck = Callable[[httpx.Response, Any], None]


class BadAnswer(ProviderError):
    """A successful status whose body is not the answer asked for."""


def exact_json(content: bytes) -> Any:
    """The parsed body (fractions as ``Decimal``), or None when it is not JSON."""
    try:
        return json.loads(content, parse_float=Decimal)
    except ValueError:  # not JSON (UnicodeDecodeError is a ValueError too)
        return None


def read_json(response: httpx.Response, check: ErrorCheck, provider: str) -> dict[str, Any]:
    """The JSON object of a successful answer, parsed once; the provider's error, or
    ``BadAnswer`` when a success carries no JSON object."""
    body = exact_json(response.content)
    check(response, body)
    if not isinstance(body, dict):
        text = response.text.strip()[:200]
        raise BadAnswer(response.status_code, f"{provider} answered without a JSON object", [text])
    return body


def require(body: dict[str, Any], key: str, kind: type, what: str) -> Any:
    """``body[key]``, which must be there and be a ``kind`` (list or dict)."""
    value = body.get(key)
    if not isinstance(value, kind):
        found = "no" if value is None else f"a {type(value).__name__} as"
        raise BadAnswer(200, f"{what}: the answer has {found} {key!r}")
    return value


async def get_checked(
    http: httpx.AsyncClient,
    url: str,
    read: Callable[[httpx.Response], T],
    *,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> T:
    """GET ``url`` and ``read`` the answer; one ``read`` rejects as ``BadAnswer`` is asked
    for again (``ANSWER_ATTEMPTS`` in all), then raised."""
    async for attempt in stamina.retry_context(
        on=BadAnswer, attempts=ANSWER_ATTEMPTS, wait_initial=1.0, wait_max=10.0
    ):
        with attempt:
            return read(await http.get(url, params=params, headers=headers))
    raise AssertionError("unreachable: stamina returns or raises")
