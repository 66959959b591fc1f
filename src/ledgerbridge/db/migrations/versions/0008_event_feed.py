"""event feed positions; indexes for the feed and the sync scheduler

``events.xid`` is the writing transaction's id on PostgreSQL (its server default is
``pg_current_xact_id()``) and 0 on SQLite, where writers take turns. Events written before
this revision get 0: they were all committed when it ran, and come first in the feed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

WRITER_XID = "(pg_current_xact_id()::text::bigint)"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    # A constant default adds the column without rewriting the table; then new rows take
    # their writer's transaction id.
    op.add_column("events", sa.Column("xid", sa.BigInteger(), nullable=False, server_default="0"))
    if postgresql:
        op.alter_column("events", "xid", server_default=sa.text(WRITER_XID))
    op.create_index("ix_events_feed", "events", ["tenant_id", "xid", "id"])
    op.drop_index("ix_events_tenant_id", table_name="events")  # ix_events_feed leads with it
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_runs_connection_id")
        batch_op.create_index("ix_sync_runs_connection_created", ["connection_id", "created_at"])
        batch_op.create_index("ix_sync_runs_status_created", ["status", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_runs_status_created")
        batch_op.drop_index("ix_sync_runs_connection_created")
        batch_op.create_index("ix_sync_runs_connection_id", ["connection_id"])
    op.create_index("ix_events_tenant_id", "events", ["tenant_id"])
    op.drop_index("ix_events_feed", table_name="events")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("xid")
