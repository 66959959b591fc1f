"""The erasure requests of a tenant, and what each one removed (its report)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ledgerbridge.db.base import Base, BigId, TenantOwned, utcnow


class ErasureStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


ACTIVE = "status IN ('queued', 'running')"


class TenantErasure(TenantOwned, Base):
    __tablename__ = "tenant_erasures"
    # One erasure at a time per tenant: a second request joins the one under way.
    __table_args__ = (
        Index(
            "uq_tenant_erasures_active",
            "tenant_id",
            unique=True,
            sqlite_where=text(ACTIVE),
            postgresql_where=text(ACTIVE),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=ErasureStatus.queued.value)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
