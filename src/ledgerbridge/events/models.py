"""The event log table.

``xid`` is the writing transaction's id on PostgreSQL (``pg_current_xact_id()``, set by
the column's server default) and 0 on SQLite; with ``id`` it is the event's position in
the feed (see ``events/feed.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, FetchedValue, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ledgerbridge.db.base import Base, BigId, TenantOwned, utcnow


class Event(TenantOwned, Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_feed", "tenant_id", "xid", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(128))  # indexed first in ix_events_feed
    type: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))  # e.g. "connection:12"
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    xid: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue())
