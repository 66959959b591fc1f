"""The whole migration chain, on SQLite and PostgreSQL: up to the head, down to nothing
and up again, leaving exactly the models' tables; no migration is left out of the walk."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from ledgerbridge.db.migrate import alembic_config, downgrade, upgrade
from ledgerbridge.tables import metadata


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_the_chain_is_one_line_that_goes_up_down_and_up(empty_database_url: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(empty_database_url))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert [r.down_revision for r in revisions][-1] is None  # one line back to the start
    upgrade(empty_database_url)
    assert tables(empty_database_url) == set(metadata.tables)
    downgrade(empty_database_url, "base")
    assert tables(empty_database_url) == set()
    upgrade(empty_database_url)
    assert tables(empty_database_url) == set(metadata.tables)
