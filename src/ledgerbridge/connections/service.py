"""Use cases: start and complete connect flows, reconnect, disconnect.

Calls to token endpoints are recorded in the audit log after the transaction that holds
the connection's rows, as ``token`` calls: the code exchange under the first connection
it created (under none when it failed before any existed), a revocation under the
connection being disconnected.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from authlib.common.security import generate_token
from sqlalchemy import select, update

from ledgerbridge.audit.service import Purpose, record_calls
from ledgerbridge.connections.models import Connection, ConnectionStatus, OAuthGrant, OAuthState
from ledgerbridge.connections.tokens import read_token, store_tokens, token_purpose
from ledgerbridge.connections.vault import Vault
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.engine import Database
from ledgerbridge.db.retention import delete_in_batches
from ledgerbridge.errors import ApiError
from ledgerbridge.events.service import append
from ledgerbridge.providers import Provider, accounts, oauth
from ledgerbridge.settings import Settings


@dataclass(frozen=True)
class Authorization:
    authorize_url: str
    state: str
    expires_at: datetime


@dataclass(frozen=True)
class Connected:
    tenant_id: str
    connection_ids: list[int]
    redirect_after: str | None


def callback_uri(settings: Settings, provider: Provider) -> str:
    return f"{settings.public_url.rstrip('/')}/v1/oauth/{provider.value}/callback"


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


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
    db: Database,
    vault: Vault,
    settings: Settings,
    *,
    tenant_id: str,
    user: str,
    provider: Provider,
    redirect_after: str | None,
) -> Authorization:
    _check_redirect_after(settings, redirect_after)
    state = secrets.token_urlsafe(32)
    verifier = generate_token(64) if oauth.PROFILES[provider].pkce else None
    redirect_uri = callback_uri(settings, provider)
    url = _authorize_url(settings, provider, state, redirect_uri, verifier)
    expires_at = utcnow() + timedelta(seconds=settings.oauth_state_seconds)
    digest = _state_hash(state)
    with db.tenant(tenant_id) as session:
        session.add(
            OAuthState(
                state_hash=digest,
                provider=provider.value,
                user=user,
                code_verifier=vault.encrypt(verifier, context=f"oauth_state:{digest}")
                if verifier
                else None,
                redirect_uri=redirect_uri,
                redirect_after=redirect_after,
                expires_at=expires_at,
            )
        )
    return Authorization(url, state, expires_at)


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
    db: Database,
    vault: Vault,
    settings: Settings,
    *,
    provider: Provider,
    code: str,
    state: str,
    account_hint: str | None,
) -> Connected:
    digest = _state_hash(state)
    with db.system() as session:
        # Single use: only the first caller flips used_at, and only before expiry.
        claimed = session.execute(
            update(OAuthState)
            .where(
                OAuthState.state_hash == digest,
                OAuthState.provider == provider.value,
                OAuthState.used_at.is_(None),
                OAuthState.expires_at > utcnow(),
            )
            .values(used_at=utcnow())
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise ApiError(400, "invalid_state", "unknown, expired or already used state")
        pending = session.scalars(select(OAuthState).where(OAuthState.state_hash == digest)).one()
        verifier = (
            vault.decrypt(pending.code_verifier, context=f"oauth_state:{digest}")
            if pending.code_verifier
            else None
        )
    connection_ids = _connect(
        db,
        vault,
        settings,
        tenant_id=pending.tenant_id,
        user=pending.user,
        provider=provider,
        code=code,
        redirect_uri=pending.redirect_uri,
        verifier=verifier,
        account_hint=account_hint,
    )
    return Connected(pending.tenant_id, connection_ids, pending.redirect_after)


def connect_with_code(
    db: Database,
    vault: Vault,
    settings: Settings,
    *,
    tenant_id: str,
    user: str,
    provider: Provider,
    code: str,
    redirect_uri: str,
    account_hint: str | None,
) -> list[int]:
    """The manual flow: a code obtained elsewhere (e.g. a provider's OAuth playground)."""
    return _connect(
        db,
        vault,
        settings,
        tenant_id=tenant_id,
        user=user,
        provider=provider,
        code=code,
        redirect_uri=redirect_uri,
        verifier=None,
        account_hint=account_hint,
    )


def _connect(
    db: Database,
    vault: Vault,
    settings: Settings,
    *,
    tenant_id: str,
    user: str,
    provider: Provider,
    code: str,
    redirect_uri: str,
    verifier: str | None,
    account_hint: str | None,
) -> list[int]:
    token_calls: list[oauth.Call] = []
    discovery_calls: list[oauth.Call] = []
    ids: list[int] = []
    grant_id: int | None = None
    try:
        tokens, found = _authorized(
            settings,
            provider,
            code,
            redirect_uri,
            verifier,
            account_hint,
            token_calls.append,
            discovery_calls.append,
        )
        grant_id, ids = _store(db, vault, tenant_id, user, provider, tokens, found, account_hint)
        return ids
    finally:
        purpose = token_purpose(tenant_id, ids[0] if ids else None, grant_id)
        record_calls(db, purpose, token_calls)
        record_calls(db, replace(purpose, entity_type="account"), discovery_calls)


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
) -> tuple[int, list[int]]:
    """The grant and its connections (created, or reconnected): the grant's id, theirs."""
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
    return grant_id, ids


def disconnect(
    db: Database, vault: Vault, settings: Settings, *, tenant_id: str, connection_id: int
) -> Connection | None:
    """Revoke at the provider where it can, wipe the tokens, keep the row as history."""
    calls: list[oauth.Call] = []
    purpose: Purpose | None = None
    try:
        with db.tenant(tenant_id) as session:
            connection = session.get(Connection, connection_id, with_for_update=True)
            if connection is None:
                return None
            grant = session.get(OAuthGrant, connection.grant_id) if connection.grant_id else None
            siblings = (
                session.scalar(
                    select(Connection.id)
                    .where(
                        Connection.grant_id == grant.id,
                        Connection.id != connection.id,
                        Connection.status != ConnectionStatus.disconnected,
                    )
                    .limit(1)
                )
                if grant
                else None
            )
            if grant is not None and grant.revoked_at is None:
                purpose = token_purpose(tenant_id, connection.id, grant.id)
                _revoke_at_provider(
                    vault, settings, connection, grant, siblings is not None, calls.append
                )
                if siblings is None:
                    grant.access_token = grant.refresh_token = None
                    grant.revoked_at = utcnow()
            connection.status = ConnectionStatus.disconnected
            connection.disconnected_at = utcnow()
            connection.grant_id = None
            append(
                session,
                tenant_id,
                "connection.disconnected",
                f"connection:{connection.id}",
                connection_id=str(connection.id),
                provider=connection.provider,
            )
            return connection
    finally:
        if purpose is not None:
            record_calls(db, purpose, calls)


def _revoke_at_provider(
    vault: Vault,
    settings: Settings,
    connection: Connection,
    grant: OAuthGrant,
    keep_grant: bool,
    observe: oauth.Observer,
) -> None:
    """Best effort: a provider that is down must not keep a user from disconnecting."""
    provider = Provider(connection.provider)
    try:
        if keep_grant and provider is Provider.xero and connection.provider_connection_id:
            # Other organisations still use this consent: remove only this one.
            token = read_token(vault, grant, "access")
            if token:
                accounts.disconnect_xero_tenant(
                    settings, token, connection.provider_connection_id, observe
                )
            return
        refresh_token = read_token(vault, grant, "refresh")
        if refresh_token and not keep_grant:
            oauth.revoke(settings, provider, refresh_token=refresh_token, observe=observe)
    except Exception:
        return


def prune_oauth_states(db: Database, older_than: timedelta, now: datetime) -> int:
    """Delete authorizations that expired before ``now - older_than``, in batches."""
    return delete_in_batches(db, OAuthState, OAuthState.expires_at < now - older_than)
