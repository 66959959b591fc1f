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


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))  # the number's own digits, unquoted
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _compact(value: Any, *, sort_keys: bool) -> bytes:
    """JSON without spaces, decimals digit for digit; keys sorted or in the order given."""
    try:
        return orjson.dumps(value, default=_exact, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits: the same text, slower
        text: str = simplejson.dumps(
            value, use_decimal=True, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False
        )
        return text.encode()


def encode(payload: Any) -> bytes:
    return _compact(payload, sort_keys=True)


def dumps(payload: Any) -> str:
    """Canonical JSON with exact decimals."""
    return encode(payload).decode()


def dumps_as_is(value: Any) -> str:
    """JSON with exact decimals, keys in the order given (a unified record's ``data``)."""
    return _compact(value, sort_keys=False).decode()


def encoded(payload: Any) -> tuple[str, str]:
    """The canonical text and its SHA-256, from one encoding."""
    data = encode(payload)
    return data.decode(), hashlib.sha256(data).hexdigest()


def loads(text: str | bytes) -> Any:
    """Stored JSON back, numbers with a fraction as ``Decimal``."""
    return simplejson.loads(text, use_decimal=True)
