"""Canonical JSON for provider payloads: what is stored and what is hashed, made once.

Keys sorted, no spaces, numbers exactly as parsed (providers' JSON is read with
``Decimal`` for every number with a fraction, and written back digit for digit).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import orjson
import simplejson

_OPTIONS = orjson.OPT_SORT_KEYS


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))  # the number's own digits, unquoted
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode(payload: Any) -> bytes:
    try:
        return orjson.dumps(payload, default=_exact, option=_OPTIONS)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: the same text, slower
        text: str = simplejson.dumps(
            payload, use_decimal=True, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return text.encode()


def dumps(payload: Any) -> str:
    """Canonical JSON with exact decimals."""
    return encode(payload).decode()


def dumps_as_is(value: Any) -> str:
    """JSON with exact decimals, keys in the order given (a unified record's ``data``)."""
    try:
        return orjson.dumps(value, default=_exact).decode()
    except orjson.JSONEncodeError:
        text: str = simplejson.dumps(
            value, use_decimal=True, separators=(",", ":"), ensure_ascii=False
        )
        return text


def encoded(payload: Any) -> tuple[str, str]:
    """The canonical text and its SHA-256, from one encoding."""
    data = encode(payload)
    return data.decode(), hashlib.sha256(data).hexdigest()


def loads(text: str | bytes) -> Any:
    """Stored JSON back, numbers with a fraction as ``Decimal``."""
    return simplejson.loads(text, use_decimal=True)
