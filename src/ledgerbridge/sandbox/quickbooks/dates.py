"""QuickBooks' date-times: ISO 8601 in the company's own UTC offset, to the second.

Formatting is on every record's path (seeding 100,000 of them included), so it is done
with integer arithmetic and a cache of day strings rather than through ``datetime``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

_EPOCH = date(1970, 1, 1)
DAY_SECONDS = 86_400


def company_zone(offset_minutes: int) -> timezone:
    return timezone(timedelta(minutes=offset_minutes))


@lru_cache(maxsize=8192)
def _day(day_number: int) -> str:
    return (_EPOCH + timedelta(days=day_number)).isoformat()


@lru_cache(maxsize=64)
def _suffix(offset_minutes: int) -> str:
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def format_time(ms: int, offset_minutes: int) -> str:
    """``2015-07-24T10:33:39-07:00``, as entities' ``MetaData`` carry it."""
    day, seconds = divmod(ms // 1000 + offset_minutes * 60, DAY_SECONDS)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{_day(day)}T{hours:02d}:{minutes:02d}:{seconds:02d}{_suffix(offset_minutes)}"


def format_response_time(ms: int, offset_minutes: int) -> str:
    """``2015-07-24T10:33:39.123-07:00``: the ``time`` of every response has milliseconds."""
    moment = datetime.fromtimestamp(ms / 1000, company_zone(offset_minutes))
    return moment.isoformat(timespec="milliseconds")


def format_date(ms: int, offset_minutes: int) -> str:
    """The company's local date of an instant, as ``TxnDate`` carries it."""
    return _day((ms // 1000 + offset_minutes * 60) // DAY_SECONDS)


def parse_time(text: str, offset_minutes: int) -> int:
    """Epoch seconds of an ISO date or date-time; without an offset it is company time.

    QuickBooks compares times to the second, so any fraction is dropped.
    Raises ``ValueError`` for anything else.
    """
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=company_zone(offset_minutes))
    return int(moment.astimezone(UTC).timestamp() // 1)
