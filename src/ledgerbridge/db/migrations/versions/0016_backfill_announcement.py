"""sync states: the run whose pull of a type first reached the end (its sync.completed)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("sync_states", sa.Column("backfilled_by_run_id", BIG_ID, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_states") as batch_op:
        batch_op.drop_column("backfilled_by_run_id")
