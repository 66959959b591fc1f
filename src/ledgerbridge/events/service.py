"""Appending to the event log, inside the caller's transaction (so it commits with the change)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ledgerbridge.events.models import Event


def append(session: Session, tenant_id: str, type: str, subject: str, **data: Any) -> Event:
    event = Event(tenant_id=tenant_id, type=type, subject=subject, data=data)
    session.add(event)
    return event
