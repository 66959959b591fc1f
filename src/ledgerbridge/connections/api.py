"""Routes: connect flows, connections, disconnect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from ledgerbridge.connections import service
from ledgerbridge.connections.models import Connection, ConnectionStatus, OAuthGrant
from ledgerbridge.connections.schemas import (
    AuthorizeRequest,
    AuthorizeResponse,
    ConnectionOut,
    ConnectResult,
    ManualConnect,
)
from ledgerbridge.errors import PROVIDER_RESPONSES, ApiError, not_found
from ledgerbridge.pagination import Cursor, Limit, Page, id_page
from ledgerbridge.providers import Provider
from ledgerbridge.security.principal import Principal, TenantSession, requires
from ledgerbridge.security.roles import Role, Scope
from ledgerbridge.services import Services, services

router = APIRouter(tags=["connections"])
Admin = Annotated[Principal, Depends(requires(Role.admin, Scope.connections))]
Viewer = Annotated[Principal, Depends(requires(Role.viewer, Scope.connections))]
Svc = Annotated[Services, Depends(services)]
ConnectionId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ProviderName = Annotated[str, Path(max_length=32, description="xero, quickbooks or lightspeed")]


def _provider(name: str) -> Provider:
    try:
        return Provider(name)
    except ValueError:
        raise not_found(f"provider {name[:32]!r}") from None


def _out(session: TenantSession, rows: list[Connection]) -> list[ConnectionOut]:
    grant_ids = {r.grant_id for r in rows if r.grant_id}
    grants = (
        {g.id: g for g in session.scalars(select(OAuthGrant).where(OAuthGrant.id.in_(grant_ids)))}
        if grant_ids
        else {}
    )
    return [ConnectionOut.of(r, grants.get(r.grant_id) if r.grant_id else None) for r in rows]


@router.post("/v1/connections/{provider}/authorize", response_model=AuthorizeResponse)
def authorize_connection(
    provider: ProviderName, body: AuthorizeRequest, principal: Admin, svc: Svc
) -> AuthorizeResponse:
    started = service.start_authorization(
        svc.db,
        svc.vault,
        svc.settings,
        tenant_id=principal.tenant_id,
        user=principal.subject,
        provider=_provider(provider),
        redirect_after=str(body.redirect_after) if body.redirect_after else None,
    )
    return AuthorizeResponse(
        authorize_url=started.authorize_url, state=started.state, expires_at=started.expires_at
    )


@router.get(
    "/v1/oauth/{provider}/callback", response_model=ConnectResult, responses=PROVIDER_RESPONSES
)
def complete_authorization(
    provider: ProviderName,
    svc: Svc,
    state: Annotated[str, Query(min_length=1, max_length=512)],
    code: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    realm_id: Annotated[str | None, Query(alias="realmId", max_length=128)] = None,
    domain_prefix: Annotated[str | None, Query(max_length=128)] = None,
) -> ConnectResult | RedirectResponse:
    """Where the provider sends the user's browser back (no credentials: the state binds it)."""
    chosen = _provider(provider)
    if error or not code:
        raise ApiError(
            400, "authorization_denied", f"{chosen.value} answered: {error or 'no code'}"
        )
    connected = service.complete_callback(
        svc.db,
        svc.vault,
        svc.settings,
        provider=chosen,
        code=code,
        state=state,
        account_hint=realm_id or domain_prefix,
    )
    if connected.redirect_after:
        return RedirectResponse(connected.redirect_after, status_code=303)
    with svc.db.tenant(connected.tenant_id) as session:
        rows = list(
            session.scalars(select(Connection).where(Connection.id.in_(connected.connection_ids)))
        )
        return ConnectResult(connections=_out(session, rows))


@router.post(
    "/v1/connections/{provider}/connect",
    response_model=ConnectResult,
    status_code=201,
    responses=PROVIDER_RESPONSES,
)
def connect_with_code(
    provider: ProviderName, body: ManualConnect, principal: Admin, svc: Svc
) -> ConnectResult:
    ids = service.connect_with_code(
        svc.db,
        svc.vault,
        svc.settings,
        tenant_id=principal.tenant_id,
        user=principal.subject,
        provider=_provider(provider),
        code=body.authorization_code,
        redirect_uri=str(body.redirect_uri),
        account_hint=body.realm_id or body.domain_prefix,
    )
    with svc.db.tenant(principal.tenant_id) as session:
        rows = list(session.scalars(select(Connection).where(Connection.id.in_(ids))))
        return ConnectResult(connections=_out(session, rows))


@router.get("/v1/connections", response_model=Page[ConnectionOut])
def list_connections(
    _: Viewer,
    session: TenantSession,
    provider: Provider | None = None,
    status: ConnectionStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ConnectionOut]:
    query = select(Connection)
    if provider:
        query = query.where(Connection.provider == provider.value)
    if status:
        query = query.where(Connection.status == status.value)
    rows, next_cursor = id_page(session, query, limit, cursor)
    return Page(data=_out(session, rows), next_cursor=next_cursor)


@router.get("/v1/connections/{connection_id}", response_model=ConnectionOut)
def get_connection(connection_id: ConnectionId, _: Viewer, session: TenantSession) -> ConnectionOut:
    row = session.get(Connection, connection_id)
    if row is None:
        raise not_found("connection")
    return _out(session, [row])[0]


@router.delete("/v1/connections/{connection_id}", response_model=ConnectionOut)
def disconnect_connection(connection_id: ConnectionId, principal: Admin, svc: Svc) -> ConnectionOut:
    row = service.disconnect(
        svc.db, svc.vault, svc.settings, tenant_id=principal.tenant_id, connection_id=connection_id
    )
    if row is None:
        raise not_found("connection")
    return ConnectionOut.of(row, None)
