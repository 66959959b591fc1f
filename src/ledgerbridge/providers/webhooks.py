"""What every provider's webhook module offers: a signature check over the raw body and a
parser from the verified body to notices (which account changed which object type).

Nothing here touches the database; ``ledgerbridge.inbound`` maps notices to connections.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

MAX_EVENTS = 1000  # a batch with more is refused whole
MAX_TEXT = 256  # longest id, name or date taken from a payload


class InvalidPayload(ValueError):
    """A correctly signed body that is not the provider's format (the value is never echoed)."""


@dataclass(frozen=True)
class Notice:
    """One provider event: ``account_id`` (tenant id, realm id, domain prefix) changed an
    object of ``object_type`` (the pull module's name); ``key`` identifies the event, so a
    provider's retry of it is recognised."""

    account_id: str
    object_type: str
    key: str


def hmac_sha256(key: str, body: bytes) -> bytes:
    return hmac.new(key.encode(), body, hashlib.sha256).digest()


def matches_base64(expected: bytes, given: str | None) -> bool:
    """Whether the header value ``given`` is ``expected`` in base64 (constant time)."""
    if not given:
        return False
    return hmac.compare_digest(base64.b64encode(expected), given.strip().encode())


def event_key(*parts: object) -> str:
    """A stable key from the fields that identify an event."""
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()


def load_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidPayload("the body is not JSON") from None


def text(value: object, what: str) -> str:
    """A short string field; anything else refuses the payload."""
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise InvalidPayload(f"{what} is missing or not a short string")
    return value


def items(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidPayload(f"{what} is not a list")
    if len(value) > MAX_EVENTS:
        raise InvalidPayload(f"{what} holds more than {MAX_EVENTS} events")
    return value


def mapping(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{what} is not an object")
    return value
