"""Appending to the event log, inside the caller's transaction (so it commits with the
change), and pruning it past its retention period."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledgerbridge.db.engine import Database
from ledgerbridge.db.retention import delete_in_batches
from ledgerbridge.events.models import Event


def append(session: Session, tenant_id: str, type: str, subject: str, **data: Any) -> Event:
    event = Event(tenant_id=tenant_id, type=type, subject=subject, data=data)
    session.add(event)
    return event


def prune(db: Database, older_than: timedelta, now: datetime) -> int:
    """Delete events written before ``now - older_than``, in batches. The newest event of
    all is kept: SQLite would hand its id out again, and a reader holding it as its
    cursor would then skip the new event."""
    with db.system(read_only=True) as session:
        newest = session.scalar(select(func.max(Event.id)))
    if newest is None:
        return 0
    return delete_in_batches(db, Event, Event.created_at < now - older_than, Event.id < newest)
