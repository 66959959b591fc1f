"""The long-lived resources one process shares: settings, database, token verifier, Redis."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from redis.asyncio import Redis

from ledgerbridge.connections.vault import Vault
from ledgerbridge.db.engine import Database
from ledgerbridge.security.tokens import TokenVerifier
from ledgerbridge.settings import Settings


@dataclass
class Services:
    settings: Settings
    db: Database
    tokens: TokenVerifier
    vault: Vault
    redis: Redis | None

    @classmethod
    def build(cls, settings: Settings) -> Services:
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        keys = [key.get_secret_value() for key in settings.token_encryption_keys]
        return cls(
            settings,
            Database.connect(settings),
            TokenVerifier(settings),
            Vault.from_keys(keys),
            redis,
        )

    @property
    def secret_key(self) -> str:
        assert self.settings.secret_key is not None  # load_settings guarantees one
        return self.settings.secret_key.get_secret_value()

    async def close(self) -> None:
        self.db.dispose()
        if self.redis is not None:
            await self.redis.aclose()


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
