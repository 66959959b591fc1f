"""Routes: API-key management (admin).

No privilege grows through these routes: a caller creates only keys whose role is at most
its own, whose scopes are among its own (a scoped caller cannot create an unscoped key)
and, when the caller is itself a key that expires, that expire no later than it does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select

from ledgerbridge.db.base import utcnow
from ledgerbridge.errors import ApiError, existing, not_found
from ledgerbridge.pagination import Cursor, Limit, Page, page_of
from ledgerbridge.schemas import Id
from ledgerbridge.security import apikeys
from ledgerbridge.security.models import ApiKey
from ledgerbridge.security.principal import Gate, Principal, TenantSession, gate, requires
from ledgerbridge.security.roles import Role, Scope
from ledgerbridge.security.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut

router = APIRouter(prefix="/v1/api-keys", tags=["api-keys"])
ApiKeysAdmin = Annotated[Principal, Depends(requires(Role.admin, Scope.api_keys))]


def _forbidden(message: str) -> ApiError:
    return ApiError(403, "forbidden", message)


def check_within(
    principal: Principal, role: Role, scopes: list[Scope], expires_at: datetime | None
) -> None:
    """Refuse a key wider than its creator: role, scopes, or lifetime."""
    if not principal.role.allows(role):
        raise _forbidden("a key cannot have a higher role than its creator")
    if principal.scopes is not None:
        if not scopes:
            raise _forbidden(
                "a scoped caller cannot create an unscoped key: list scopes among "
                + ", ".join(sorted(principal.scopes))
            )
        beyond = sorted(set(scopes) - principal.scopes)
        if beyond:
            raise _forbidden(f"a key cannot have scopes its creator lacks: {', '.join(beyond)}")
    limit = principal.expires_at
    if limit is not None and (expires_at is None or expires_at > limit):
        raise _forbidden(
            "a key cannot outlive its creator: expires_at must be at most " + limit.isoformat()
        )


def _expiry(body: ApiKeyCreate) -> datetime | None:
    if body.expires_in_days is not None:
        return utcnow() + timedelta(days=body.expires_in_days)
    if body.expires_at is not None and body.expires_at <= utcnow():
        raise ApiError(422, "validation_error", "expires_at must be in the future")
    return body.expires_at


@router.post("", status_code=201, response_model=ApiKeyCreated)
def create_api_key(
    body: ApiKeyCreate,
    principal: ApiKeysAdmin,
    session: TenantSession,
    found: Annotated[Gate, Depends(gate)],
) -> ApiKeyCreated:
    expires_at = _expiry(body)
    check_within(principal, body.role, body.scopes, expires_at)
    created = apikeys.create(
        session,
        secret_key=found.secret_key,
        tenant_id=principal.tenant_id,
        name=body.name,
        role=body.role,
        scopes=body.scopes,
        created_by=principal.subject,
        expires_at=expires_at,
    )
    return ApiKeyCreated.of(created.row, key=created.key)


@router.get("", response_model=Page[ApiKeyOut])
def list_api_keys(
    _: ApiKeysAdmin,
    session: TenantSession,
    limit: Limit = 50,
    cursor: Cursor = None,
    include_revoked: bool = False,
) -> Page[ApiKeyOut]:
    query = select(ApiKey)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return page_of(session, query, limit, cursor, ApiKeyOut.of)


@router.get("/{key_id}", response_model=ApiKeyOut)
def get_api_key(key_id: Id, _: ApiKeysAdmin, session: TenantSession) -> ApiKeyOut:
    row = existing(session.get(ApiKey, key_id), "API key")
    return ApiKeyOut.of(row)


@router.delete("/{key_id}", status_code=204)
def revoke_api_key(key_id: Id, _: ApiKeysAdmin, session: TenantSession) -> None:
    if apikeys.revoke(session, key_id) is None:
        raise not_found("API key")
