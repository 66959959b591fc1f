"""Which provider accounts a fresh consent covers.

The provider's own answer wins over a caller's hint: Xero lists the tenants a token
reaches; Lightspeed names its store in the token response, and a hint that names another
store is refused (``AccountMismatch``); QuickBooks says nothing of its realm, so the hint
is used only once the company endpoint for that realm accepts the token. Every id a
provider answers with is checked against its format (``identifiers``) before use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from ledgerbridge.providers import Provider, identifiers
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


class AccountMismatch(ValueError):
    """The caller named an account the provider says this consent is not for."""


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
                response = http.get(endpoints.connections_url())
                response.raise_for_status()
                return [
                    _xero_tenant(c)
                    for c in response.json()
                    if c.get("tenantType", "ORGANISATION") == "ORGANISATION"
                ]
            account = _account(provider, token, hint)
            return [
                RemoteAccount(
                    account, _account_name(http, provider, endpoints.api_url(account), account)
                )
            ]
    except httpx.HTTPError as exc:
        raise ProviderUnavailable(f"could not list the connected accounts: {exc}") from None


def _xero_tenant(connection: dict[str, Any]) -> RemoteAccount:
    tenant_id = identifiers.check(Provider.xero, connection.get("tenantId"), "tenantId answered")
    connection_id = identifiers.check_xero_connection_id(connection.get("id"))
    return RemoteAccount(tenant_id, str(connection.get("tenantName") or tenant_id), connection_id)


def _account(provider: Provider, token: TokenSet, hint: str | None) -> str:
    """The one account a QuickBooks or Lightspeed consent covers; the provider's word first."""
    if hint is not None:
        identifiers.check(provider, hint)
    if token.account is not None:  # checked as the token response was read
        if hint is not None and hint != token.account:
            raise AccountMismatch(
                f"{provider.value} says this consent is for another account than the one named"
            )
        return token.account
    if hint is None:
        raise MissingAccount(f"{provider.value} did not name the connected account")
    return hint


def _account_name(http: httpx.Client, provider: Provider, api: str, account: str) -> str:
    """The account's display name; the id itself when the provider will not say."""
    if provider is Provider.quickbooks:
        response = http.get(
            f"{api}/companyinfo/{quote(account, safe='')}", params={"minorversion": 75}
        )
        if response.status_code in (401, 403):
            # The token does not reach the realm the caller named.
            raise AccountMismatch("quickbooks refused this consent's token for the realm named")
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
    url = endpoints_for(settings, Provider.xero).connections_url(connection_id)
    with httpx.Client(timeout=TIMEOUT, transport=observed_transport(observe)) as http:
        response = http.delete(url, headers={"Authorization": f"Bearer {access_token}"})
        return response.status_code in (200, 204, 404)
