"""Routes: the audit log (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from ledgerbridge.audit.models import ProviderCall
from ledgerbridge.pagination import Cursor, Limit, Page, page_of
from ledgerbridge.routing import AuditAdmin
from ledgerbridge.schemas import FromRow
from ledgerbridge.security.principal import TenantSession

router = APIRouter(tags=["audit"])


class ProviderCallOut(FromRow):
    id: str
    connection_id: str | None
    entity_type: str | None
    entity_id: str | None
    operation_id: str | None
    attempt: int
    method: str
    path: str
    request_body: str | None
    response_body: str | None
    status: int | None
    error: str | None
    duration_ms: int
    provider_request_id: str | None
    created_at: datetime


@router.get("/v1/audit-log", response_model=Page[ProviderCallOut])
def list_provider_calls(
    _: AuditAdmin,
    session: TenantSession,
    entity_id: Annotated[str | None, Query(max_length=128)] = None,
    operation_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    connection_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ProviderCallOut]:
    query = select(ProviderCall)
    if entity_id is not None:
        query = query.where(ProviderCall.entity_id == entity_id)
    if operation_id is not None:
        query = query.where(ProviderCall.operation_id == operation_id)
    if connection_id is not None:
        query = query.where(ProviderCall.connection_id == connection_id)
    if status is not None:
        query = query.where(ProviderCall.status == status)
    return page_of(session, query, limit, cursor, ProviderCallOut.of)
