"""Routes: connect flows, connections, disconnect."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from ledgerbridge.connections import revocation, service
from ledgerbridge.connections.models import Connection, ConnectionStatus, OAuthGrant
from ledgerbridge.connections.schemas import (
    AuthorizeRequest,
    AuthorizeResponse,
    ConnectionOut,
    ConnectResult,
    ManualConnect,
)
from ledgerbridge.errors import PROVIDER_RESPONSES, ApiError, existing, not_found
from ledgerbridge.pagination import Cursor, Limit, Page, id_page
from ledgerbridge.providers import Provider, identifiers
from ledgerbridge.routing import ConnectionsAdmin, ConnectionsViewer, Svc
from ledgerbridge.schemas import Id
from ledgerbridge.security.principal import TenantSession
from ledgerbridge.services import Services

router = APIRouter(tags=["connections"])
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


def _result(svc: Services, tenant_id: str, connection_ids: list[int]) -> ConnectResult:
    """The connections a flow made or renewed, read in the tenant's own session."""
    with svc.db.tenant(tenant_id) as session:
        rows = list(session.scalars(select(Connection).where(Connection.id.in_(connection_ids))))
        return ConnectResult(connections=_out(session, rows))


@router.post("/v1/connections/{provider}/authorize", response_model=AuthorizeResponse)
def authorize_connection(
    provider: ProviderName, body: AuthorizeRequest, principal: ConnectionsAdmin, svc: Svc
) -> AuthorizeResponse:
    """A connect link for the user's browser: ledgerbridge's own start URL, to open at once
    (single use, valid for two minutes). It binds the flow to that browser with a cookie,
    then sends it on to the provider's consent page."""
    started = service.start_authorization(
        svc,
        tenant_id=principal.tenant_id,
        user=principal.subject,
        provider=_provider(provider),
        redirect_after=str(body.redirect_after) if body.redirect_after else None,
    )
    return AuthorizeResponse(
        authorize_url=started.authorize_url, state=started.state, expires_at=started.expires_at
    )


@router.get(
    "/v1/oauth/{provider}/start",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "On to the provider's consent page, with the cookie set."}},
)
def open_authorization_link(
    provider: ProviderName,
    svc: Svc,
    state: Annotated[str, Query(min_length=1, max_length=512)],
) -> RedirectResponse:
    """Where the host app sends the user's browser (no credentials: the link is single-use)."""
    chosen = _provider(provider)
    url = service.open_in_browser(svc, provider=chosen, state=state)
    binding = service.browser_binding(svc.settings, svc.secret_key, chosen, state)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        binding.name,
        binding.value,
        max_age=binding.max_age,
        path=binding.path,
        secure=binding.secure,
        httponly=True,
        samesite="lax",
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get(
    "/v1/oauth/{provider}/callback", response_model=ConnectResult, responses=PROVIDER_RESPONSES
)
def complete_authorization(
    provider: ProviderName,
    request: Request,
    response: Response,
    svc: Svc,
    state: Annotated[str, Query(min_length=1, max_length=512)],
    code: Annotated[str | None, Query(max_length=4096)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    realm_id: Annotated[identifiers.RealmId | None, Query(alias="realmId")] = None,
    domain_prefix: Annotated[identifiers.DomainPrefix | None, Query()] = None,
) -> ConnectResult | RedirectResponse:
    """Where the provider sends the user's browser back: the state names the flow, and the
    cookie set by the start link proves this is the browser that began it. A malformed or
    missing account id is refused (422) before the state is used."""
    chosen = _provider(provider)
    if error or not code:
        raise ApiError(
            400, "authorization_denied", f"{chosen.value} answered: {error or 'no code'}"
        )
    hint = {Provider.quickbooks: realm_id, Provider.lightspeed: domain_prefix}.get(chosen)
    service.check_account_hint(
        chosen, hint, ("query", "realmId" if chosen is Provider.quickbooks else "domain_prefix")
    )
    connected = service.complete_callback(
        svc,
        cookies=request.cookies,
        provider=chosen,
        code=code,
        state=state,
        account_hint=hint,
    )
    revocation.revoke_or_retry(svc, connected.superseded)
    binding = service.browser_binding(svc.settings, svc.secret_key, chosen, state)
    if connected.redirect_after:
        redirect = RedirectResponse(connected.redirect_after, status_code=303)
        redirect.delete_cookie(binding.name, path=binding.path)
        return redirect
    response.delete_cookie(binding.name, path=binding.path)
    return _result(svc, connected.tenant_id, connected.connection_ids)


@router.post(
    "/v1/connections/{provider}/connect",
    response_model=ConnectResult,
    status_code=201,
    responses=PROVIDER_RESPONSES,
)
def connect_with_code(
    provider: ProviderName, body: ManualConnect, principal: ConnectionsAdmin, svc: Svc
) -> ConnectResult:
    """Refused with a 422 before any provider call unless the body carries the provider's
    own account field (``domain_prefix`` for Lightspeed, ``realm_id`` for QuickBooks) and
    no other."""
    chosen = _provider(provider)
    given = {"realm_id": body.realm_id, "domain_prefix": body.domain_prefix}
    field = identifiers.FIELDS[chosen]
    for name, value in given.items():
        if value is not None and name != field:
            raise service.invalid_input(("body", name), f"not used by {chosen.value}")
    hint = given[field] if field else None
    service.check_account_hint(chosen, hint, ("body", field or "account"))
    connected = service.connect_with_code(
        svc,
        tenant_id=principal.tenant_id,
        user=principal.subject,
        provider=chosen,
        code=body.authorization_code,
        redirect_uri=str(body.redirect_uri),
        account_hint=hint,
    )
    revocation.revoke_or_retry(svc, connected.superseded)
    return _result(svc, principal.tenant_id, connected.connection_ids)


@router.get("/v1/connections", response_model=Page[ConnectionOut])
def list_connections(
    _: ConnectionsViewer,
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
def get_connection(
    connection_id: Id, _: ConnectionsViewer, session: TenantSession
) -> ConnectionOut:
    row = existing(session.get(Connection, connection_id), "connection")
    return _out(session, [row])[0]


@router.delete("/v1/connections/{connection_id}", response_model=ConnectionOut)
def disconnect_connection(
    connection_id: Id, principal: ConnectionsAdmin, svc: Svc
) -> ConnectionOut:
    """Disconnect: the grant's tokens are wiped and revoked at the provider (Lightspeed has
    no revocation: wiped only); a failed revocation is retried durably. The connection's
    records stay readable until the tenant's data is erased (``DELETE /v1/tenant-data``)."""
    done = service.disconnect(svc.db, tenant_id=principal.tenant_id, connection_id=connection_id)
    if done is None:
        raise not_found("connection")
    revocation.revoke_or_retry(svc, done.pending)
    return ConnectionOut.of(done.connection, None)
