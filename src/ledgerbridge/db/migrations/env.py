"""Alembic environment: one migration history for SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from ledgerbridge.tables import metadata

# Any number of processes may start at once; only one migrates at a time.
_PG_MIGRATION_LOCK = 7_294_118_305


def run_migrations_online() -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url)
    with engine.connect() as connection:
        is_pg = connection.dialect.name == "postgresql"
        if is_pg:
            connection.execute(text(f"SELECT pg_advisory_lock({_PG_MIGRATION_LOCK})"))
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=not is_pg,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if is_pg:
                connection.execute(text(f"SELECT pg_advisory_unlock({_PG_MIGRATION_LOCK})"))
                connection.commit()
    engine.dispose()


run_migrations_online()
