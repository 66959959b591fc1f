"""PostgreSQL row-level security for tenant-owned tables (used by migrations)."""

from __future__ import annotations

from alembic import op

POLICY = "tenant_isolation"


def enable_tenant_rls(table: str) -> None:
    """Rows are visible only to the transaction's tenant, or to system-level sessions."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
    op.execute(
        f'CREATE POLICY {POLICY} ON "{table}" USING ('
        "current_setting('app.system', true) = 'on' "
        "OR tenant_id = current_setting('app.tenant_id', true))"
    )


def disable_tenant_rls(table: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
    op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
