"""Tables owned by push: one row per requested write."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledgerbridge.db.base import Base, BigId, SoftDeleted, TenantOwned, Timestamps


class OperationStatus(StrEnum):
    pending = "pending"
    running = "running"
    synced = "synced"
    failed = "failed"
    cancelled = "cancelled"


class Operation(SoftDeleted, TenantOwned, Timestamps, Base):
    __tablename__ = "operations"
    __table_args__ = (UniqueConstraint("tenant_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)  # the provider idempotency base
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"), index=True)
    model: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(
        String(16), default=OperationStatus.pending.value, index=True
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    retries: Mapped[int] = mapped_column(Integer, default=0)  # host-requested retries
    remote_id: Mapped[str | None] = mapped_column(String(128))
    remote_number: Mapped[str | None] = mapped_column(String(128))
    error: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[list[str] | None] = mapped_column(JSON)
    error_code: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Pending, waiting for the account's call budget (or behind one that does) until then.
    deferred_until: Mapped[datetime | None]
