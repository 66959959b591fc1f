"""API shapes for operations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from ledgerbridge.push.models import OperationStatus
from ledgerbridge.schemas import FromRow


class Accepted(BaseModel):
    operation_id: str
    status: OperationStatus
    record_id: str | None


class OperationOut(FromRow):
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
