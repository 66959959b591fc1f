"""Lightspeed's timestamps: ISO 8601 in UTC (``2024-05-01T09:30:00+00:00``)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(text: str | None) -> datetime | None:
    """An aware UTC datetime; ``None`` for a missing or empty value."""
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:  # older records omit the offset; Lightspeed stores UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
