"""Which provider, account and surface a request is for, from its path and headers.

The ledger, fault injection and rate limits all need this before any route runs. The
account is where each provider puts it: Xero's ``xero-tenant-id`` header, the QuickBooks
``{realmId}`` path segment, the Lightspeed ``{domain_prefix}`` path segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PROVIDERS = ("xero", "quickbooks", "lightspeed")
PREFIXES = {provider: f"/{provider}" for provider in PROVIDERS}
CONTROL_PREFIX = "/_sandbox"

Surface = Literal["api", "token", "oauth", "control", "other"]


@dataclass(frozen=True)
class Target:
    provider: str | None
    account: str | None
    surface: Surface


def classify(path: str, tenant_header: str | None = None) -> Target:
    if path.startswith(CONTROL_PREFIX + "/") or path == CONTROL_PREFIX:
        return Target(None, None, "control")
    parts = path.split("/")  # "", provider, ...
    provider = parts[1] if len(parts) > 1 else ""
    rest = parts[2:]
    if provider == "xero":
        if rest[:1] == ["api.xro"]:
            return Target("xero", tenant_header, "api")
        if rest == ["identity", "connect", "token"]:
            return Target("xero", None, "token")
        return Target("xero", None, "oauth")
    if provider == "quickbooks":
        if rest[:2] == ["v3", "company"] and len(rest) > 2:
            return Target("quickbooks", rest[2], "api")
        if rest == ["oauth2", "v1", "tokens", "bearer"]:
            return Target("quickbooks", None, "token")
        return Target("quickbooks", None, "oauth")
    if provider == "lightspeed":
        if len(rest) >= 3 and rest[1] == "api":
            if rest[2:] == ["1.0", "token"]:
                return Target("lightspeed", rest[0], "token")
            return Target("lightspeed", rest[0], "api")
        return Target("lightspeed", None, "oauth")
    return Target(None, None, "other")
