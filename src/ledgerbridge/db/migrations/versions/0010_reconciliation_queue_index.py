"""reconciliation: runs looked up by tenant and status (the per-tenant queue limit)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_reconciliation_runs_tenant_status",
        "reconciliation_runs",
        ["tenant_id", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_reconciliation_runs_tenant_status", table_name="reconciliation_runs")
