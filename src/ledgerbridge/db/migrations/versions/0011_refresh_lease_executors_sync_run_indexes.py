"""refresh lease on oauth grants; executor heartbeats; sync_runs indexes for the scheduler

Revision ID: 0011
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledgerbridge.db.base

revision = "0011"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_grants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refresh_lease_holder", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column(
                "refresh_lease_until",
                ledgerbridge.db.base.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
    op.create_table(
        "executors",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("started_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The scheduler's tick: the latest run per connection, and queued runs by age.
    op.create_index(
        "ix_sync_runs_connection_id_created_at", "sync_runs", ["connection_id", "created_at"]
    )
    op.create_index("ix_sync_runs_status_created_at", "sync_runs", ["status", "created_at"])


def downgrade() -> None:
    op.drop_table("executors")
    op.drop_index("ix_sync_runs_status_created_at", table_name="sync_runs")
    op.drop_index("ix_sync_runs_connection_id_created_at", table_name="sync_runs")
    with op.batch_alter_table("oauth_grants", schema=None) as batch_op:
        batch_op.drop_column("refresh_lease_until")
        batch_op.drop_column("refresh_lease_holder")
