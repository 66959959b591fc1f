"""Tables owned by pull sync.

``raw_objects`` keeps every provider object exactly as received; ``records`` holds the
unified record derived from it; ``sync_states`` is one row per connection and object type
(the cursor and the latest status, written together with the page they cover);
``sync_runs`` is one requested sync.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ledgerbridge.db.base import Base, BigId, SoftDeleted, TenantOwned, Timestamps, utcnow


class SyncStatus(StrEnum):
    idle = "idle"
    queued = "queued"
    syncing = "syncing"
    succeeded = "succeeded"
    failed = "failed"
    deferred = "deferred"  # waiting for the account's call budget to refill


class RawObject(TenantOwned, Base):
    __tablename__ = "raw_objects"
    __table_args__ = (UniqueConstraint("connection_id", "object_type", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    object_type: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text)  # the provider's JSON, numbers exact
    content_hash: Mapped[str] = mapped_column(String(64))
    remote_updated_at: Mapped[datetime | None]
    remote_version: Mapped[str | None] = mapped_column(String(64))
    deleted: Mapped[bool] = mapped_column(default=False)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


# The records API's filters, each answered by an index that leads with the tenant and the
# model and ends with the id the pages are ordered by (``ledgerbridge.unified.record_columns``
# fills the columns).
RECORD_FILTER_INDEXES = {
    "status": "ix_records_tenant_model_status",
    "contact_remote_id": "ix_records_tenant_model_contact",
    "business_date": "ix_records_tenant_model_business_date",
    "currency": "ix_records_tenant_model_currency",
    "remote_id": "ix_records_tenant_model_remote_id",
}


class Record(SoftDeleted, TenantOwned, Base):
    """A unified record; ``data`` is the unified model as JSON (money as decimal strings)."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("connection_id", "object_type", "remote_id"),
        Index("ix_records_connection_model_id", "connection_id", "model", "id"),
        Index("ix_records_tenant_model_id", "tenant_id", "model", "id"),
        *(
            Index(name, "tenant_id", "model", column, "id")
            for column, name in RECORD_FILTER_INDEXES.items()
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    model: Mapped[str] = mapped_column(String(32))
    object_type: Mapped[str] = mapped_column(String(64))
    # Null while a record written by the host app waits for its provider id (push).
    remote_id: Mapped[str | None] = mapped_column(String(128))
    remote_updated_at: Mapped[datetime | None]
    remote_was_deleted: Mapped[bool] = mapped_column(default=False)
    data: Mapped[str] = mapped_column(Text)
    raw_object_id: Mapped[int | None] = mapped_column(ForeignKey("raw_objects.id"))
    push_status: Mapped[str | None] = mapped_column(String(16))  # pending | synced | failed
    # Filter columns, from ``data`` by ``ledgerbridge.unified.record_columns``.
    status: Mapped[str | None] = mapped_column(String(32))
    contact_remote_id: Mapped[str | None] = mapped_column(String(200))
    business_date: Mapped[date | None]
    currency: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PullCounts:
    """When a pull began and ended, and what it fetched, created, updated and deleted: kept
    per object type (``SyncState``) and summed over a run (``SyncRun``)."""

    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    fetched: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    deleted: Mapped[int] = mapped_column(default=0)


class SyncState(PullCounts, TenantOwned, Base):
    __tablename__ = "sync_states"
    __table_args__ = (UniqueConstraint("connection_id", "object_type"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    object_type: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[dict[str, object] | None] = mapped_column(JSON)  # committed high-water mark
    resync_cursor: Mapped[dict[str, object] | None] = mapped_column(JSON)  # a full pass in flight
    status: Mapped[str] = mapped_column(String(16), default=SyncStatus.idle.value)
    sync_run_id: Mapped[int | None] = mapped_column(BigId)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_swept_at: Mapped[datetime | None]
    last_tombstones_at: Mapped[datetime | None]
    last_succeeded_at: Mapped[datetime | None]
    # The drift audit (sync/drift.py): its latest pass over the type, and running totals.
    last_audit_at: Mapped[datetime | None]
    last_audit_run_id: Mapped[int | None] = mapped_column(BigId)
    audit_checked: Mapped[int] = mapped_column(default=0)
    audit_drifted: Mapped[int] = mapped_column(default=0)
    audit_repaired: Mapped[int] = mapped_column(default=0)
    audit_checked_total: Mapped[int] = mapped_column(BigInteger, default=0)
    audit_drifted_total: Mapped[int] = mapped_column(BigInteger, default=0)
    audit_repaired_total: Mapped[int] = mapped_column(BigInteger, default=0)
    # The run whose pull first reached the end: its ``sync.completed`` event announces
    # the records that first backfill wrote (they get no ``record.*`` event each).
    backfilled_by_run_id: Mapped[int | None] = mapped_column(BigId)


class SyncRun(PullCounts, TenantOwned, Timestamps, Base):
    __tablename__ = "sync_runs"
    __table_args__ = (
        # The scheduler's questions: a connection's latest run, and runs left queued.
        Index("ix_sync_runs_connection_created", "connection_id", "created_at"),
        Index("ix_sync_runs_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id"))
    object_types: Mapped[list[str]] = mapped_column(JSON)
    full_resync: Mapped[bool] = mapped_column(default=False)
    trigger: Mapped[str] = mapped_column(String(16))  # api | schedule | webhook | window | audit
    requested_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=SyncStatus.queued.value)
    error: Mapped[str | None] = mapped_column(Text)
