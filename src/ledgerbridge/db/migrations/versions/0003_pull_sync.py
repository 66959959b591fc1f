"""pull sync

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledgerbridge.db.base
from ledgerbridge.db.rls import disable_tenant_rls, enable_tenant_rls

TABLES = ("raw_objects", "records", "sync_states", "sync_runs")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "raw_objects",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "remote_updated_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("remote_version", sa.String(length=64), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("first_seen_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_raw_objects_connection_id_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_raw_objects")),
        sa.UniqueConstraint(
            "connection_id",
            "object_type",
            "external_id",
            name=op.f("uq_raw_objects_connection_id_object_type_external_id"),
        ),
    )
    with op.batch_alter_table("raw_objects", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_raw_objects_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("object_types", sa.JSON(), nullable=False),
        sa.Column("full_resync", sa.Boolean(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_sync_runs_connection_id_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_runs_connection_id"), ["connection_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sync_runs_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "sync_states",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=True),
        sa.Column("resync_cursor", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "sync_run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("started_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("fetched", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_swept_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "last_tombstones_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column(
            "last_succeeded_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_sync_states_connection_id_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_states")),
        sa.UniqueConstraint(
            "connection_id", "object_type", name=op.f("uq_sync_states_connection_id_object_type")
        ),
    )
    with op.batch_alter_table("sync_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_states_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=64), nullable=False),
        sa.Column("remote_id", sa.String(length=128), nullable=False),
        sa.Column(
            "remote_updated_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("remote_was_deleted", sa.Boolean(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column(
            "raw_object_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"], ["connections.id"], name=op.f("fk_records_connection_id_connections")
        ),
        sa.ForeignKeyConstraint(
            ["raw_object_id"], ["raw_objects.id"], name=op.f("fk_records_raw_object_id_raw_objects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_records")),
        sa.UniqueConstraint(
            "connection_id",
            "object_type",
            "remote_id",
            name=op.f("uq_records_connection_id_object_type_remote_id"),
        ),
    )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_records_connection_model_id", ["connection_id", "model", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_records_tenant_id"), ["tenant_id"], unique=False)

    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sync_interval_minutes", sa.Integer(), server_default="5", nullable=False)
        )
        batch_op.add_column(
            sa.Column("sync_paused", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TABLES:
        disable_tenant_rls(table)
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_column("sync_paused")
        batch_op.drop_column("sync_interval_minutes")

    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_records_tenant_id"))
        batch_op.drop_index("ix_records_connection_model_id")

    op.drop_table("records")
    with op.batch_alter_table("sync_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_states_tenant_id"))

    op.drop_table("sync_states")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_runs_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_sync_runs_connection_id"))

    op.drop_table("sync_runs")
    with op.batch_alter_table("raw_objects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_raw_objects_tenant_id"))

    op.drop_table("raw_objects")
