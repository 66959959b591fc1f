"""Which provider accounts a fresh consent covers."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from ledgerbridge.providers import Provider
from ledgerbridge.providers.endpoints import endpoints_for
from ledgerbridge.providers.oauth import (
    TIMEOUT,
    Observer,
    ProviderUnavailable,
    TokenSet,
    observed_transport,
)
from ledgerbridge.settings import Settings


@dataclass(frozen=True)
class RemoteAccount:
    external_id: str  # Xero tenantId, QuickBooks realmId, Lightspeed domain_prefix
    name: str
    provider_connection_id: str | None = None  # Xero's id for this tenant's connection


class MissingAccount(ValueError):
    """The callback did not say which account was connected."""


def discover(
    settings: Settings,
    provider: Provider,
    token: TokenSet,
    hint: str | None,
    observe: Observer | None = None,
) -> list[RemoteAccount]:
    headers = {"Authorization": f"Bearer {token.access_token}", "Accept": "application/json"}
    endpoints = endpoints_for(settings, provider)
    try:
        transport = observed_transport(observe)
        with httpx.Client(timeout=TIMEOUT, headers=headers, transport=transport) as http:
            if provider is Provider.xero:
                assert endpoints.connections is not None
                response = http.get(endpoints.connections)
                response.raise_for_status()
                return [
                    RemoteAccount(c["tenantId"], c.get("tenantName") or c["tenantId"], c["id"])
                    for c in response.json()
                    if c.get("tenantType", "ORGANISATION") == "ORGANISATION"
                ]
            account = hint or token.account
            if not account:
                raise MissingAccount(f"{provider.value} did not name the connected account")
            return [
                RemoteAccount(
                    account, _account_name(http, provider, endpoints.api_url(account), account)
                )
            ]
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"could not list the connected accounts: {exc}") from None


def _account_name(http: httpx.Client, provider: Provider, api: str, account: str) -> str:
    """The account's display name; the id itself when the provider will not say."""
    if provider is Provider.quickbooks:
        response = http.get(f"{api}/companyinfo/{account}", params={"minorversion": 75})
        if response.is_success:
            return str(response.json().get("CompanyInfo", {}).get("CompanyName") or account)
    if provider is Provider.lightspeed:
        response = http.get(f"{api}/retailer")
        if response.is_success:
            data = response.json().get("data") or {}
            return str(data.get("name") or account)
    return account


def disconnect_xero_tenant(
    settings: Settings, access_token: str, connection_id: str, observe: Observer | None = None
) -> bool:
    """Remove one tenant from a Xero consent (``DELETE /connections/{id}``)."""
    connections = endpoints_for(settings, Provider.xero).connections
    assert connections is not None
    with httpx.Client(timeout=TIMEOUT, transport=observed_transport(observe)) as http:
        response = http.delete(
            f"{connections}/{connection_id}", headers={"Authorization": f"Bearer {access_token}"}
        )
        return response.status_code in (200, 204, 404)
