"""How the sandbox behaves: token lifetimes, rate limits, the default OAuth client.

Every value can be set through an environment variable (``LEDGERBRIDGE_SANDBOX_<NAME>``)
and changed at runtime with ``PATCH /_sandbox/settings``. The defaults are the real
providers' figures (see PROVIDERS.md), so a client tested here behaves the same there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ledgerbridge.sandbox.routing import PROVIDERS

DAY = 86_400
T = TypeVar("T")


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEDGERBRIDGE_SANDBOX_", extra="forbid", validate_assignment=True
    )

    # The OAuth client every provider accepts out of the box, with any loopback redirect URI.
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"

    # Which providers get seeded data (None: all). Seeding every provider at a large
    # ``size`` takes minutes and gigabytes; a benchmark of one provider needs only that one.
    seed_providers: Annotated[list[str] | None, NoDecode] = None

    # Accounts seeded per provider (Xero organisations, QuickBooks companies, Lightspeed
    # stores). None: each provider's own few. More repeat those under new names and ids.
    accounts: int | None = Field(None, ge=1, le=1000)

    # Token lifetimes, in seconds.
    authorization_code_seconds: int = Field(300, ge=1)
    xero_access_token_seconds: int = Field(1800, ge=1)
    xero_refresh_token_seconds: int = Field(60 * DAY, ge=1)
    xero_refresh_grace_seconds: int = Field(1800, ge=0)
    quickbooks_access_token_seconds: int = Field(3600, ge=1)
    quickbooks_refresh_token_seconds: int = Field(100 * DAY, ge=1)
    lightspeed_access_token_seconds: int = Field(DAY, ge=1)
    lightspeed_refresh_token_seconds: int = Field(365 * DAY, ge=1)

    # Rate limits. ``rate_limits=False`` switches every one of them off (benchmarks).
    rate_limits: bool = True
    xero_tenant_concurrent: int = Field(5, ge=1)
    xero_tenant_per_minute: int = Field(60, ge=1)
    xero_tenant_per_day: int = Field(5_000, ge=1)
    xero_app_per_minute: int = Field(10_000, ge=1)
    quickbooks_realm_per_minute: int = Field(500, ge=1)
    quickbooks_realm_app_per_second: int = Field(10, ge=1)
    quickbooks_realm_app_concurrent: int = Field(10, ge=1)
    # Intuit does not promise a Retry-After header on its 429s; None leaves it out.
    quickbooks_retry_after_seconds: int | None = Field(None, ge=0)
    lightspeed_requests_per_register: int = Field(300, ge=1)
    lightspeed_requests_base: int = Field(50, ge=0)
    lightspeed_window_seconds: int = Field(300, ge=1)

    # Webhooks: every retry delay is multiplied by this (tests use a tiny one).
    webhook_retry_scale: float = Field(1.0, ge=0, le=10)

    @field_validator("seed_providers", mode="before")
    @classmethod
    def _split_providers(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        if value.lstrip().startswith("["):  # '["xero"]', as pydantic-settings reads lists
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]  # "xero,quickbooks"

    @field_validator("seed_providers")
    @classmethod
    def _known_providers(cls, value: list[str] | None) -> list[str] | None:
        unknown = sorted(set(value or ()) - set(PROVIDERS))
        if unknown:
            raise ValueError(f"unknown providers {unknown}; choose from {list(PROVIDERS)}")
        return value

    def access_token_seconds(self, provider: str) -> int:
        seconds: int = getattr(self, f"{provider}_access_token_seconds")
        return seconds

    def refresh_token_seconds(self, provider: str) -> int:
        seconds: int = getattr(self, f"{provider}_refresh_token_seconds")
        return seconds


def account_profiles(
    defaults: Sequence[T], wanted: int | None, numbered: Callable[[T, int], T]
) -> list[T]:
    """``wanted`` account profiles (all the defaults when None): the defaults in order, then
    ``numbered(default, n)`` for account n = len(defaults) + 1, ..., cycling the defaults."""
    if wanted is None:
        return list(defaults)
    return [
        defaults[i] if i < len(defaults) else numbered(defaults[i % len(defaults)], i + 1)
        for i in range(wanted)
    ]
