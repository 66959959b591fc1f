"""Migration 0014 (provider notifications) upgrades and downgrades on both databases, and
the table it makes is the one the model declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from ledgerbridge.db.migrate import downgrade, upgrade
from ledgerbridge.settings import normalise_database_url
from ledgerbridge.tables import metadata

TABLE = "provider_notifications"


def test_upgrade_downgrade_upgrade(database: str) -> None:
    url = normalise_database_url(database)
    upgrade(url)
    engine = create_engine(url)
    try:
        assert TABLE in inspect(engine).get_table_names()
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), metadata)
        ours = [d for d in differences if TABLE in repr(d)]
        assert ours == [], ours
        downgrade(url, "0010")
        assert TABLE not in inspect(engine).get_table_names()
        upgrade(url)
        assert TABLE in inspect(engine).get_table_names()
    finally:
        engine.dispose()
