"""API shapes for sync runs, sync status and unified records."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, Field

from ledgerbridge.schemas import FromRow
from ledgerbridge.sync.models import SyncRun, SyncState, SyncStatus
from ledgerbridge.sync.service import AUDIT_TRIGGER, WINDOW_TRIGGER


class SyncRequest(BaseModel):
    object_types: list[str] | None = Field(
        None, max_length=50, description="The provider's own names; every type by default."
    )
    full_resync: bool = False


class SyncAccepted(BaseModel):
    sync_run_id: str
    status: SyncStatus


class Counters(FromRow):
    fetched: int
    created: int
    updated: int
    deleted: int


class SyncRunOut(FromRow):
    id: str
    connection_id: str
    object_types: list[str]
    full_resync: bool
    trigger: str
    reason: str | None = Field(
        None,
        description="Why the engine queued this run itself (trigger window or audit), if it did.",
    )
    status: SyncStatus
    counts: Counters
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, row: SyncRun, /, **given: Any) -> Self:
        automatic = row.trigger in (WINDOW_TRIGGER, AUDIT_TRIGGER)
        return super().of(
            row, reason=row.requested_by if automatic else None, counts=Counters.of(row), **given
        )


class AuditOut(BaseModel):
    """The drift audit's latest full pass over the type (docs/sync.md, "Guarantees")."""

    last_audit_at: datetime = Field(description="When the pass that compared it started.")
    sync_run_id: str | None
    checked: int = Field(description="Objects compared with the provider's, by content.")
    drifted: int = Field(description="Objects that differed: changed, missing, or gone.")
    repaired: int = Field(description="Differences the audit repaired in the mirror.")

    @classmethod
    def of(cls, state: SyncState) -> AuditOut | None:
        if state.last_audit_at is None:
            return None
        return cls(
            last_audit_at=state.last_audit_at,
            sync_run_id=str(state.last_audit_run_id) if state.last_audit_run_id else None,
            checked=state.audit_checked,
            drifted=state.audit_drifted,
            repaired=state.audit_repaired,
        )


class SyncStateOut(FromRow):
    object_type: str
    status: SyncStatus
    sync_run_id: str | None
    started_at: datetime | None
    finished_at: datetime | None
    last_succeeded_at: datetime | None
    counts: Counters
    cursor: dict[str, Any] | None
    last_error: str | None
    audit: AuditOut | None = Field(None, description="The latest drift audit; null before one.")

    @classmethod
    def of(cls, row: SyncState, /, **given: Any) -> Self:
        return super().of(row, counts=Counters.of(row), audit=AuditOut.of(row), **given)


class SyncStatusOut(BaseModel):
    connection_id: str
    sync_interval_minutes: int
    sync_paused: bool
    object_types: list[SyncStateOut]


class ScheduleUpdate(BaseModel):
    sync_interval_minutes: int | None = Field(None, ge=1, le=24 * 60)
    sync_paused: bool | None = None


class RecordOut(FromRow):
    id: str
    model: str
    object_type: str
    connection_id: str
    remote_id: str | None  # None while a record pushed by the host app awaits its id
    remote_updated_at: datetime | None
    remote_was_deleted: bool
    data: dict[str, Any] = Field(description="The unified record; money as decimal strings.")
    remote_data: dict[str, Any] | None = Field(
        None,
        description="The provider's payload, with include_remote_data (developer role or "
        "higher; always null for viewers).",
    )
    updated_at: datetime
