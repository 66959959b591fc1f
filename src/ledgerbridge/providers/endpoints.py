"""Where each provider lives: the real hosts, the sandbox, or per-URL overrides.

URLs are built from their components (``urlsplit`` and ``httpx.URL``), never by pasting
text: an account id goes into a host or a path only once ``identifiers.check`` has passed
it, and into a path percent-quoted. In production each URL must also be https on one of
its provider's real hosts (``identifiers.check_production_url``), checked as it is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httpx

from ledgerbridge.providers import Provider, identifiers
from ledgerbridge.settings import Settings

ACCOUNT = "{account}"  # placeholder for the realm id / domain prefix in templated URLs


@dataclass(frozen=True)
class Endpoints:
    provider: Provider
    authorize: str
    token: str  # Lightspeed's is per store: contains {account}
    revoke: str | None
    api: str  # contains {account} for QuickBooks and Lightspeed
    connections: str | None = None  # Xero only: the tenants a token may reach
    production: bool = False  # hosts must be the provider's real ones

    def authorize_url(self) -> str:
        return self._url(self.authorize, None)

    def token_url(self, account: str | None) -> str:
        return self._url(self.token, account)

    def revoke_url(self) -> str | None:
        return None if self.revoke is None else self._url(self.revoke, None)

    def api_url(self, account: str) -> str:
        # Checked even where the URL does not carry it (Xero's goes in a header).
        identifiers.check(self.provider, account)
        return self._url(self.api, account)

    def connections_url(self, connection_id: str | None = None) -> str:
        """Xero's ``/connections``, or one connection under it."""
        if self.connections is None:
            raise ValueError(f"{self.provider.value} has no connections endpoint")
        if connection_id is None:
            return self._url(self.connections, None)
        # Xero's connection ids are UUIDs, like its tenant ids: the same check holds both.
        identifiers.check_xero_connection_id(connection_id)
        return self._url(f"{self.connections.rstrip('/')}/{ACCOUNT}", connection_id)

    def _url(self, template: str, account: str | None) -> str:
        url = fill(template, self.provider, account)
        if self.production:
            identifiers.check_production_url(self.provider, url)
        return str(url)


def fill(template: str, provider: Provider, account: str | None) -> httpx.URL:
    """``template`` with ``{account}`` replaced by a checked account id, built by components."""
    parts = urlsplit(template)
    host = parts.hostname or ""
    path = parts.path
    if ACCOUNT in template:
        value = identifiers.check(provider, account)
        # A checked id is a DNS label, digits or a UUID: nothing in it is URL syntax.
        host = host.replace(ACCOUNT, value)
        path = path.replace(ACCOUNT, quote(value, safe=""))
    url = httpx.URL(scheme=parts.scheme, host=host, port=parts.port, path=path)
    if parts.query:
        url = url.copy_with(query=parts.query.encode())
    if url.raw_host.decode("ascii", errors="replace") != host:
        raise identifiers.InvalidIdentifier(provider)
    return url


REAL: dict[Provider, Endpoints] = {
    Provider.xero: Endpoints(
        provider=Provider.xero,
        authorize="https://login.xero.com/identity/connect/authorize",
        token="https://identity.xero.com/connect/token",
        revoke="https://identity.xero.com/connect/revocation",
        api="https://api.xero.com/api.xro/2.0",
        connections="https://api.xero.com/connections",
    ),
    Provider.quickbooks: Endpoints(
        provider=Provider.quickbooks,
        authorize="https://appcenter.intuit.com/connect/oauth2",
        token="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
        revoke="https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
        api="https://quickbooks.api.intuit.com/v3/company/{account}",
    ),
    Provider.lightspeed: Endpoints(
        provider=Provider.lightspeed,
        authorize="https://secure.retail.lightspeed.app/connect",
        token="https://{account}.retail.lightspeed.app/api/1.0/token",
        revoke=None,
        api="https://{account}.retail.lightspeed.app/api/2.0",
    ),
}


def sandbox(origin: str) -> dict[Provider, Endpoints]:
    """The same paths under the sandbox's origin (see docs/sandbox.md)."""
    o = origin.rstrip("/")
    return {
        Provider.xero: Endpoints(
            provider=Provider.xero,
            authorize=f"{o}/xero/identity/connect/authorize",
            token=f"{o}/xero/identity/connect/token",
            revoke=f"{o}/xero/identity/connect/revocation",
            api=f"{o}/xero/api.xro/2.0",
            connections=f"{o}/xero/connections",
        ),
        Provider.quickbooks: Endpoints(
            provider=Provider.quickbooks,
            authorize=f"{o}/quickbooks/connect/oauth2",
            token=f"{o}/quickbooks/oauth2/v1/tokens/bearer",
            revoke=f"{o}/quickbooks/oauth2/v1/tokens/revoke",
            api=f"{o}/quickbooks/v3/company/{ACCOUNT}",
        ),
        Provider.lightspeed: Endpoints(
            provider=Provider.lightspeed,
            authorize=f"{o}/lightspeed/connect",
            token=f"{o}/lightspeed/{ACCOUNT}/api/1.0/token",
            revoke=None,
            api=f"{o}/lightspeed/{ACCOUNT}/api/2.0",
        ),
    }


def endpoints_for(settings: Settings, provider: Provider) -> Endpoints:
    base = sandbox(settings.sandbox_url)[provider] if settings.sandbox_url else REAL[provider]
    overrides: dict[str, object] = {
        field: value
        for field in ("authorize", "token", "revoke", "api")
        if (value := getattr(settings, f"{provider.value}_{field}_url"))
    }
    return Endpoints(**{**base.__dict__, **overrides, "production": settings.is_production})
