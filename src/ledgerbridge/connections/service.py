"""Use cases: start and complete connect flows, reconnect, disconnect.

Disconnecting, and reconnecting an account through a new consent, let go of a grant in
the database first; revoking it at the provider happens afterwards, outside any
transaction (``revocation.py``): these functions return what is left to revoke.

Calls to token endpoints are recorded in the audit log after the transaction that holds
the connection's rows, as ``token`` calls: the code exchange under the first connection
it created (under none when it failed before any existed), a revocation under the
connection being disconnected.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

from authlib.common.security import generate_token
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from ledgerbridge.audit.service import record_calls
from ledgerbridge.connections.models import Connection, ConnectionStatus, OAuthGrant, OAuthState
from ledgerbridge.connections.revocation import Pending, unused
from ledgerbridge.connections.tokens import forget, store_tokens, token_purpose
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.engine import Database
from ledgerbridge.db.retention import delete_in_batches
from ledgerbridge.errors import ApiError
from ledgerbridge.events.service import append
from ledgerbridge.providers import Provider, accounts, identifiers, oauth
from ledgerbridge.security.vault import Vault
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings


@dataclass(frozen=True)
class Authorization:
    authorize_url: str
    state: str
    expires_at: datetime


@dataclass(frozen=True)
class BrowserBinding:
    """The cookie that ties a connect flow to the browser that opened its start link."""

    name: str
    value: str
    path: str
    max_age: int
    secure: bool


@dataclass(frozen=True)
class Connected:
    tenant_id: str
    connection_ids: list[int]
    redirect_after: str | None
    superseded: list[Pending]  # the grants these connections used before: to revoke


@dataclass(frozen=True)
class Disconnected:
    connection: Connection
    pending: list[Pending]  # what to tell the provider, now that the rows let go


def callback_uri(settings: Settings, provider: Provider) -> str:
    return f"{settings.public_url.rstrip('/')}/v1/oauth/{provider.value}/callback"


# How long the start link handed to the host app may wait before a browser opens it.
START_SECONDS = 120
COOKIE_PREFIX = "lb_connect_"


def start_uri(settings: Settings, provider: Provider, state: str) -> str:
    query = urlencode({"state": state})
    return f"{settings.public_url.rstrip('/')}/v1/oauth/{provider.value}/start?{query}"


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def browser_binding(
    settings: Settings, secret_key: str, provider: Provider, state: str
) -> BrowserBinding:
    """The cookie for ``state``: named after it (so flows in parallel keep theirs), its
    value an HMAC of it under the secret key, sent only to the callback."""
    digest = _state_hash(state)
    value = hmac.new(
        secret_key.encode(), f"ledgerbridge-connect-browser:{digest}".encode(), hashlib.sha256
    ).hexdigest()
    return BrowserBinding(
        name=COOKIE_PREFIX + digest[:16],
        value=value,
        path=urlsplit(callback_uri(settings, provider)).path,
        max_age=settings.oauth_state_seconds,
        secure=settings.public_url.lower().startswith("https://"),
    )


def _check_browser(
    settings: Settings,
    secret_key: str,
    provider: Provider,
    state: str,
    cookies: Mapping[str, str],
) -> None:
    expected = browser_binding(settings, secret_key, provider, state)
    presented = cookies.get(expected.name, "")
    if not hmac.compare_digest(presented.encode(), expected.value.encode()):
        raise ApiError(
            403,
            "foreign_browser",
            "this connect flow was started in another browser (or its cookie was blocked): "
            "start connecting again from the app",
        )


def _check_redirect_after(settings: Settings, url: str | None) -> None:
    if url is None:
        return
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
    allowed = {"{0.scheme}://{0.netloc}".format(urlsplit(a)) for a in settings.redirect_allowlist}
    if origin not in allowed:
        raise ApiError(
            400,
            "redirect_not_allowed",
            "redirect_after must be on an origin listed in LEDGERBRIDGE_REDIRECT_ALLOWLIST",
            {"origin": origin},
        )


def start_authorization(
    svc: Services, *, tenant_id: str, user: str, provider: Provider, redirect_after: str | None
) -> Authorization:
    settings = svc.settings
    _check_redirect_after(settings, redirect_after)
    state = secrets.token_urlsafe(32)
    verifier = generate_token(64) if oauth.PROFILES[provider].pkce else None
    redirect_uri = callback_uri(settings, provider)
    _authorize_url(settings, provider, state, redirect_uri, verifier)  # configured at all?
    expires_at = utcnow() + timedelta(seconds=settings.oauth_state_seconds)
    digest = _state_hash(state)
    with svc.db.tenant(tenant_id) as session:
        session.add(
            OAuthState(
                state_hash=digest,
                provider=provider.value,
                user=user,
                code_verifier=svc.vault.encrypt(verifier, context=f"oauth_state:{digest}")
                if verifier
                else None,
                redirect_uri=redirect_uri,
                redirect_after=redirect_after,
                expires_at=expires_at,
            )
        )
    return Authorization(start_uri(settings, provider, state), state, expires_at)


def open_in_browser(svc: Services, *, provider: Provider, state: str) -> str:
    """The start link, opened once and soon after it was made: the provider's authorize URL."""
    now = utcnow()
    pending, verifier = _claim_state(
        svc.db,
        svc.vault,
        provider,
        state,
        "started_at",
        (
            OAuthState.started_at.is_(None),
            OAuthState.created_at > now - timedelta(seconds=START_SECONDS),
        ),
        "unknown, expired or already opened connect link: start connecting again",
    )
    return _authorize_url(svc.settings, provider, state, pending.redirect_uri, verifier)


def _claim_state(
    db: Database,
    vault: Vault,
    provider: Provider,
    state: str,
    stamp: str,
    conditions: tuple[ColumnElement[bool], ...],
    refusal: str,
) -> tuple[OAuthState, str | None]:
    """Claim a connect flow's state once: only the first caller sets ``stamp`` (and only
    before expiry, before it is used, and while ``conditions`` hold); anyone else gets a
    400. The state's row and its decrypted PKCE verifier."""
    digest = _state_hash(state)
    now = utcnow()
    with db.system() as session:
        claimed = session.execute(
            update(OAuthState)
            .where(
                OAuthState.state_hash == digest,
                OAuthState.provider == provider.value,
                OAuthState.used_at.is_(None),
                OAuthState.expires_at > now,
                *conditions,
            )
            .values({stamp: now})
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise ApiError(400, "invalid_state", refusal)
        pending = session.scalars(select(OAuthState).where(OAuthState.state_hash == digest)).one()
        verifier = (
            vault.decrypt(pending.code_verifier, context=f"oauth_state:{digest}")
            if pending.code_verifier
            else None
        )
    return pending, verifier


def _authorize_url(
    settings: Settings, provider: Provider, state: str, redirect_uri: str, verifier: str | None
) -> str:
    try:
        return oauth.authorization_url(
            settings, provider, state=state, redirect_uri=redirect_uri, code_verifier=verifier
        )
    except oauth.NotConfigured as exc:
        raise ApiError(409, "provider_not_configured", str(exc)) from None


def complete_callback(
    svc: Services,
    *,
    cookies: Mapping[str, str],
    provider: Provider,
    code: str,
    state: str,
    account_hint: str | None,
) -> Connected:
    """Only the browser that opened the start link completes the flow; anyone else is
    refused before the state is claimed, so a stranger cannot use it up either."""
    check_account_hint(provider, account_hint)
    _check_browser(svc.settings, svc.secret_key, provider, state, cookies)
    # Single use: only the first caller flips used_at, and only before expiry.
    pending, verifier = _claim_state(
        svc.db, svc.vault, provider, state, "used_at", (), "unknown, expired or already used state"
    )
    return connect_with_code(
        svc,
        tenant_id=pending.tenant_id,
        user=pending.user,
        provider=provider,
        code=code,
        redirect_uri=pending.redirect_uri,
        account_hint=account_hint,
        verifier=verifier,
        redirect_after=pending.redirect_after,
    )


def check_account_hint(
    provider: Provider, account_hint: str | None, loc: tuple[str, ...] = ()
) -> None:
    """A 422 before any provider call unless the caller's account id is what ``provider``
    needs: Lightspeed's domain prefix or QuickBooks' realm id, well formed; none for Xero.
    ``loc``: where the value came from (e.g. ``("query", "realmId")``), for the error."""
    field = identifiers.FIELDS[provider]
    if account_hint is None:
        problem = f"required for {provider.value}" if field else None
    elif field is None:
        problem = f"{provider.value} takes no account id: its consent says which"
    elif not identifiers.is_valid(provider, account_hint):
        problem = f"must be {identifiers.DESCRIPTIONS[provider]}"
    else:
        problem = None
    if problem is not None:
        raise invalid_input(loc or (field or "account",), problem)


def invalid_input(loc: tuple[str, ...], problem: str) -> ApiError:
    """A 422 shaped like a request validation error (the value itself is never echoed)."""
    return ApiError(
        422,
        "validation_error",
        f"{'.'.join(loc)}: {problem}",
        [{"loc": list(loc), "msg": problem, "type": "value_error"}],
    )


def connect_with_code(
    svc: Services,
    *,
    tenant_id: str,
    user: str,
    provider: Provider,
    code: str,
    redirect_uri: str,
    account_hint: str | None,
    verifier: str | None = None,
    redirect_after: str | None = None,
) -> Connected:
    """Exchange an authorization code for the tenant's connections: the callback's last
    step, or the manual flow's only one (a code obtained elsewhere, e.g. a provider's OAuth
    playground)."""
    check_account_hint(provider, account_hint)
    token_calls: list[oauth.Call] = []
    discovery_calls: list[oauth.Call] = []
    ids: list[int] = []
    grant_id: int | None = None
    try:
        tokens, found = _authorized(
            svc.settings,
            provider,
            code,
            redirect_uri,
            verifier,
            account_hint,
            token_calls.append,
            discovery_calls.append,
        )
        grant_id, ids, superseded = _store(
            svc.db, svc.vault, tenant_id, user, provider, tokens, found, account_hint
        )
        return Connected(tenant_id, ids, redirect_after, superseded)
    finally:
        purpose = token_purpose(tenant_id, ids[0] if ids else None, grant_id)
        record_calls(svc.db, purpose, token_calls)
        record_calls(svc.db, replace(purpose, entity_type="account"), discovery_calls)


def _authorized(
    settings: Settings,
    provider: Provider,
    code: str,
    redirect_uri: str,
    verifier: str | None,
    account_hint: str | None,
    observe_token: oauth.Observer,
    observe_discovery: oauth.Observer,
) -> tuple[oauth.TokenSet, list[accounts.RemoteAccount]]:
    """The code exchanged for tokens, and the accounts the consent covers."""
    try:
        tokens = oauth.exchange_code(
            settings,
            provider,
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=verifier,
            account=account_hint,
            observe=observe_token,
        )
        found = accounts.discover(settings, provider, tokens, account_hint, observe_discovery)
    except oauth.InvalidGrant as exc:
        raise ApiError(400, "invalid_grant", f"{provider.value} refused the code: {exc}") from None
    except accounts.MissingAccount as exc:
        raise ApiError(400, "missing_account", str(exc)) from None
    except accounts.AccountMismatch as exc:
        raise ApiError(400, "account_mismatch", f"{exc}; nothing was stored") from None
    except identifiers.InvalidIdentifier as exc:
        # The caller's input was checked before: this is the provider's answer.
        raise ApiError(400, "invalid_account_id", f"{exc}; nothing was stored") from None
    except identifiers.DisallowedHost as exc:
        raise ApiError(409, "provider_not_configured", str(exc)) from None
    except oauth.NotConfigured as exc:
        raise ApiError(409, "provider_not_configured", str(exc)) from None
    except oauth.ProviderUnavailable as exc:
        raise ApiError(502, "provider_unavailable", f"{provider.value}: {exc}; try again") from None
    if not found:
        raise ApiError(400, "no_accounts", f"the {provider.value} consent covers no account")
    return tokens, found


def _store(
    db: Database,
    vault: Vault,
    tenant_id: str,
    user: str,
    provider: Provider,
    tokens: oauth.TokenSet,
    found: list[accounts.RemoteAccount],
    account_hint: str | None,
) -> tuple[int, list[int], list[Pending]]:
    """The grant and its connections (created, or reconnected): the grant's id, theirs,
    and the grants they used before that no connection uses any more (to revoke)."""
    with db.tenant(tenant_id) as session:
        grant = OAuthGrant(
            provider=provider.value,
            token_account=tokens.account or account_hint,
            last_refreshed_at=utcnow(),
        )
        session.add(grant)
        session.flush()
        store_tokens(vault, grant, tokens)
        grant_id, ids = grant.id, []
        replaced: dict[int, int] = {}  # a grant let go of -> the connection that used it
        for account in found:
            connection = session.scalars(
                select(Connection).where(
                    Connection.provider == provider.value,
                    Connection.external_account_id == account.external_id,
                )
            ).one_or_none()
            event = "connection.reconnected" if connection else "connection.created"
            if connection is None:
                connection = Connection(
                    provider=provider.value,
                    external_account_id=account.external_id,
                    connected_by=user,
                )
                session.add(connection)
            connection.external_account_name = account.name
            connection.provider_connection_id = account.provider_connection_id
            if connection.grant_id is not None and connection.grant_id != grant.id:
                replaced[connection.grant_id] = connection.id
            connection.grant_id = grant.id
            connection.status = ConnectionStatus.active
            connection.status_reason = None
            connection.disconnected_at = None
            session.flush()
            ids.append(connection.id)
            append(
                session,
                tenant_id,
                event,
                f"connection:{connection.id}",
                connection_id=str(connection.id),
                provider=provider.value,
                external_account_id=account.external_id,
            )
        superseded = [
            p for old, used_by in replaced.items() for p in _let_go(session, {old}, used_by)
        ]
    return grant_id, ids, superseded


def _let_go(
    session: Session, grant_ids: set[int], connection_id: int | None = None
) -> list[Pending]:
    """Grants no connection uses any more: their access tokens wiped now, their refresh
    tokens kept only until the provider has revoked them."""
    if not grant_ids:
        return []
    orphans = list(
        session.scalars(
            select(OAuthGrant).where(OAuthGrant.id.in_(grant_ids), unused(OAuthGrant.id))
        )
    )
    for orphan in orphans:
        orphan.access_token = None
    return [Pending(orphan.id, connection_id=connection_id) for orphan in orphans]


def disconnect(db: Database, *, tenant_id: str, connection_id: int) -> Disconnected | None:
    """Stop using the connection's grant and keep the row as history; the provider is told
    afterwards, outside this transaction (see ``revocation.revoke_or_retry``)."""
    with db.tenant(tenant_id) as session:
        connection = session.get(Connection, connection_id, with_for_update=True)
        if connection is None:
            return None
        if connection.status == ConnectionStatus.disconnected and connection.grant_id is None:
            return Disconnected(connection, [])  # already: nothing changes
        grant_id = connection.grant_id
        pending: list[Pending] = []
        connection.status = ConnectionStatus.disconnected
        connection.disconnected_at = utcnow()
        connection.grant_id = None
        session.flush()
        if grant_id is not None:
            pending = _let_go(session, {grant_id}, connection.id)
            if (
                not pending
                and connection.provider == Provider.xero
                and connection.provider_connection_id
            ):
                # Other organisations still use this consent: remove only this one.
                pending = [Pending(grant_id, connection.provider_connection_id, connection.id)]
        append(
            session,
            tenant_id,
            "connection.disconnected",
            f"connection:{connection.id}",
            connection_id=str(connection.id),
            provider=connection.provider,
        )
    forget(db, connection_id)  # once committed: no call of this process uses it again
    return Disconnected(connection, pending)


def prune_oauth_states(db: Database, older_than: timedelta, now: datetime) -> int:
    """Delete authorizations that expired before ``now - older_than``, in batches."""
    return delete_in_batches(db, OAuthState, OAuthState.expires_at < now - older_than)
