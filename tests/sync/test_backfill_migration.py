"""Migration 0016 (``sync_states.backfilled_by_run_id``) upgrades and downgrades on both
databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from ledgerbridge.db.migrate import downgrade, upgrade
from tests.conftest import _require_postgres
from tests.support import postgres_database


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_backfill_column_upgrades_and_downgrades(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'migrate.db'}")
        return
    _require_postgres()
    with postgres_database() as url:
        check(url)


def check(url: str) -> None:
    upgrade(url, "0010")
    engine = create_engine(url)
    try:
        upgrade(url, "0016")
        columns = {c["name"] for c in inspect(engine).get_columns("sync_states")}
        assert "backfilled_by_run_id" in columns
        downgrade(url, "0010")
        columns = {c["name"] for c in inspect(engine).get_columns("sync_states")}
        assert "backfilled_by_run_id" not in columns
        upgrade(url, "head")
        columns = {c["name"] for c in inspect(engine).get_columns("sync_states")}
        assert "backfilled_by_run_id" in columns
    finally:
        engine.dispose()
