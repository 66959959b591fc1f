"""The whole migration chain, on SQLite and PostgreSQL: up to the head, down to nothing
and up again, leaving exactly the models' tables; no migration is left out of the walk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from ledgerbridge.db.migrate import alembic_config, downgrade, upgrade
from ledgerbridge.tables import metadata
from tests.conftest import _require_postgres
from tests.support import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'chain.db'}"
        return
    _require_postgres()
    with postgres_database() as url:
        yield url


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_the_chain_is_one_line_that_goes_up_down_and_up(fresh: str) -> None:
    script = ScriptDirectory.from_config(alembic_config(fresh))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert [r.down_revision for r in revisions][-1] is None  # one line back to the start
    upgrade(fresh)
    assert tables(fresh) == set(metadata.tables)
    downgrade(fresh, "base")
    assert tables(fresh) == set()
    upgrade(fresh)
    assert tables(fresh) == set(metadata.tables)
