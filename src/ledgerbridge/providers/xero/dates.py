"""Xero's dates: ``/Date(1439434356790+0000)/`` (epoch ms, optional offset) or ISO 8601."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

_MS_DATE = re.compile(r"^/Date\((-?\d+)(?:([+-])(\d{2})(\d{2}))?\)/$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_datetime(value: str) -> datetime:
    """A Xero timestamp as an aware datetime (in the offset Xero gave, UTC when none)."""
    found = _MS_DATE.match(value)
    if found is None:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    ms, sign, hours, minutes = found.groups()
    moment = _EPOCH + timedelta(milliseconds=int(ms))
    if sign is None:
        return moment
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    return moment.astimezone(timezone(-offset if sign == "-" else offset))


def parse_utc(value: str) -> datetime:
    """``UpdatedDateUTC`` and the like, in UTC."""
    return parse_datetime(value).astimezone(UTC)


def parse_date(value: str) -> date:
    """A document date: Xero sends the day's midnight, in the organisation's offset if any."""
    return parse_datetime(value).date()


def iso(moment: datetime) -> str:
    """UTC ISO 8601 to the millisecond, as ``If-Modified-Since`` takes it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")
