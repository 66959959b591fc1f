"""Configuration: only `LEDGERBRIDGE_*` environment variables, with safe embedded defaults.

In development, missing secrets are generated once into the data dir (with a warning).
In production, every missing or unsafe setting is named at once and the process refuses
to start.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import structlog
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SANDBOX_CLIENT = ("sandbox-client-id", "sandbox-client-secret")
log = structlog.get_logger(__name__)


class Environment(StrEnum):
    development = "development"
    production = "production"


class UnsafeConfiguration(Exception):
    """Raised when production settings are missing or unsafe; the message names each one."""


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGERBRIDGE_", extra="ignore")

    env: Environment = Environment.development
    data_dir: Path = Path(".ledgerbridge")
    database_url: str | None = None
    db_pool_size: int = Field(10, ge=1, le=200)
    db_pool_timeout: float = Field(10.0, gt=0)
    db_connect_timeout: int = Field(2, ge=1, le=60)

    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_leeway_seconds: int = Field(30, ge=0, le=300)

    secret_key: SecretStr | None = None  # keys API-key hashes and OAuth state
    token_encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    # Providers. LEDGERBRIDGE_SANDBOX_URL points every provider at a local sandbox and
    # defaults the OAuth clients to the sandbox's own; each URL can also be overridden.
    sandbox_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"  # where providers redirect back to us
    redirect_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    oauth_state_seconds: int = Field(600, ge=30, le=3600)
    token_refresh_skew_seconds: int = Field(120, ge=0, le=3600)
    # Each provider account's call budget, shared by all processes (see connections/budget.py).
    provider_call_budgets: bool = True
    xero_calls_per_minute: int = Field(60, ge=1)
    xero_calls_per_day: int = Field(5_000, ge=1)
    quickbooks_calls_per_second: int = Field(10, ge=1)
    quickbooks_calls_per_minute: int = Field(500, ge=1)
    lightspeed_calls_per_5_minutes: int = Field(350, ge=1)  # 300 per register + 50
    audit_retention_days: int = Field(30, ge=1, le=3650)
    sync_page_size: int | None = Field(None, ge=1, le=1000)  # None: each provider's largest
    # Fair shares of reconciliation between tenants (see reconcile/limits.py).
    reconcile_max_jobs: int = Field(100, ge=1)  # per tenant
    reconcile_min_schedule_minutes: int = Field(15, ge=1, le=1440)
    reconcile_max_queued_runs: int = Field(20, ge=1)  # per tenant
    xero_client_id: str | None = None
    xero_client_secret: SecretStr | None = None
    xero_authorize_url: str | None = None
    xero_token_url: str | None = None
    xero_revoke_url: str | None = None
    xero_api_url: str | None = None
    quickbooks_client_id: str | None = None
    quickbooks_client_secret: SecretStr | None = None
    quickbooks_authorize_url: str | None = None
    quickbooks_token_url: str | None = None
    quickbooks_revoke_url: str | None = None
    quickbooks_api_url: str | None = None
    lightspeed_client_id: str | None = None
    lightspeed_client_secret: SecretStr | None = None
    lightspeed_authorize_url: str | None = None
    lightspeed_token_url: str | None = None
    lightspeed_revoke_url: str | None = None
    lightspeed_api_url: str | None = None

    redis_url: str | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    commit: str | None = None  # set by the build to report the running commit in /health

    @field_validator("cors_origins", "token_encryption_keys", "redirect_allowlist", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split_list(value)

    def oauth_client(self, provider: str) -> tuple[str, str] | None:
        """The OAuth client id and secret for ``provider``, or None when not configured."""
        client_id: str | None = getattr(self, f"{provider}_client_id")
        secret: SecretStr | None = getattr(self, f"{provider}_client_secret")
        if client_id and secret:
            return client_id, secret.get_secret_value()
        if self.sandbox_url and not client_id:
            return SANDBOX_CLIENT
        return None

    @property
    def is_production(self) -> bool:
        return self.env is Environment.production

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'ledgerbridge.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def dbos_system_database_url(self) -> str:
        """DBOS's tables: a schema of our PostgreSQL database, or a SQLite file of their own."""
        if self.is_sqlite:
            return f"sqlite:///{(self.data_dir / 'dbos.db').resolve()}"
        return self.resolved_database_url

    def problems(self) -> list[str]:
        """Every missing or unsafe production setting, one sentence each."""
        found: list[str] = []
        if self.is_sqlite:
            found.append(
                "LEDGERBRIDGE_DATABASE_URL must point at PostgreSQL (postgresql://...) in "
                "production, not the embedded SQLite file"
            )
        if self.jwt_secret is None and not self.jwt_jwks_url:
            found.append("LEDGERBRIDGE_JWT_SECRET or LEDGERBRIDGE_JWT_JWKS_URL is missing")
        elif self.jwt_secret is not None and len(self.jwt_secret.get_secret_value()) < 32:
            found.append("LEDGERBRIDGE_JWT_SECRET is too short (at least 32 characters)")
        if self.secret_key is None:
            found.append("LEDGERBRIDGE_SECRET_KEY is missing")
        elif len(self.secret_key.get_secret_value()) < 32:
            found.append("LEDGERBRIDGE_SECRET_KEY is too short (at least 32 characters)")
        if not self.token_encryption_keys:
            found.append(
                "LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS is missing (generate one with "
                "`ledgerbridge keys generate`)"
            )
        for index, key in enumerate(self.token_encryption_keys):
            if not _is_aes256_key(key.get_secret_value()):
                found.append(
                    f"LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS entry {index + 1} is not a base64 "
                    "32-byte key"
                )
        return found


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and always use psycopg 3 for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _is_aes256_key(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except ValueError:
        return False


def new_encryption_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _development_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets kept in the data dir, generated on first use."""
    path = data_dir / "secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    data_dir.mkdir(parents=True, exist_ok=True)
    generated = {
        "jwt_secret": secrets.token_urlsafe(48),
        "secret_key": secrets.token_urlsafe(48),
        "token_encryption_key": new_encryption_key(),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(generated, handle)
    log.warning(
        "generated development secrets; set them explicitly in production",
        path=str(path),
    )
    return generated


def load_settings(**overrides: Any) -> Settings:
    """Read the environment, then fill development secrets or refuse unsafe production ones."""
    settings = Settings(**overrides)
    if settings.is_production:
        problems = settings.problems()
        if problems:
            raise UnsafeConfiguration(
                "refusing to start in production:\n" + "\n".join(f"  - {p}" for p in problems)
            )
        return settings
    dev: dict[str, str] | None = None

    def dev_secret(name: str) -> str:
        nonlocal dev
        dev = dev or _development_secrets(settings.data_dir)
        return dev[name]

    if settings.jwt_secret is None and not settings.jwt_jwks_url:
        settings.jwt_secret = SecretStr(dev_secret("jwt_secret"))
    if settings.secret_key is None:
        settings.secret_key = SecretStr(dev_secret("secret_key"))
    if not settings.token_encryption_keys:
        settings.token_encryption_keys = [SecretStr(dev_secret("token_encryption_key"))]
    return settings
