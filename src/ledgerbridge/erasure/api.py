"""Routes: erase the caller's tenant data (owner only), and read the erasure's report."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from ledgerbridge import durable
from ledgerbridge.erasure import service
from ledgerbridge.erasure.models import ErasureStatus, TenantErasure
from ledgerbridge.errors import ApiError, existing
from ledgerbridge.routing import Svc
from ledgerbridge.schemas import FromRow, Id
from ledgerbridge.security.principal import Principal, TenantSession, authenticate
from ledgerbridge.security.roles import Role

router = APIRouter(tags=["tenant data"])


def _owner(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
    """The owner role, through a JWT or an unscoped API key (no scope covers erasure)."""
    if not principal.role.allows(Role.owner):
        raise ApiError(403, "forbidden", "erasing the tenant's data needs the owner role")
    if principal.scopes is not None:
        raise ApiError(403, "forbidden", "erasing the tenant's data needs an unscoped API key")
    return principal


Owner = Annotated[Principal, Depends(_owner)]


class ErasureOut(FromRow):
    id: str
    status: ErasureStatus
    requested_by: str
    counts: dict[str, int] = Field(
        description="Rows removed per table so far (and connections_disconnected)."
    )
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@router.delete("/v1/tenant-data", status_code=202, response_model=ErasureOut)
def erase_tenant_data(principal: Owner, svc: Svc, response: Response) -> ErasureOut:
    """Erase the tenant's mirrored data (raw objects, records, sync state and runs, events),
    statements and their lines, reconciliation runs and results, push operations and the
    audit log, after disconnecting every connection (tokens revoked and wiped). Durable:
    answered at once; a second request while one runs returns the same erasure."""
    erasure = service.request(svc.db, principal.tenant_id, principal.subject)
    location = f"/v1/tenant-data/erasures/{erasure.id}"
    durable.accept(response, location, lambda: service.enqueue(svc, erasure.id))
    return ErasureOut.of(erasure)


@router.get("/v1/tenant-data/erasures/{erasure_id}", response_model=ErasureOut)
def get_erasure(erasure_id: Id, _: Owner, session: TenantSession) -> ErasureOut:
    row = existing(session.get(TenantErasure, erasure_id), "erasure")
    return ErasureOut.of(row)
