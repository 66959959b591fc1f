"""A valid access token for a connection, refreshed exactly once however many ask.

Callers first read without a lock. Only when the token is within the refresh skew of
expiry (or a data call just got a 401 with it) do they lock the grant row — ``SELECT
... FOR UPDATE`` on PostgreSQL, SQLite's write lock on the embedded default — and read
again: whoever waited finds the token another caller just refreshed and uses it. The
one caller that refreshes commits the rotated refresh token before releasing the lock,
so nothing ever uses a refresh token the provider has already replaced. Its calls to the
token endpoint are recorded in the audit log once the lock is released.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from ledgerbridge.audit.service import Purpose, record_calls
from ledgerbridge.connections.models import Connection, ConnectionStatus, OAuthGrant
from ledgerbridge.connections.vault import Vault, token_context
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.engine import Database
from ledgerbridge.events.service import append
from ledgerbridge.providers import Provider, oauth
from ledgerbridge.settings import Settings


class NeedsReauth(Exception):
    """The connection's consent is gone: a user of the tenant must connect it again."""


@dataclass(frozen=True)
class AccessToken:
    connection_id: int
    provider: Provider
    account: str  # the provider account to address (tenant id, realm id, domain prefix)
    token: str


def store_tokens(vault: Vault, grant: OAuthGrant, tokens: oauth.TokenSet) -> None:
    """Encrypt a token set into ``grant`` (which must already have its id)."""
    grant.access_token = vault.encrypt(
        tokens.access_token, context=token_context(grant.id, "access")
    )
    if tokens.refresh_token:
        grant.refresh_token = vault.encrypt(
            tokens.refresh_token, context=token_context(grant.id, "refresh")
        )
    grant.access_expires_at = tokens.expires_at
    if tokens.scopes:
        grant.scopes = tokens.scopes


def token_purpose(tenant_id: str, connection_id: int | None, grant_id: int | None) -> Purpose:
    """What calls to a token endpoint are recorded as in the audit log."""
    return Purpose(
        tenant_id, connection_id, entity_type="token", entity_id=str(grant_id) if grant_id else None
    )


def read_token(vault: Vault, grant: OAuthGrant, field: str) -> str | None:
    stored = grant.access_token if field == "access" else grant.refresh_token
    return None if stored is None else vault.decrypt(stored, context=token_context(grant.id, field))


def _usable(connection: Connection, grant: OAuthGrant | None) -> OAuthGrant:
    if connection.status != ConnectionStatus.active or grant is None or grant.revoked_at:
        raise NeedsReauth(f"connection {connection.id} is {connection.status}: reconnect it")
    return grant


def _fresh(grant: OAuthGrant, skew: timedelta) -> bool:
    return grant.access_expires_at is not None and grant.access_expires_at - skew > utcnow()


def access_token(
    db: Database,
    vault: Vault,
    settings: Settings,
    connection_id: int,
    *,
    rejected: str | None = None,
) -> AccessToken:
    """A token valid for at least the refresh skew. ``rejected``: the token a provider just
    answered 401 to, which is refreshed even if it looks unexpired (once: if another caller
    has already replaced it, the replacement is returned)."""
    skew = timedelta(seconds=settings.token_refresh_skew_seconds)
    with db.system(read_only=True) as session:
        connection, grant = _load(session, connection_id)
        token = read_token(vault, grant, "access")
        if token and token != rejected and _fresh(grant, skew):
            return _result(connection, token)
    return _refresh_locked(db, vault, settings, connection_id, skew, rejected)


def _load(
    session: Session, connection_id: int, *, lock: bool = False
) -> tuple[Connection, OAuthGrant]:
    connection = session.get(Connection, connection_id)
    if connection is None:
        raise NeedsReauth(f"connection {connection_id} does not exist")
    grant = (
        session.get(OAuthGrant, connection.grant_id, with_for_update=lock)
        if connection.grant_id
        else None
    )
    return connection, _usable(connection, grant)


def _result(connection: Connection, token: str) -> AccessToken:
    return AccessToken(
        connection.id, Provider(connection.provider), connection.external_account_id, token
    )


def _refresh_locked(
    db: Database,
    vault: Vault,
    settings: Settings,
    connection_id: int,
    skew: timedelta,
    rejected: str | None,
) -> AccessToken:
    refused: str | None = None
    calls: list[oauth.Call] = []
    purpose: Purpose | None = None
    try:
        with db.system() as session:
            connection, grant = _load(session, connection_id, lock=True)
            token = read_token(vault, grant, "access")
            if token and token != rejected and _fresh(grant, skew):
                return _result(connection, token)  # another caller refreshed while we waited
            purpose = token_purpose(connection.tenant_id, connection.id, grant.id)
            refresh_token = read_token(vault, grant, "refresh")
            try:
                if refresh_token is None:
                    raise oauth.InvalidGrant("no refresh token stored")
                tokens = oauth.refresh(
                    settings,
                    Provider(grant.provider),
                    refresh_token=refresh_token,
                    account=grant.token_account,
                    observe=calls.append,
                )
            except oauth.InvalidGrant as exc:
                refused = str(exc)
                _mark_needs_reauth(session, grant, refused)
            else:
                store_tokens(vault, grant, tokens)
                grant.last_refreshed_at = utcnow()
                return _result(connection, tokens.access_token)
    finally:
        # Not while the grant is locked: on SQLite that lock is the database's write lock.
        if purpose is not None:
            record_calls(db, purpose, calls)
    raise NeedsReauth(f"the provider refused the refresh ({refused}): reconnect the account")


def _mark_needs_reauth(session: Session, grant: OAuthGrant, reason: str) -> None:
    for connection in session.query(Connection).filter(Connection.grant_id == grant.id):
        if connection.status != ConnectionStatus.active:
            continue
        connection.status = ConnectionStatus.needs_reauth
        connection.status_reason = reason
        append(
            session,
            connection.tenant_id,
            "connection.needs_reauth",
            f"connection:{connection.id}",
            connection_id=str(connection.id),
            provider=connection.provider,
            reason=reason,
        )
