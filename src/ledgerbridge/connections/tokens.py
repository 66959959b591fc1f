"""A valid access token for a connection, refreshed exactly once however many ask.

Callers first read without a lock. Only when the token is within the refresh skew of
expiry (or a data call just got a 401 with it) does one of them take the grant's refresh
lease — a holder and a deadline on the grant row, set in a short transaction — and call
the token endpoint with no transaction open, so a slow provider holds up nobody else's
reads or writes. It commits the answer in a second short transaction at once (a rotating
provider such as Lightspeed has already revoked the refresh token it sent) and ends the
lease. Everyone else waiting reads again every moment and uses the refreshed token; if
the holder dies, its lease runs out and the next caller takes it over. A refresh whose
lease ran out is stored only while the grant still holds the refresh token it used, so a
late answer never overwrites a newer one. Calls to the token endpoint are recorded in the
audit log after the answer is committed.

Each process keeps the decrypted access tokens it has read or refreshed (:class:`TokenCache`)
until the refresh skew before their expiry, so a provider call reads and decrypts nothing.
A token a provider answered 401 to leaves the cache at once: the caller reads the grant
again and finds the token another process has refreshed meanwhile, or refreshes it itself.
Disconnecting in this process forgets the connection's token; another process's copy is
refused by the provider (the grant is revoked) and forgotten at that 401.
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ledgerbridge.audit.service import Purpose, record_calls
from ledgerbridge.connections.models import Connection, ConnectionStatus, OAuthGrant
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.engine import Database
from ledgerbridge.events.service import append
from ledgerbridge.providers import Provider, oauth
from ledgerbridge.security.vault import Vault, token_context
from ledgerbridge.settings import Settings

# The refresh lease (LEDGERBRIDGE_TOKEN_REFRESH_LEASE_SECONDS, 90 by default) is longer than
# a refresh can take (three tries of at most 5 s to connect and 15 s to read, with backoff
# between them): a caller that finds the lease expired takes it over.
# Development only: hold this long between the provider's answer to a refresh and its
# commit, so that a test can kill the process in that window (tests/connections).
HOLD_AFTER_REFRESH = "LEDGERBRIDGE_TEST_HOLD_AFTER_REFRESH_SECONDS"
POLL_SECONDS = 0.05  # how often a caller waiting for another's refresh reads again
_process_locks: dict[tuple[str, int], threading.Lock] = {}
_process_locks_guard = threading.Lock()


class NeedsReauth(Exception):
    """The connection's consent is gone: a user of the tenant must connect it again."""


@dataclass(frozen=True)
class AccessToken:
    connection_id: int
    provider: Provider
    account: str  # the provider account to address (tenant id, realm id, domain prefix)
    token: str


@dataclass(frozen=True)
class _Cached:
    token: AccessToken
    usable_until: datetime  # the refresh skew before the token's expiry


class TokenCache:
    """The decrypted access tokens of one process, by database and connection."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, int], _Cached] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int], rejected: str | None) -> AccessToken | None:
        with self._lock:
            found = self._tokens.get(key)
            if found is None:
                return None
            if found.token.token == rejected or found.usable_until <= utcnow():
                del self._tokens[key]
                return None
            return found.token

    def put(self, key: tuple[str, int], token: AccessToken, usable_until: datetime) -> None:
        with self._lock:
            self._tokens[key] = _Cached(token, usable_until)

    def forget(self, key: tuple[str, int]) -> None:
        with self._lock:
            self._tokens.pop(key, None)


_cache = TokenCache()


def _key(db: Database, connection_id: int) -> tuple[str, int]:
    # Connection ids are per database, and one process may serve several (tests do).
    return (db.engine.url.render_as_string(hide_password=True), connection_id)


def forget(db: Database, connection_id: int) -> None:
    """Drop this process's copy of the connection's access token (disconnected, erased)."""
    _cache.forget(_key(db, connection_id))


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
    key = _key(db, connection_id)
    cached = _cache.get(key, rejected)
    if cached is not None:
        return cached
    skew = timedelta(seconds=settings.token_refresh_skew_seconds)
    with db.system(read_only=True) as session:
        connection, grant = _load(session, connection_id)
        token = read_token(vault, grant, "access")
        if token and token != rejected and _fresh(grant, skew):
            return _cached(key, _result(connection, token), grant, skew)
    # One thread per process takes part in the refresh; the others of this process wait
    # here without touching the database, then find the refreshed token.
    with _process_lock(key):
        cached = _cache.get(key, rejected)
        if cached is not None:
            return cached  # refreshed by another thread of this process while we waited
        return _refreshed(db, vault, settings, connection_id, skew, rejected)


def _cached(
    key: tuple[str, int], token: AccessToken, grant: OAuthGrant, skew: timedelta
) -> AccessToken:
    assert grant.access_expires_at is not None  # _fresh checked it
    _cache.put(key, token, grant.access_expires_at - skew)
    return token


def _process_lock(key: tuple[str, int]) -> threading.Lock:
    with _process_locks_guard:
        return _process_locks.setdefault(key, threading.Lock())


def _refreshed(
    db: Database,
    vault: Vault,
    settings: Settings,
    connection_id: int,
    skew: timedelta,
    rejected: str | None,
) -> AccessToken:
    key = _key(db, connection_id)
    while True:
        with db.system(read_only=True) as session:
            connection, grant = _load(session, connection_id)
            token = read_token(vault, grant, "access")
            if token and token != rejected and _fresh(grant, skew):
                return _cached(key, _result(connection, token), grant, skew)
            leased = _leased(grant)
        if not leased:
            lease_for = timedelta(seconds=settings.token_refresh_lease_seconds)
            taken = _take_lease(db, vault, connection_id, skew, rejected, lease_for)
            if isinstance(taken, AccessToken):
                return taken  # another caller refreshed since we read
            if taken is not None:
                refreshed = _refresh(db, vault, settings, taken)
                if refreshed is not None:
                    fresh, expires_at = refreshed
                    _cache.put(key, fresh, expires_at - skew)
                    return fresh
                continue  # another caller's refresh landed first: read it
        time.sleep(random.uniform(POLL_SECONDS / 2, POLL_SECONDS))


@dataclass(frozen=True)
class _Lease:
    holder: str
    connection_id: int
    provider: Provider
    account: str
    grant_id: int
    token_account: str | None
    refresh_token: str | None
    purpose: Purpose


def _leased(grant: OAuthGrant) -> bool:
    until = grant.refresh_lease_until
    return grant.refresh_lease_holder is not None and until is not None and until > utcnow()


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


def _take_lease(
    db: Database,
    vault: Vault,
    connection_id: int,
    skew: timedelta,
    rejected: str | None,
    lease_for: timedelta,
) -> AccessToken | _Lease | None:
    """In one short transaction: the token another caller just refreshed, or the lease to
    refresh it ourselves, or None when another caller holds the lease."""
    with db.system() as session:
        connection, grant = _load(session, connection_id, lock=True)
        token = read_token(vault, grant, "access")
        if token and token != rejected and _fresh(grant, skew):
            return _cached(_key(db, connection_id), _result(connection, token), grant, skew)
        if _leased(grant):
            return None
        holder = uuid.uuid4().hex
        grant.refresh_lease_holder = holder
        grant.refresh_lease_until = utcnow() + lease_for
        return _Lease(
            holder,
            connection.id,
            Provider(connection.provider),
            connection.external_account_id,
            grant.id,
            grant.token_account,
            read_token(vault, grant, "refresh"),
            token_purpose(connection.tenant_id, connection.id, grant.id),
        )


def _refresh(
    db: Database, vault: Vault, settings: Settings, lease: _Lease
) -> tuple[AccessToken, datetime] | None:
    """Call the token endpoint outside any transaction, then commit its answer at once, in a
    transaction of its own, before anyone uses it (a rotating provider has already revoked
    the refresh token we sent). The token and its expiry; None when another caller's
    refresh landed first (our lease ran out meanwhile)."""
    calls: list[oauth.Call] = []
    try:
        try:
            if lease.refresh_token is None:
                raise oauth.InvalidGrant("no refresh token stored")
            tokens = oauth.refresh(
                settings,
                lease.provider,
                refresh_token=lease.refresh_token,
                account=lease.token_account,
                observe=calls.append,
            )
        except oauth.InvalidGrant as exc:
            if _settle(db, vault, lease, None, refused=str(exc)):
                forget(db, lease.connection_id)
                raise NeedsReauth(
                    f"the provider refused the refresh ({exc}): reconnect the account"
                ) from None
            return None
        except BaseException:
            _settle(db, vault, lease, None)
            raise
        _hold_for_crash_test(settings)
        if not _settle(db, vault, lease, tokens):
            return None
        token = AccessToken(lease.connection_id, lease.provider, lease.account, tokens.access_token)
        return token, tokens.expires_at
    finally:
        record_calls(db, lease.purpose, calls)


def _hold_for_crash_test(settings: Settings) -> None:
    hold = os.environ.get(HOLD_AFTER_REFRESH)
    if hold and not settings.is_production:
        print("refresh answered, not yet committed", file=sys.stderr, flush=True)
        time.sleep(float(hold))


def _settle(
    db: Database,
    vault: Vault,
    lease: _Lease,
    tokens: oauth.TokenSet | None,
    *,
    refused: str | None = None,
) -> bool:
    """Store the refreshed ``tokens`` (or mark the grant refused) and end our lease, in one
    short transaction. Only while the grant still holds the refresh token we used: if not,
    another caller refreshed after our lease ran out, and its tokens stand. True if ours
    were stored (or the refusal recorded)."""
    with db.system() as session:
        grant = session.get(OAuthGrant, lease.grant_id, with_for_update=True)
        if grant is None:
            return False
        if grant.refresh_lease_holder == lease.holder:
            grant.refresh_lease_holder = None
            grant.refresh_lease_until = None
        if tokens is None and refused is None:
            return False
        if read_token(vault, grant, "refresh") != lease.refresh_token:
            return False
        if tokens is None:
            _mark_needs_reauth(session, grant, refused or "refused")
            return True
        store_tokens(vault, grant, tokens)
        grant.last_refreshed_at = utcnow()
        return True


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
