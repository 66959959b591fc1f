"""Engine and sessions for the embedded SQLite file or PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ledgerbridge.db.tenancy import scope
from ledgerbridge.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


class SystemSQLite(sqlite3.Connection):
    """A connection to DBOS's SQLite system database, opened as DBOS opens it (writers
    take the lock up front, a long busy timeout, foreign keys) but in WAL with
    ``synchronous=NORMAL``, like our own file. DBOS leaves the file in rollback-journal
    mode, where every commit syncs the disk twice (some 14 ms) while holding the one write
    lock, and a push commits several times: that lock alone capped every worker at a few
    operations a second. NORMAL still survives a killed process; only a power cut may
    lose the last commits, never consistency."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.isolation_level = "IMMEDIATE"
        for pragma in (
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
        ):
            self.execute(f"PRAGMA {pragma}")


def system_engine_kwargs(system_database_url: str) -> dict[str, Any]:
    """Engine arguments for DBOS's system database: ``SystemSQLite`` on SQLite."""
    if make_url(system_database_url).get_backend_name() != "sqlite":
        return {}
    return {"connect_args": {"factory": SystemSQLite}}


def make_engine(settings: Settings) -> Engine:
    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url.database, settings)
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=True,
        connect_args={
            "connect_timeout": settings.db_connect_timeout,
            # No server-side prepared statements: a generic plan made while a table was
            # small (a first backfill) would keep scanning it long after it has grown.
            "prepare_threshold": None,
        },
    )


def _sqlite_engine(path: str | None, settings: Settings) -> Engine:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # As many connections as PostgreSQL's pool gets: see overload.py.
    pool: dict[str, Any] = {}
    if path:
        pool = {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_pool_size,
            "pool_timeout": settings.db_pool_timeout,
        }
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30}, **pool)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # A transaction that will write asks for the write lock up front, so it waits its
        # turn instead of failing with "database is locked" when it upgrades mid-way.
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def connect(cls, settings: Settings) -> Database:
        engine = make_engine(settings)
        return cls(engine, sessionmaker(engine, expire_on_commit=False))

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def tenant(self, tenant_id: str, *, read_only: bool = False) -> Iterator[Session]:
        """A transaction that sees only ``tenant_id``'s rows; committed on success."""
        with self._transaction(tenant_id, read_only) as session:
            yield session

    @contextmanager
    def system(self, *, read_only: bool = False) -> Iterator[Session]:
        """A system-level transaction that sees every tenant; committed on success."""
        with self._transaction(None, read_only) as session:
            yield session

    @contextmanager
    def _transaction(self, tenant_id: str | None, read_only: bool) -> Iterator[Session]:
        # On SQLite a transaction that may write takes the write lock when it begins: one
        # that read first and then tried to write would fail at once ("database is
        # locked") whenever another writer got in between. PostgreSQL callers lock the
        # rows they need with SELECT ... FOR UPDATE instead.
        with self.sessions() as session, session.begin():
            scope(session, tenant_id)
            if not read_only and self.is_sqlite:
                session.connection(execution_options={"sqlite_immediate": True})
            yield session

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
