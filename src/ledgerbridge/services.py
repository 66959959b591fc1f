"""The long-lived resources one process shares: settings, database, token vault, Redis.

The context every capability receives. It sits below the capabilities and imports none
of them; the composition root (``runtime.py`` for workers, ``app.py`` for the API) builds
it once per process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dbos import DBOSClient
from fastapi import Request
from redis.asyncio import Redis
from sqlalchemy import Engine, create_engine

from ledgerbridge.db.engine import Database, system_engine_kwargs
from ledgerbridge.providers.budget import CallBudgets
from ledgerbridge.security.vault import Vault
from ledgerbridge.settings import Settings

DBOS_SCHEMA = "dbos"  # DBOS's tables in our PostgreSQL database


@dataclass
class Services:
    settings: Settings
    db: Database
    vault: Vault
    redis: Redis | None
    _dbos_client: DBOSClient | None = field(default=None, init=False)
    _dbos_engine: Engine | None = field(default=None, init=False)  # SQLite only
    _budgets: CallBudgets | None = field(default=None, init=False)

    @property
    def budgets(self) -> CallBudgets:
        if self._budgets is None:
            self._budgets = CallBudgets(self.settings)
        return self._budgets

    @classmethod
    def build(cls, settings: Settings) -> Services:
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        keys = [key.get_secret_value() for key in settings.token_encryption_keys]
        return cls(settings, Database.connect(settings), Vault.from_keys(keys), redis)

    def dbos_client(self) -> DBOSClient:
        """Enqueues durable work from any process, API-only ones included."""
        if self._dbos_client is None:
            url = self.settings.dbos_system_database_url
            if kwargs := system_engine_kwargs(url):
                self._dbos_engine = create_engine(url, pool_pre_ping=True, **kwargs)
            self._dbos_client = DBOSClient(
                system_database_url=url,
                system_database_engine=self._dbos_engine,
                dbos_system_schema=DBOS_SCHEMA,
            )
        return self._dbos_client

    @property
    def secret_key(self) -> str:
        assert self.settings.secret_key is not None  # load_settings guarantees one
        return self.settings.secret_key.get_secret_value()

    async def close(self) -> None:
        self.db.dispose()
        if self._dbos_client is not None:
            self._dbos_client.destroy()
        if self._dbos_engine is not None:
            self._dbos_engine.dispose()  # the client leaves an engine it was given open
        if self._budgets is not None:
            self._budgets.close()
        if self.redis is not None:
            await self.redis.aclose()


async def services(request: Request) -> Services:
    # Async: FastAPI calls a plain function dependency in its thread pool, a hop that
    # costs far more than this lookup.
    found: Services = request.app.state.services
    return found
