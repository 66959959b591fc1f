"""Where each provider lives: the real hosts, the sandbox, or per-URL overrides."""

from __future__ import annotations

from dataclasses import dataclass

from ledgerbridge.providers import Provider
from ledgerbridge.settings import Settings

ACCOUNT = "{account}"  # placeholder for the realm id / domain prefix in templated URLs


@dataclass(frozen=True)
class Endpoints:
    authorize: str
    token: str  # Lightspeed's is per store: contains {account}
    revoke: str | None
    api: str  # contains {account} for QuickBooks and Lightspeed
    connections: str | None = None  # Xero only: the tenants a token may reach

    def token_url(self, account: str | None) -> str:
        return self.token.replace(ACCOUNT, account or "")

    def api_url(self, account: str) -> str:
        return self.api.replace(ACCOUNT, account)


REAL: dict[Provider, Endpoints] = {
    Provider.xero: Endpoints(
        authorize="https://login.xero.com/identity/connect/authorize",
        token="https://identity.xero.com/connect/token",
        revoke="https://identity.xero.com/connect/revocation",
        api="https://api.xero.com/api.xro/2.0",
        connections="https://api.xero.com/connections",
    ),
    Provider.quickbooks: Endpoints(
        authorize="https://appcenter.intuit.com/connect/oauth2",
        token="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
        revoke="https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
        api="https://quickbooks.api.intuit.com/v3/company/{account}",
    ),
    Provider.lightspeed: Endpoints(
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
            authorize=f"{o}/xero/identity/connect/authorize",
            token=f"{o}/xero/identity/connect/token",
            revoke=f"{o}/xero/identity/connect/revocation",
            api=f"{o}/xero/api.xro/2.0",
            connections=f"{o}/xero/connections",
        ),
        Provider.quickbooks: Endpoints(
            authorize=f"{o}/quickbooks/connect/oauth2",
            token=f"{o}/quickbooks/oauth2/v1/tokens/bearer",
            revoke=f"{o}/quickbooks/oauth2/v1/tokens/revoke",
            api=f"{o}/quickbooks/v3/company/{ACCOUNT}",
        ),
        Provider.lightspeed: Endpoints(
            authorize=f"{o}/lightspeed/connect",
            token=f"{o}/lightspeed/{ACCOUNT}/api/1.0/token",
            revoke=None,
            api=f"{o}/lightspeed/{ACCOUNT}/api/2.0",
        ),
    }


def endpoints_for(settings: Settings, provider: Provider) -> Endpoints:
    base = sandbox(settings.sandbox_url)[provider] if settings.sandbox_url else REAL[provider]
    overrides = {
        field: value
        for field in ("authorize", "token", "revoke", "api")
        if (value := getattr(settings, f"{provider.value}_{field}_url"))
    }
    return Endpoints(**{**base.__dict__, **overrides}) if overrides else base
