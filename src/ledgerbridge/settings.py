"""Configuration: only `LEDGERBRIDGE_*` environment variables, with safe embedded defaults.

``LEDGERBRIDGE_ENV`` unset means development, unless the settings look like production
(a PostgreSQL database, real provider credentials): then the process refuses to start
until the environment is named. On the embedded SQLite database, missing secrets are
generated once into the data dir (with a warning); never on PostgreSQL. In production,
every missing or unsafe setting is named at once, one line each, and the process refuses
to start.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Iterator
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import structlog
from pydantic import Field, PrivateAttr, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SANDBOX_CLIENT = ("sandbox-client-id", "sandbox-client-secret")
PROVIDERS = ("xero", "quickbooks", "lightspeed")
PROVIDER_URLS = ("authorize", "token", "revoke", "api")
MIN_DISTINCT_CHARACTERS = 10  # a secret with fewer is a pattern, not random
MIN_DISTINCT_KEY_BYTES = 16  # 32 random bytes have ~30 distinct values
# The Standard Webhooks retry schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
# 14 h, 20 h, 24 h (each the wait before that attempt).
DEFAULT_WEBHOOK_SCHEDULE = (
    0.0,
    5.0,
    300.0,
    1800.0,
    7200.0,
    18000.0,
    36000.0,
    50400.0,
    72000.0,
    86400.0,
)
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

    env: Environment | None = None  # unset: development, unless it looks like production
    data_dir: Path = Path(".ledgerbridge")
    database_url: str | None = None
    db_pool_size: int = Field(10, ge=1, le=200)
    db_pool_timeout: float = Field(10.0, gt=0)
    db_connect_timeout: int = Field(2, ge=1, le=60)
    # Requests at work at once (default: the pool size), how long others may wait, how many.
    api_concurrency: int | None = Field(None, ge=1, le=1000)
    api_queue_seconds: float = Field(15.0, ge=0, le=300)
    api_queue_limit: int = Field(1000, ge=0, le=100_000)
    # The durable-execution executor this worker runs as (runtime.py); stable across restarts.
    executor_id: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[\w.:-]+$")
    executor_timeout_seconds: float = Field(60.0, ge=5, le=3600)

    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_leeway_seconds: int = Field(30, ge=0, le=300)
    jwt_max_age: int = Field(86_400, ge=60, le=366 * 86_400)  # longest token lifetime, seconds
    jwks_timeout_seconds: float = Field(3.0, gt=0, le=30)
    jwks_failure_cache_seconds: float = Field(10.0, ge=0, le=600)

    secret_key: SecretStr | None = None  # keys API-key hashes and OAuth state
    # Earlier secret keys still accepted during a rotation's grace period (comma-separated).
    secret_key_previous: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(1024 * 1024, ge=1024)  # largest request body but uploads
    token_encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    # Providers. LEDGERBRIDGE_SANDBOX_URL points every provider at a local sandbox and
    # defaults the OAuth clients to the sandbox's own; each URL can also be overridden.
    sandbox_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"  # where providers redirect back to us
    redirect_allowlist: Annotated[list[str], NoDecode] = Field(default_factory=list)
    oauth_state_seconds: int = Field(600, ge=30, le=3600)
    token_refresh_skew_seconds: int = Field(120, ge=0, le=3600)
    # How long a refresh may take before another caller takes it over (connections/tokens.py).
    token_refresh_lease_seconds: int = Field(90, ge=1, le=3600)
    # Each provider account's call budget, shared by all processes (see providers/budget.py).
    provider_call_budgets: bool = True
    # A sync call that would wait longer for its budget gives its queue slot back (deferred).
    budget_wait_seconds: float = Field(5.0, ge=0, le=600)
    xero_calls_per_minute: int = Field(60, ge=1)
    xero_calls_per_day: int = Field(5_000, ge=1)
    quickbooks_calls_per_second: int = Field(10, ge=1)
    quickbooks_calls_per_minute: int = Field(500, ge=1)
    lightspeed_calls_per_5_minutes: int = Field(350, ge=1)  # 300 per register + 50
    audit_retention_days: int = Field(30, ge=1, le=3650)
    event_retention_days: int = Field(90, ge=1, le=3650)
    sync_run_retention_days: int = Field(90, ge=1, le=3650)
    oauth_state_retention_days: int = Field(7, ge=1, le=3650)
    workflow_history_retention_days: int = Field(14, ge=1, le=3650)
    # Every provider answer is read whole: at most this many bytes, within this deadline.
    provider_max_body_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    provider_call_deadline_seconds: float = Field(120.0, gt=0, le=3600)
    # A sweep that would mark more than this share of a type deleted reads it again first.
    sweep_confirm_share: float = Field(0.5, gt=0, le=1)
    sync_page_size: int | None = Field(None, ge=1, le=1000)  # None: each provider's largest
    # The drift audit (sync/drift.py): every object type of every connection re-read in
    # full at least every drift_audit_days, its calls taken only while the account has used
    # less than drift_audit_budget_share of each budget window; a running audit gives its
    # queue slot to a waiting sync after drift_audit_slice_seconds.
    drift_audit_enabled: bool = True
    drift_audit_days: float = Field(7.0, gt=0, le=365)
    drift_audit_budget_share: float = Field(0.5, gt=0, le=1)
    drift_audit_slice_seconds: float = Field(60.0, ge=0, le=3600)
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
    # Incoming provider webhooks (inbound/): Xero's webhook key and QuickBooks' verifier
    # token (Lightspeed signs with the OAuth client secret); a provider without its key has
    # every delivery refused. A burst of notifications (each within ``coalesce`` seconds of
    # the last, for at most ``max_wait``) becomes one sync; each notification is remembered
    # (to drop a resend) for a while.
    xero_webhook_key: SecretStr | None = None
    quickbooks_webhook_verifier: SecretStr | None = None
    provider_webhook_coalesce_seconds: float = Field(3.0, ge=0, le=300)
    provider_webhook_max_wait_seconds: float = Field(30.0, ge=0, le=3600)
    provider_webhook_retention_days: int = Field(7, ge=1, le=3650)

    # Outgoing webhooks (webhooks/): private and loopback receivers are refused unless
    # allowed here (link-local never); the retry delays, in seconds, one per attempt.
    webhook_allow_private_networks: bool = False
    webhook_retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_WEBHOOK_SCHEDULE), min_length=1, max_length=50
    )
    webhook_timeout_seconds: float = Field(15.0, gt=0, le=60)
    webhook_disable_after_days: float = Field(5.0, gt=0, le=365)
    webhook_dispatch_seconds: int = Field(2, ge=1, le=30)

    redis_url: str | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    api_docs: bool | None = None  # /docs, /redoc, /openapi.json; default: on outside production
    log_level: str = "INFO"
    commit: str | None = None  # set by the build to report the running commit in /health

    # Names of the secrets load_settings generated into the data dir (never set from outside).
    _generated: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @field_validator("cors_origins", "token_encryption_keys", "redirect_allowlist", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _retry_schedule(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _retry_delays(cls, value: list[float]) -> list[float]:
        if any(delay < 0 or delay > 7 * 86_400 for delay in value):
            raise ValueError("each webhook retry delay is 0 to 604800 seconds")
        return value

    @field_validator("secret_key_previous", mode="before")
    @classmethod
    def _previous_secret_keys(cls, value: Any) -> Any:
        return _split_list(value)

    # The settings given by the environment or the caller, before any development default.
    _explicit: frozenset[str] = PrivateAttr(default=frozenset())

    def model_post_init(self, context: Any, /) -> None:
        self._explicit = frozenset(self.model_fields_set)

    def explicitly_set(self, name: str) -> bool:
        """Whether ``name`` came from the environment (or the caller), not a generated default."""
        return name in self._explicit

    @property
    def secret_keys(self) -> list[str]:
        """The current secret key first, then the previous ones still accepted."""
        current = [self.secret_key] if self.secret_key is not None else []
        return [key.get_secret_value() for key in (*current, *self.secret_key_previous)]

    def oauth_client(self, provider: str) -> tuple[str, str] | None:
        """The OAuth client id and secret for ``provider``, or None when not configured."""
        client_id: str | None = getattr(self, f"{provider}_client_id")
        secret: SecretStr | None = getattr(self, f"{provider}_client_secret")
        if client_id and secret:
            return client_id, secret.get_secret_value()
        if self.sandbox_url and not client_id:
            return SANDBOX_CLIENT
        return None

    def webhook_key(self, provider: str) -> str | None:
        """The key ``provider`` signs its webhooks with, or None when not configured."""
        if provider == "lightspeed":
            client = self.oauth_client("lightspeed")
            return client[1] if client else None
        key = {"xero": self.xero_webhook_key, "quickbooks": self.quickbooks_webhook_verifier}.get(
            provider
        )
        return key.get_secret_value() if key is not None else None

    @property
    def request_concurrency(self) -> int:
        return self.api_concurrency or self.db_pool_size

    @property
    def is_production(self) -> bool:
        return self.env is Environment.production

    @property
    def docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else not self.is_production

    def generated(self, secret: str) -> bool:
        """Whether ``secret`` (e.g. ``"jwt_secret"``) came from the data dir, not from outside."""
        return secret in self._generated

    def production_signs(self) -> list[str]:
        """What makes these settings look like production, one sentence each."""
        signs = []
        if not self.is_sqlite:
            signs.append("LEDGERBRIDGE_DATABASE_URL points at PostgreSQL")
        for provider in PROVIDERS:
            client_id = getattr(self, f"{provider}_client_id")
            secret = getattr(self, f"{provider}_client_secret")
            if (client_id and client_id != SANDBOX_CLIENT[0]) or (
                secret and secret.get_secret_value() != SANDBOX_CLIENT[1]
            ):
                signs.append(f"LEDGERBRIDGE_{provider.upper()}_CLIENT_ID/SECRET are set")
        return signs

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{(self.data_dir / 'ledgerbridge.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")

    @property
    def libpq_database_url(self) -> str:
        """The database URL as psycopg and DBOS take it (``postgresql://``, no driver)."""
        return self.resolved_database_url.replace("postgresql+psycopg://", "postgresql://", 1)

    @property
    def dbos_system_database_url(self) -> str:
        """DBOS's tables: a schema of our PostgreSQL database, or a SQLite file of their own."""
        if self.is_sqlite:
            return f"sqlite:///{(self.data_dir / 'dbos.db').resolve()}"
        return self.libpq_database_url

    def problems(self) -> list[str]:
        """Every missing or unsafe production setting, one line each saying what to set."""
        found: list[str] = []
        if self.is_sqlite:
            found.append(
                "LEDGERBRIDGE_DATABASE_URL must point at PostgreSQL (postgresql://...) in "
                "production, not the embedded SQLite file"
            )
        if self.jwt_secret is None and not self.jwt_jwks_url:
            found.append("LEDGERBRIDGE_JWT_SECRET or LEDGERBRIDGE_JWT_JWKS_URL is missing")
        for name, secret in (("JWT_SECRET", self.jwt_secret), ("SECRET_KEY", self.secret_key)):
            value = secret.get_secret_value() if secret is not None else None
            if value is None:
                if name == "SECRET_KEY":
                    found.append("LEDGERBRIDGE_SECRET_KEY is missing")
            elif len(value) < 32:
                found.append(f"LEDGERBRIDGE_{name} is too short (at least 32 characters)")
            elif low_entropy(value):
                found.append(
                    f"LEDGERBRIDGE_{name} looks like a pattern, not a random secret: set it to "
                    "one, e.g. from `openssl rand -base64 48`"
                )
        if not self.jwt_audience:
            found.append(
                "LEDGERBRIDGE_JWT_AUDIENCE is missing: set it to the `aud` claim your host app "
                "puts in its tokens"
            )
        if not self.token_encryption_keys:
            found.append(
                "LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS is missing (generate one with "
                "`ledgerbridge keys generate`)"
            )
        for index, key in enumerate(self.token_encryption_keys):
            raw = _aes256_key(key.get_secret_value())
            if raw is None:
                found.append(
                    f"LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS entry {index + 1} is not a base64 "
                    "32-byte key"
                )
            elif len(set(raw)) < MIN_DISTINCT_KEY_BYTES:
                found.append(
                    f"LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS entry {index + 1} is not random "
                    "(repeated bytes): replace it with `ledgerbridge keys generate`"
                )
        found.extend(self._reused_secrets())
        found.extend(self._plain_http_urls())
        if "*" in self.cors_origins:
            found.append("LEDGERBRIDGE_CORS_ORIGINS must list the browser origins allowed, not *")
        if self.sandbox_url:
            found.append(
                "LEDGERBRIDGE_SANDBOX_URL must be unset in production (it sends every provider "
                "call, and any client credentials, to an emulator)"
            )
        return found

    def _secrets(self) -> Iterator[tuple[str, str]]:
        """Every secret by setting name, for the reuse check."""
        for name in ("jwt_secret", "secret_key"):
            secret: SecretStr | None = getattr(self, name)
            if secret is not None:
                yield f"LEDGERBRIDGE_{name.upper()}", secret.get_secret_value()
        for index, key in enumerate(self.token_encryption_keys):
            raw = _aes256_key(key.get_secret_value())
            value = raw.hex() if raw is not None else key.get_secret_value()
            yield f"LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS entry {index + 1}", value
        for provider in PROVIDERS:
            client_secret: SecretStr | None = getattr(self, f"{provider}_client_secret")
            if client_secret is not None:
                name = f"LEDGERBRIDGE_{provider.upper()}_CLIENT_SECRET"
                yield name, client_secret.get_secret_value()
        for name in ("xero_webhook_key", "quickbooks_webhook_verifier"):
            webhook_key: SecretStr | None = getattr(self, name)
            if webhook_key is not None:
                yield f"LEDGERBRIDGE_{name.upper()}", webhook_key.get_secret_value()

    def _reused_secrets(self) -> list[str]:
        first_use: dict[str, str] = {}
        found = []
        for name, value in self._secrets():
            if value in first_use:
                found.append(
                    f"{name} is the same secret as {first_use[value]}: give each setting "
                    "a secret of its own"
                )
            else:
                first_use[value] = name
        return found

    def _plain_http_urls(self) -> list[str]:
        urls = [
            ("LEDGERBRIDGE_PUBLIC_URL", self.public_url, "where providers send the browser back"),
            ("LEDGERBRIDGE_JWT_JWKS_URL", self.jwt_jwks_url, "the host app's signing keys"),
        ]
        urls += [
            ("LEDGERBRIDGE_REDIRECT_ALLOWLIST", origin, "an origin the browser is sent to")
            for origin in self.redirect_allowlist
        ]
        for provider in PROVIDERS:
            for kind in PROVIDER_URLS:
                name = f"{provider}_{kind}_url"
                urls.append((f"LEDGERBRIDGE_{name.upper()}", getattr(self, name), "a provider URL"))
        return [
            f"{name} must be an https:// URL ({what}), not {url}"
            for name, url, what in urls
            if url is not None and not _is_https(url)
        ]


def normalise_database_url(url: str) -> str:
    """Accept the usual spellings and always use psycopg 3 for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _aes256_key(value: str) -> bytes | None:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return raw if len(raw) == 32 else None


def _is_https(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname)


def low_entropy(secret: str) -> bool:
    """A secret made of a short repeated pattern, or of too few distinct characters."""
    if len(set(secret)) < MIN_DISTINCT_CHARACTERS:
        return True
    length = len(secret)
    return any(
        length % period == 0 and secret == secret[:period] * (length // period)
        for period in range(1, length // 2 + 1)
    )


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
    """Read the environment, then refuse unsafe settings or fill development secrets.

    Production refuses every missing or unsafe setting. Development must be named when
    the settings look like production. Missing secrets are generated into the data dir
    only on the embedded SQLite database: on PostgreSQL each process would make its own.
    """
    settings = Settings(**overrides)
    if settings.is_production:
        _refuse("refusing to start in production", settings.problems())
        return settings
    if settings.env is None:
        _refuse(
            "refusing to start",
            [
                f"{sign} but LEDGERBRIDGE_ENV is unset: set LEDGERBRIDGE_ENV=production "
                "(or LEDGERBRIDGE_ENV=development, or --dev, to run it as development)"
                for sign in settings.production_signs()
            ],
        )
    missing = [
        name
        for name, unset in (
            ("jwt_secret", settings.jwt_secret is None and not settings.jwt_jwks_url),
            ("secret_key", settings.secret_key is None),
            ("token_encryption_key", not settings.token_encryption_keys),
        )
        if unset
    ]
    if not missing:
        return settings
    if not settings.is_sqlite:
        _refuse(
            "refusing to start",
            [
                f"{_SECRET_SETTINGS[name]} is missing: secrets are generated only for the "
                "embedded SQLite database; on PostgreSQL set it, in development too"
                for name in missing
            ],
        )
    dev = _development_secrets(settings.data_dir)
    if "jwt_secret" in missing:
        settings.jwt_secret = SecretStr(dev["jwt_secret"])
    if "secret_key" in missing:
        settings.secret_key = SecretStr(dev["secret_key"])
    if "token_encryption_key" in missing:
        settings.token_encryption_keys = [SecretStr(dev["token_encryption_key"])]
    settings._generated = frozenset(missing)
    return settings


_SECRET_SETTINGS = {
    "jwt_secret": "LEDGERBRIDGE_JWT_SECRET",
    "secret_key": "LEDGERBRIDGE_SECRET_KEY",
    "token_encryption_key": "LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS",
}


def _refuse(heading: str, problems: list[str]) -> None:
    if problems:
        raise UnsafeConfiguration(f"{heading}:\n" + "\n".join(f"  - {p}" for p in problems))
