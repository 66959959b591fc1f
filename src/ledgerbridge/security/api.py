"""Routes: API-key management (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select

from ledgerbridge.errors import ApiError, not_found
from ledgerbridge.pagination import Cursor, Limit, Page, id_page
from ledgerbridge.security import apikeys
from ledgerbridge.security.models import ApiKey
from ledgerbridge.security.principal import Principal, TenantSession, requires
from ledgerbridge.security.roles import Role, Scope
from ledgerbridge.security.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from ledgerbridge.services import Services, services

router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"])
Admin = Annotated[Principal, Depends(requires(Role.admin, Scope.api_keys))]
KeyId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.post("", status_code=201, response_model=ApiKeyCreated)
def create_api_key(
    body: ApiKeyCreate,
    principal: Admin,
    session: TenantSession,
    svc: Annotated[Services, Depends(services)],
) -> ApiKeyCreated:
    if not principal.role.allows(body.role):
        raise ApiError(403, "forbidden", "a key cannot have a higher role than its creator")
    created = apikeys.create(
        session,
        secret_key=svc.secret_key,
        tenant_id=principal.tenant_id,
        name=body.name,
        role=body.role,
        scopes=body.scopes,
        created_by=principal.subject,
    )
    return ApiKeyCreated(**ApiKeyOut.of(created.row).model_dump(), key=created.key)


@router.get("", response_model=Page[ApiKeyOut])
def list_api_keys(
    _: Admin,
    session: TenantSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    include_revoked: bool = False,
) -> Page[ApiKeyOut]:
    query = select(ApiKey)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    rows, next_cursor = id_page(session, query, limit, cursor)
    return Page(data=[ApiKeyOut.of(r) for r in rows], next_cursor=next_cursor)


@router.delete("/{key_id}", status_code=204)
def revoke_api_key(key_id: KeyId, _: Admin, session: TenantSession) -> None:
    if apikeys.revoke(session, key_id) is None:
        raise not_found("API key")
