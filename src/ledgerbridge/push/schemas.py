"""API shapes for operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ledgerbridge.push.models import Operation, OperationStatus


class Accepted(BaseModel):
    operation_id: str
    status: OperationStatus
    record_id: str | None


class OperationOut(BaseModel):
    id: str
    connection_id: str
    record_id: str | None
    model: str
    action: str
    status: OperationStatus
    body: dict[str, Any] | None
    remote_id: str | None
    remote_number: str | None
    error: str | None
    error_code: str | None
    error_details: list[str] | None
    retries: int
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    deferred_until: datetime | None = None  # pending: waits for the call budget until then

    @classmethod
    def of(cls, op: Operation) -> OperationOut:
        return cls(
            id=str(op.id),
            connection_id=str(op.connection_id),
            record_id=str(op.record_id) if op.record_id else None,
            model=op.model,
            action=op.action,
            status=OperationStatus(op.status),
            body=op.body,
            remote_id=op.remote_id,
            remote_number=op.remote_number,
            error=op.error,
            error_code=op.error_code,
            error_details=op.error_details,
            retries=op.retries,
            requested_by=op.requested_by,
            created_at=op.created_at,
            started_at=op.started_at,
            finished_at=op.finished_at,
            deferred_until=op.deferred_until,
        )
