"""The webhooks migration goes up and down on SQLite and PostgreSQL and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from ledgerbridge.db.migrate import downgrade, upgrade
from ledgerbridge.tables import metadata

TABLES = {"webhook_endpoints", "webhook_deliveries", "webhook_attempts", "webhook_cursors"}


def drift(engine: Engine) -> list[object]:
    """What differs between the database and the models, for the webhook tables."""
    with engine.connect() as connection:
        return [
            d
            for d in compare_metadata(MigrationContext.configure(connection), metadata)
            if any(name in str(d) for name in TABLES)
        ]


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    upgrade(empty_database_url)
    engine = create_engine(empty_database_url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert drift(engine) == []
    downgrade(empty_database_url, "0010")
    assert not TABLES & set(inspect(engine).get_table_names())
    assert len(drift(engine)) >= len(TABLES)  # the check sees them missing
    upgrade(empty_database_url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()
