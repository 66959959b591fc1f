"""The table owned by incoming provider webhooks.

A ``ProviderNotification`` is one provider event mapped to one connection: stored before
the provider is answered, so nothing is lost once it has been acknowledged; unique per
connection and event key, so a provider's resend is dropped; claimed (``sync_run_id``,
``claimed_at``) by the sync it was coalesced into.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledgerbridge.db.base import Base, BigId, TenantOwned, utcnow


class ProviderNotification(TenantOwned, Base):
    __tablename__ = "provider_notifications"
    __table_args__ = (
        UniqueConstraint("connection_id", "event_key"),
        Index("ix_provider_notifications_pending", "claimed_at", "connection_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    provider: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    sync_run_id: Mapped[int | None] = mapped_column(BigInteger)
