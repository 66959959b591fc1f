"""Xero's date formats: ``/Date(ms+0000)/`` out; that, ``YYYY-MM-DD`` or ISO 8601 in."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
DAY_MS = 86_400_000


def ms_date(ms: int) -> str:
    """``/Date(1439434356790+0000)/``: how Xero writes every date and timestamp."""
    return f"/Date({ms}+0000)/"


def day_ms(ms: int) -> int:
    """Midnight UTC of the day ``ms`` falls in: Xero dates carry no time of day."""
    return ms - ms % DAY_MS


def ms_of(value: object) -> int:
    """Milliseconds since the epoch of a date a client sent; ValueError when unreadable."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a valid date")
    found = _MS_DATE.match(value)
    if found:
        return int(found.group(1))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not a valid date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def modified_since_ms(header: str) -> int:
    """The ``If-Modified-Since`` header: ISO 8601 (naive means UTC) or an HTTP date."""
    try:
        return ms_of(header)
    except ValueError:
        pass
    try:
        return int(parsedate_to_datetime(header).timestamp() * 1000)
    except (TypeError, ValueError):
        raise ValueError(f"If-Modified-Since {header!r} is not a valid date") from None
