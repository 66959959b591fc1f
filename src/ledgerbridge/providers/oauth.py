"""OAuth 2.0 with each provider, through authlib: authorize URLs, code exchange, refresh.

Each provider's quirks (scopes, PKCE, client authentication, where the account id comes
back) are data in ``PROFILES``; the flow itself is authlib's. Callers that keep an audit
trail pass ``observe``: every call to a token endpoint is handed to it, answered or not.

The client secret is attached only here, and the client that carries it sends requests
only to the origin of the endpoint it was made for (the token or the revocation URL):
anything else raises ``SecretWouldLeak`` before a connection is opened.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import stamina
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.client import OAuth2Client

from ledgerbridge.providers import Provider, identifiers
from ledgerbridge.providers.endpoints import endpoints_for
from ledgerbridge.settings import Settings

TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class NotConfigured(Exception):
    """The provider has no OAuth client configured here."""


class InvalidGrant(Exception):
    """The provider refused the code or refresh token for good: the user must reconnect."""


class ProviderUnavailable(Exception):
    """A transient failure (network, 5xx, 429): worth retrying later."""


class SecretWouldLeak(Exception):
    """A request carrying client credentials aimed somewhere other than its token endpoint."""


@dataclass(frozen=True)
class Profile:
    scopes: tuple[str, ...]
    pkce: bool
    auth_method: str  # how the client authenticates at the token endpoint
    account_param: str | None  # the callback parameter naming the account, if any


PROFILES: dict[Provider, Profile] = {
    Provider.xero: Profile(
        scopes=(
            "openid",
            "profile",
            "email",
            "offline_access",
            "accounting.transactions",
            "accounting.contacts",
            "accounting.settings",
        ),
        pkce=True,
        auth_method="client_secret_basic",
        account_param=None,  # one consent may cover several tenants: see /connections
    ),
    Provider.quickbooks: Profile(
        scopes=("com.intuit.quickbooks.accounting",),
        pkce=False,
        auth_method="client_secret_basic",
        account_param="realmId",
    ),
    Provider.lightspeed: Profile(
        scopes=(),
        pkce=False,
        auth_method="client_secret_post",
        account_param="domain_prefix",
    ),
}


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    scopes: list[str] = field(default_factory=list)
    account: str | None = None  # Lightspeed names its store in the token response


@dataclass(frozen=True)
class Call:
    """One HTTP exchange with a provider, as it went."""

    request: httpx.Request
    response: httpx.Response | None
    error: str | None
    duration_ms: int


Observer = Callable[[Call], None]


class _ObservedTransport(httpx.BaseTransport):
    """Hands every exchange to ``observe``, the body read, before the client sees it."""

    def __init__(self, observe: Observer) -> None:
        self._inner = httpx.HTTPTransport()
        self._observe = observe

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = self._inner.handle_request(request)
            response.read()
        except httpx.TransportError as exc:
            self._observe(Call(request, None, f"{type(exc).__name__}: {exc}", _ms(started)))
            raise
        self._observe(Call(request, response, None, _ms(started)))
        return response

    def close(self) -> None:
        self._inner.close()


def observed_transport(observe: Observer | None) -> httpx.BaseTransport | None:
    """A transport reporting each exchange to ``observe``; None (httpx's own) without one."""
    return _ObservedTransport(observe) if observe else None


Origin = tuple[str, str, int | None]


def _origin(url: httpx.URL | str) -> Origin:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.host, parsed.port


class _SecretGuard(httpx.BaseTransport):
    """Sends only to ``origins``: the client it serves holds the provider's client secret."""

    def __init__(self, inner: httpx.BaseTransport | None, origins: set[Origin]) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self._origins = origins

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if _origin(request.url) not in self._origins:
            raise SecretWouldLeak(
                f"refused to send OAuth client credentials to {request.url.host}: "
                "only the provider's token or revocation endpoint may receive them"
            )
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


class _ClientAuth(httpx.Auth, ClientAuth):  # type: ignore[misc]
    """authlib's client authentication (Basic or in the body) as an ``httpx.Auth``."""

    requires_request_body = True

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url, headers, body = self.prepare(
            request.method, str(request.url), request.headers, request.content
        )
        headers["Content-Length"] = str(len(body))
        yield httpx.Request(
            request.method, url, headers=headers, content=body, extensions=request.extensions
        )


class _OAuthClient(OAuth2Client):  # type: ignore[misc]
    """authlib's OAuth 2.0 protocol over our own ``httpx.Client``. (authlib's ready-made
    httpx integration is deprecated in favour of another HTTP library.)"""

    client_auth_class = _ClientAuth
    oauth_error_class = OAuthError


@contextmanager
def _client(
    settings: Settings,
    provider: Provider,
    redirect_uri: str | None = None,
    observe: Observer | None = None,
    *,
    sends_to: str | None = None,
) -> Iterator[_OAuthClient]:
    """An OAuth client holding the credentials; it may send only to ``sends_to``'s origin."""
    credentials = settings.oauth_client(provider.value)
    if credentials is None:
        raise NotConfigured(
            f"no OAuth client for {provider.value}: set LEDGERBRIDGE_{provider.value.upper()}"
            "_CLIENT_ID and _CLIENT_SECRET (or LEDGERBRIDGE_SANDBOX_URL)"
        )
    profile = PROFILES[provider]
    transport = _SecretGuard(
        observed_transport(observe), {_origin(sends_to)} if sends_to else set()
    )
    with httpx.Client(timeout=TIMEOUT, transport=transport) as http:
        yield _OAuthClient(
            http,
            client_id=credentials[0],
            client_secret=credentials[1],
            scope=" ".join(profile.scopes) or None,
            redirect_uri=redirect_uri,
            token_endpoint_auth_method=profile.auth_method,
            code_challenge_method="S256" if profile.pkce else None,
        )


def authorization_url(
    settings: Settings,
    provider: Provider,
    *,
    state: str,
    redirect_uri: str,
    code_verifier: str | None,
) -> str:
    with _client(settings, provider, redirect_uri) as client:
        extra = {"code_verifier": code_verifier} if PROFILES[provider].pkce else {}
        url, _ = client.create_authorization_url(
            endpoints_for(settings, provider).authorize_url(), state=state, **extra
        )
        return str(url)


def _token_set(provider: Provider, token: dict[str, Any], asked_at: datetime) -> TokenSet:
    # Prefer expires_in: authlib's own expires_at is truncated to whole seconds. It counts
    # from when the provider issued the token, before its answer reached us: from when we
    # asked, so that a slow answer never makes the token look longer-lived than it is.
    if token.get("expires_in"):
        expires_at = asked_at + timedelta(seconds=float(token["expires_in"]))
    elif token.get("expires_at"):
        expires_at = datetime.fromtimestamp(float(token["expires_at"]), UTC)
    else:
        expires_at = datetime.now(UTC) + timedelta(seconds=1800)
    scope = token.get("scope") or ""
    return TokenSet(
        access_token=str(token["access_token"]),
        refresh_token=token.get("refresh_token"),
        expires_at=expires_at,
        scopes=scope.split() if isinstance(scope, str) else list(scope),
        account=_answered_account(provider, token.get("domain_prefix")),
    )


def _answered_account(provider: Provider, value: object) -> str | None:
    """The account a token response names (Lightspeed's store), checked like any other."""
    if value is None:
        return None
    return identifiers.check(provider, value, "account id in the token response")


def _call_token_endpoint(provider: Provider, operation: str, call: Any) -> TokenSet:
    try:
        asked_at = datetime.now(UTC)
        return _token_set(provider, call(), asked_at)
    except OAuthError as exc:
        if exc.error in ("invalid_grant", "invalid_client", "unauthorized_client"):
            raise InvalidGrant(f"{operation} refused: {exc.error}") from None
        raise ProviderUnavailable(f"{operation} failed: {exc.error}") from None
    except (httpx.TransportError, ValueError, KeyError) as exc:
        # ValueError/KeyError: a 5xx page or a body without a token is not an answer.
        raise ProviderUnavailable(f"{operation} failed: {type(exc).__name__}") from None


def exchange_code(
    settings: Settings,
    provider: Provider,
    *,
    code: str,
    redirect_uri: str,
    code_verifier: str | None,
    account: str | None,
    observe: Observer | None = None,
) -> TokenSet:
    url = endpoints_for(settings, provider).token_url(account)
    with _client(settings, provider, redirect_uri, observe, sends_to=url) as client:
        extra = {"code_verifier": code_verifier} if code_verifier else {}
        return _call_token_endpoint(
            provider,
            "code exchange",
            lambda: client.fetch_token(url, code=code, grant_type="authorization_code", **extra),
        )


@stamina.retry(on=ProviderUnavailable, attempts=3, wait_initial=0.2, wait_max=2.0)
def refresh(
    settings: Settings,
    provider: Provider,
    *,
    refresh_token: str,
    account: str | None,
    observe: Observer | None = None,
) -> TokenSet:
    """A new token set; transient failures are retried with backoff, ``InvalidGrant`` never.

    A stored account id that is not valid, or an answer naming another account, is an
    ``InvalidGrant``: the connection must be connected again."""
    try:
        url = endpoints_for(settings, provider).token_url(account)
        with _client(settings, provider, observe=observe, sends_to=url) as client:
            tokens = _call_token_endpoint(
                provider,
                "token refresh",
                lambda: client.refresh_token(url, refresh_token=refresh_token),
            )
    except identifiers.InvalidIdentifier as exc:
        raise InvalidGrant(f"token refresh refused: {exc}") from None
    if account and tokens.account and tokens.account != account:
        raise InvalidGrant("token refresh refused: the provider answered for another account")
    return tokens


def revoke(
    settings: Settings,
    provider: Provider,
    *,
    refresh_token: str,
    observe: Observer | None = None,
) -> bool:
    """Revoke at the provider where it can: True once the token is revoked, or unknown to
    the provider (a 400: nothing left to revoke); False when it has no revocation endpoint.
    ``ProviderUnavailable`` for anything worth trying again (network, 401/403, 429, 5xx)."""
    url = endpoints_for(settings, provider).revoke_url()
    if url is None:
        return False
    with _client(settings, provider, observe=observe, sends_to=url) as client:
        try:
            response = client.revoke_token(
                url, token=refresh_token, token_type_hint="refresh_token"
            )
        except httpx.TransportError as exc:
            raise ProviderUnavailable(f"revocation failed: {type(exc).__name__}") from None
    if response.is_success or response.status_code == 400:
        return True
    raise ProviderUnavailable(f"revocation answered {response.status_code}")
