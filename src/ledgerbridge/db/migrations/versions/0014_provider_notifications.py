"""incoming provider webhooks: notifications stored until a sync claims them

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledgerbridge.db.base
from ledgerbridge.db.rls import disable_tenant_rls, enable_tenant_rls

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("received_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sync_run_id", sa.BigInteger(), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_provider_notifications_connection_id_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_notifications")),
        sa.UniqueConstraint(
            "connection_id",
            "event_key",
            name=op.f("uq_provider_notifications_connection_id_event_key"),
        ),
    )
    with op.batch_alter_table("provider_notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_provider_notifications_pending", ["claimed_at", "connection_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_provider_notifications_tenant_id"), ["tenant_id"], unique=False
        )
    enable_tenant_rls("provider_notifications")


def downgrade() -> None:
    disable_tenant_rls("provider_notifications")
    with op.batch_alter_table("provider_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provider_notifications_tenant_id"))
        batch_op.drop_index("ix_provider_notifications_pending")
    op.drop_table("provider_notifications")
