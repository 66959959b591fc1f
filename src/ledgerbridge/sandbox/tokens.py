"""OAuth bookkeeping shared by the three providers: clients, codes, grants and tokens.

No HTTP here (``oauth.py`` serves the endpoints). A *grant* is one user's consent for one
client: the provider accounts it covers (several Xero organisations, one QuickBooks
company or Lightspeed store), and the chain of refresh tokens issued for it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from ipaddress import ip_address
from urllib.parse import urlsplit

from ledgerbridge.sandbox.clock import Clock


class OAuthError(Exception):
    """An OAuth error response: ``error`` is the RFC 6749 code (``invalid_grant``, ...)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()  # empty: any loopback URI


@dataclass
class Connection:
    """One account a grant covers; Xero lists these at ``/connections``."""

    connection_id: str
    account_id: str
    created_ms: int


@dataclass
class Grant:
    grant_id: str  # Xero's authEventId
    provider: str
    client_id: str
    scope: str
    created_ms: int
    connections: list[Connection]
    public: bool = False  # obtained with PKCE and no client secret
    revoked: bool = False
    latest_refresh_token: str = ""

    @property
    def account_ids(self) -> frozenset[str]:
        return frozenset(c.account_id for c in self.connections)


@dataclass
class AuthorizationCode:
    provider: str
    client_id: str
    redirect_uri: str
    account_ids: tuple[str, ...]
    scope: str
    code_challenge: str | None
    expires_ms: int
    used: bool = False


@dataclass
class AccessToken:
    grant: Grant
    expires_ms: int


@dataclass
class RefreshToken:
    grant: Grant
    expires_ms: int
    superseded_ms: int | None = None  # when a newer token replaced this one


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    issued_ms: int
    access_expires_ms: int
    refresh_expires_ms: int


def is_loopback_uri(uri: str) -> bool:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header; "" when there is none."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE code verifier (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class TokenRegistry:
    clock: Clock
    clients: dict[str, Client] = field(default_factory=dict)
    _codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    _access: dict[str, AccessToken] = field(default_factory=dict)
    _refresh: dict[str, RefreshToken] = field(default_factory=dict)
    _grants: dict[str, Grant] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # --- clients -------------------------------------------------------------------

    def register_client(self, client: Client) -> Client:
        with self._lock:
            self.clients[client.client_id] = client
        return client

    def redirect_allowed(self, client_id: str, redirect_uri: str) -> bool:
        client = self.clients.get(client_id)
        if client is None:
            return False
        if client.redirect_uris:
            return redirect_uri in client.redirect_uris
        return is_loopback_uri(redirect_uri)

    def authenticate_client(self, client_id: str, client_secret: str | None) -> Client:
        client = self.clients.get(client_id)
        if client is None or (
            client_secret is not None
            and not secrets.compare_digest(client.client_secret, client_secret)
        ):
            raise OAuthError("invalid_client", "Unknown client or wrong client secret.")
        return client

    # --- codes and grants ----------------------------------------------------------

    def issue_code(
        self,
        provider: str,
        client_id: str,
        redirect_uri: str,
        account_ids: tuple[str, ...],
        scope: str,
        code_challenge: str | None,
        lifetime_seconds: int,
    ) -> str:
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = AuthorizationCode(
                provider=provider,
                client_id=client_id,
                redirect_uri=redirect_uri,
                account_ids=account_ids,
                scope=scope,
                code_challenge=code_challenge,
                expires_ms=self.clock.time_ms() + lifetime_seconds * 1000,
            )
        return code

    def redeem_code(
        self,
        provider: str,
        code: str,
        client_id: str,
        redirect_uri: str,
        *,
        client_authenticated: bool,
        code_verifier: str | None = None,
    ) -> Grant:
        """Turn a code into a grant, once. Every way a code can be wrong is ``invalid_grant``."""
        with self._lock:
            found = self._codes.get(code)
            now = self.clock.time_ms()
            if found is None or found.provider != provider or found.client_id != client_id:
                raise OAuthError("invalid_grant", "Unknown authorization code.")
            if found.used:
                raise OAuthError("invalid_grant", "The authorization code was already used.")
            if found.expires_ms <= now:
                raise OAuthError("invalid_grant", "The authorization code has expired.")
            if found.redirect_uri != redirect_uri:
                raise OAuthError("invalid_grant", "redirect_uri does not match the authorize call.")
            if found.code_challenge is not None:
                if code_verifier is None or pkce_challenge(code_verifier) != found.code_challenge:
                    raise OAuthError("invalid_grant", "Invalid code_verifier.")
            elif not client_authenticated:
                raise OAuthError("invalid_client", "A client secret is required.")
            found.used = True
            grant = Grant(
                grant_id=str(uuid.uuid4()),
                provider=provider,
                client_id=client_id,
                scope=found.scope,
                created_ms=now,
                connections=[Connection(str(uuid.uuid4()), a, now) for a in found.account_ids],
                public=not client_authenticated,
            )
            self._grants[grant.grant_id] = grant
            return grant

    # --- tokens --------------------------------------------------------------------

    def issue_tokens(
        self, grant: Grant, access_seconds: int, refresh_seconds: int, access_token: str = ""
    ) -> TokenPair:
        """New access and refresh tokens for ``grant``; the previous refresh token is superseded.

        ``access_token`` lets a provider choose the token's form (Xero's are JWTs).
        """
        with self._lock:
            now = self.clock.time_ms()
            previous = self._refresh.get(grant.latest_refresh_token)
            if previous is not None and previous.superseded_ms is None:
                previous.superseded_ms = now
            access = access_token or secrets.token_urlsafe(32)
            refresh = secrets.token_urlsafe(32)
            pair = TokenPair(
                access, refresh, now, now + access_seconds * 1000, now + refresh_seconds * 1000
            )
            self._access[access] = AccessToken(grant, pair.access_expires_ms)
            self._refresh[refresh] = RefreshToken(grant, pair.refresh_expires_ms)
            grant.latest_refresh_token = refresh
            return pair

    def use_refresh_token(
        self, provider: str, refresh_token: str, client_id: str, grace_seconds: int = 0
    ) -> Grant:
        """The grant a refresh token may renew, or ``invalid_grant``.

        A superseded token stays usable for ``grace_seconds`` after it was replaced
        (Xero: 30 minutes; QuickBooks and Lightspeed: none).
        """
        with self._lock:
            found = self._refresh.get(refresh_token)
            now = self.clock.time_ms()
            if found is None or found.grant.provider != provider or found.grant.revoked:
                raise OAuthError("invalid_grant", "Unknown or revoked refresh token.")
            if found.grant.client_id != client_id:
                raise OAuthError("invalid_grant", "The refresh token belongs to another client.")
            if found.expires_ms <= now:
                raise OAuthError("invalid_grant", "The refresh token has expired.")
            if (
                found.superseded_ms is not None
                and now - found.superseded_ms >= grace_seconds * 1000
            ):
                raise OAuthError("invalid_grant", "The refresh token was replaced by a newer one.")
            return found.grant

    def account_ids(self, provider: str, access_token: str) -> frozenset[str] | None:
        """The accounts an access token may reach; None when unknown, expired or revoked."""
        grant = self.grant_of(provider, access_token)
        return None if grant is None else grant.account_ids

    def is_expired(self, provider: str, access_token: str) -> bool:
        """Whether this is a real access token that has run out (Xero says so in its 401)."""
        found = self._access.get(access_token)
        return (
            found is not None
            and found.grant.provider == provider
            and found.expires_ms <= self.clock.time_ms()
        )

    def grant_of(self, provider: str, access_token: str) -> Grant | None:
        found = self._access.get(access_token)
        if (
            found is None
            or found.grant.provider != provider
            or found.grant.revoked
            or found.expires_ms <= self.clock.time_ms()
        ):
            return None
        return found.grant

    # --- revocation ----------------------------------------------------------------

    def revoke_token(self, provider: str, token: str) -> bool:
        """Revoke the grant behind an access or refresh token, as the token's owner asked."""
        with self._lock:
            found = self._refresh.get(token) or self._access.get(token)
            if found is None or found.grant.provider != provider:
                return False
            found.grant.revoked = True
            return True

    def disconnect(self, grant: Grant, connection_id: str) -> bool:
        """Remove one account from a grant (Xero ``DELETE /connections/{id}``)."""
        with self._lock:
            kept = [c for c in grant.connections if c.connection_id != connection_id]
            if len(kept) == len(grant.connections):
                return False
            grant.connections = kept
            return True

    def revoke_account(self, provider: str, account_id: str, client_id: str | None = None) -> int:
        """The user disconnects the app from an account: every grant loses it.

        A grant left with no account is revoked. Returns how many grants changed.
        """
        changed = 0
        with self._lock:
            for grant in self._grants.values():
                if grant.provider != provider or grant.revoked:
                    continue
                if client_id is not None and grant.client_id != client_id:
                    continue
                kept = [c for c in grant.connections if c.account_id != account_id]
                if len(kept) != len(grant.connections):
                    grant.connections = kept
                    grant.revoked = not kept
                    changed += 1
        return changed

    def clear(self) -> None:
        with self._lock:
            self._codes.clear()
            self._access.clear()
            self._refresh.clear()
            self._grants.clear()
