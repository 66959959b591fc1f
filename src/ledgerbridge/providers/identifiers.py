"""The one place that says what a provider account id may look like, and where URLs may go.

A provider account id (Lightspeed domain prefix, QuickBooks realm id, Xero tenant id) is
data: it is checked against its provider's strict format wherever it enters — a request
body, the OAuth callback's query, a provider's answer — and again whenever a URL is built
from it, so a row stored before these checks existed never reaches a URL either.

In production every provider URL must be https on one of that provider's real hosts
(``HOSTS``); anything else raises ``DisallowedHost`` when the URL is built.
"""

from __future__ import annotations

import re
from typing import Annotated

import httpx
from pydantic import StringConstraints

from ledgerbridge.providers import Provider

LIGHTSPEED_PREFIX = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"  # one DNS label, no dots
QUICKBOOKS_REALM = r"[0-9]{1,32}"
XERO_TENANT = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # a UUID

PATTERNS: dict[Provider, str] = {
    Provider.lightspeed: LIGHTSPEED_PREFIX,
    Provider.quickbooks: QUICKBOOKS_REALM,
    Provider.xero: XERO_TENANT,
}
DESCRIPTIONS: dict[Provider, str] = {
    Provider.lightspeed: "a domain prefix: one DNS label of lowercase letters, digits and "
    "hyphens (1-63, no leading or trailing hyphen, no dots)",
    Provider.quickbooks: "a realm id: 1-32 digits",
    Provider.xero: "a tenant id: a UUID in lowercase hexadecimal (8-4-4-4-12)",
}
# The same formats as request field types (422 from validation, documented in OpenAPI).
DomainPrefix = Annotated[str, StringConstraints(pattern=rf"^{LIGHTSPEED_PREFIX}$")]
RealmId = Annotated[str, StringConstraints(pattern=rf"^{QUICKBOOKS_REALM}$")]

# The request field (body or callback query) that carries each provider's account id.
FIELDS: dict[Provider, str | None] = {
    Provider.lightspeed: "domain_prefix",
    Provider.quickbooks: "realm_id",
    Provider.xero: None,  # one consent may cover several tenants: Xero's /connections says
}

# Hosts each provider really serves from; a Lightspeed store is ``<prefix>.retail.lightspeed.app``.
HOSTS: dict[Provider, frozenset[str]] = {
    Provider.xero: frozenset({"login.xero.com", "identity.xero.com", "api.xero.com"}),
    Provider.quickbooks: frozenset(
        {
            "appcenter.intuit.com",
            "oauth.platform.intuit.com",
            "developer.api.intuit.com",
            "quickbooks.api.intuit.com",
            "sandbox-quickbooks.api.intuit.com",
        }
    ),
    Provider.lightspeed: frozenset({"secure.retail.lightspeed.app"}),
}
LIGHTSPEED_STORE_HOST = re.compile(rf"{LIGHTSPEED_PREFIX}\.retail\.lightspeed\.app")


class InvalidIdentifier(Exception):
    """A provider account id that is not in its provider's format (the value is never echoed)."""

    def __init__(self, provider: Provider, what: str = "account id") -> None:
        super().__init__(
            f"the {provider.value} {what} is not valid: it must be {DESCRIPTIONS[provider]}"
        )
        self.provider = provider


class DisallowedHost(Exception):
    """A provider URL that points somewhere the provider does not live (production only)."""


def is_valid(provider: Provider, value: object) -> bool:
    # fullmatch on str only: ``$`` would accept a trailing newline, ``\\d`` non-ASCII digits.
    return isinstance(value, str) and re.fullmatch(PATTERNS[provider], value) is not None


def check(provider: Provider, value: object, what: str = "account id") -> str:
    """``value`` when it is in ``provider``'s format; ``InvalidIdentifier`` otherwise."""
    if not is_valid(provider, value):
        raise InvalidIdentifier(provider, what)
    assert isinstance(value, str)
    return value


def check_xero_connection_id(value: object) -> str:
    """Xero's id for one tenant's connection (``DELETE /connections/{id}``): also a UUID."""
    return check(Provider.xero, value, "connection id")


def allowed_host(provider: Provider, host: str) -> bool:
    if host in HOSTS[provider]:
        return True
    return provider is Provider.lightspeed and LIGHTSPEED_STORE_HOST.fullmatch(host) is not None


def check_production_url(provider: Provider, url: httpx.URL) -> httpx.URL:
    """``url`` when it is https on one of ``provider``'s real hosts; ``DisallowedHost`` if not."""
    if url.scheme == "https" and url.port in (None, 443) and allowed_host(provider, url.host):
        return url
    hosts = ", ".join(sorted(HOSTS[provider]))
    if provider is Provider.lightspeed:
        hosts += " or <domain_prefix>.retail.lightspeed.app"
    raise DisallowedHost(
        f"{provider.value} URL {url.scheme}://{url.host}:{url.port or 443} is not one of "
        f"{provider.value}'s hosts: in production provider URLs must be https on {hosts}"
    )
