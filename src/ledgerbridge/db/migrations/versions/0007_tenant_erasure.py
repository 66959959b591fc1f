"""tenant erasure; connect links opened once

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledgerbridge.db.base
from ledgerbridge.db.rls import disable_tenant_rls, enable_tenant_rls

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table(
        "tenant_erasures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_erasures")),
    )
    with op.batch_alter_table("tenant_erasures", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tenant_erasures_tenant_id"), ["tenant_id"], unique=False
        )
        batch_op.create_index(
            "uq_tenant_erasures_active",
            ["tenant_id"],
            unique=True,
            sqlite_where=sa.text(ACTIVE),
            postgresql_where=sa.text(ACTIVE),
        )
    enable_tenant_rls("tenant_erasures")
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("started_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_column("started_at")
    disable_tenant_rls("tenant_erasures")
    with op.batch_alter_table("tenant_erasures", schema=None) as batch_op:
        batch_op.drop_index("uq_tenant_erasures_active")
        batch_op.drop_index(batch_op.f("ix_tenant_erasures_tenant_id"))
    op.drop_table("tenant_erasures")
