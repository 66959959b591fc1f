"""The webhooks migration goes up and down on SQLite and PostgreSQL and matches the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect

from ledgerbridge.db.migrate import downgrade, upgrade
from ledgerbridge.tables import metadata
from tests.conftest import _require_postgres
from tests.support import postgres_database

TABLES = {"webhook_endpoints", "webhook_deliveries", "webhook_attempts", "webhook_cursors"}


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    _require_postgres()
    with postgres_database() as url:
        yield url


def drift(engine: Engine) -> list[object]:
    """What differs between the database and the models, for the webhook tables."""
    with engine.connect() as connection:
        return [
            d
            for d in compare_metadata(MigrationContext.configure(connection), metadata)
            if any(name in str(d) for name in TABLES)
        ]


def test_upgrade_downgrade_upgrade(fresh: str) -> None:
    upgrade(fresh)
    engine = create_engine(fresh)
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert drift(engine) == []
    downgrade(fresh, "0010")
    assert not TABLES & set(inspect(engine).get_table_names())
    assert len(drift(engine)) >= len(TABLES)  # the check sees them missing
    upgrade(fresh)
    assert set(inspect(engine).get_table_names()) >= TABLES
    engine.dispose()
