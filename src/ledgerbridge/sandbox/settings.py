"""How the sandbox behaves: token lifetimes, rate limits, the default OAuth client.

Every value can be set through an environment variable (``LEDGERBRIDGE_SANDBOX_<NAME>``)
and changed at runtime with ``PATCH /_sandbox/settings``. The defaults are the real
providers' figures (see PROVIDERS.md), so a client tested here behaves the same there.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DAY = 86_400


class SandboxSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEDGERBRIDGE_SANDBOX_", extra="forbid", validate_assignment=True
    )

    # The OAuth client every provider accepts out of the box, with any loopback redirect URI.
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"

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

    def access_token_seconds(self, provider: str) -> int:
        seconds: int = getattr(self, f"{provider}_access_token_seconds")
        return seconds

    def refresh_token_seconds(self, provider: str) -> int:
        seconds: int = getattr(self, f"{provider}_refresh_token_seconds")
        return seconds
