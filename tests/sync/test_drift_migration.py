"""Migration 0011 (the drift audit's columns on sync_states) upgrades and downgrades on
both databases, keeping the rows it finds."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from ledgerbridge.db.migrate import downgrade, upgrade

COLUMNS = {
    "last_audit_at",
    "last_audit_run_id",
    "audit_checked",
    "audit_drifted",
    "audit_repaired",
    "audit_checked_total",
    "audit_drifted_total",
    "audit_repaired_total",
}


def _columns(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {c["name"] for c in inspect(engine).get_columns("sync_states")}
    finally:
        engine.dispose()


def test_0011_upgrades_and_downgrades(empty_database_url: str) -> None:
    upgrade(empty_database_url, "0010")
    assert not COLUMNS & _columns(empty_database_url)
    engine = create_engine(empty_database_url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SET LOCAL app.system = 'on'"))  # past row security
            connection.execute(
                text(
                    "INSERT INTO connections (tenant_id, provider, external_account_id, "
                    "external_account_name, status, connected_by, sync_interval_minutes, "
                    "sync_paused, created_at, updated_at) VALUES ('t', 'xero', 'a', 'A', "
                    "'active', 'me', 5, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO sync_states (tenant_id, connection_id, object_type, status, "
                    "fetched, created, updated, deleted) SELECT 't', id, 'Contacts', 'idle', "
                    "4, 1, 2, 0 FROM connections"
                )
            )
        upgrade(empty_database_url, "0011")
        assert _columns(empty_database_url) >= COLUMNS
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SET LOCAL app.system = 'on'"))
            row = connection.execute(
                text("SELECT fetched, audit_checked, audit_repaired_total FROM sync_states")
            ).one()
        assert tuple(row) == (4, 0, 0)
        downgrade(empty_database_url, "0010")
        assert not COLUMNS & _columns(empty_database_url)
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SET LOCAL app.system = 'on'"))
            assert connection.execute(text("SELECT fetched FROM sync_states")).scalar() == 4
        upgrade(empty_database_url, "head")
    finally:
        engine.dispose()
