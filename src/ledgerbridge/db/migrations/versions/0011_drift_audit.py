"""sync states: the drift audit's last result and running totals per object type

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ledgerbridge.db.base import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

COUNTS = ("checked", "drifted", "repaired")


def upgrade() -> None:
    with op.batch_alter_table("sync_states") as batch:
        batch.add_column(sa.Column("last_audit_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("last_audit_run_id", sa.BigInteger(), nullable=True))
        for name in COUNTS:
            batch.add_column(
                sa.Column(f"audit_{name}", sa.Integer(), nullable=False, server_default="0")
            )
        for name in COUNTS:
            total = sa.Column(
                f"audit_{name}_total", sa.BigInteger(), nullable=False, server_default="0"
            )
            batch.add_column(total)


def downgrade() -> None:
    with op.batch_alter_table("sync_states") as batch:
        for name in COUNTS:
            batch.drop_column(f"audit_{name}_total")
        for name in COUNTS:
            batch.drop_column(f"audit_{name}")
        batch.drop_column("last_audit_run_id")
        batch.drop_column("last_audit_at")
