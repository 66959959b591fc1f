"""refresh lease on oauth grants; executor heartbeats

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledgerbridge.db.base

revision = "0009"
down_revision = "0008"
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


def downgrade() -> None:
    op.drop_table("executors")
    with op.batch_alter_table("oauth_grants", schema=None) as batch_op:
        batch_op.drop_column("refresh_lease_until")
        batch_op.drop_column("refresh_lease_holder")
