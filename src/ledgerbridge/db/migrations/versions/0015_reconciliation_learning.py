"""reconciliation: what decisions teach (aliases, payers' habits); partial matches' balance

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledgerbridge.db.base
from ledgerbridge.db.rls import disable_tenant_rls, enable_tenant_rls

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = ledgerbridge.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reconciliation_learned",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("job_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("words", sa.String(length=255), nullable=True),
        sa.Column("counterparty", sa.String(length=255), nullable=False),
        sa.Column("fee_rate", sa.String(length=20), nullable=True),
        sa.Column("delay_days", sa.Integer(), nullable=True),
        sa.Column("match_id", BIG_ID, nullable=False),
        sa.Column("learned_by", sa.String(length=200), nullable=False),
        sa.Column("learned_at", WHEN, nullable=False),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["reconciliation_jobs.id"],
            name=op.f("fk_reconciliation_learned_job_id_reconciliation_jobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_learned")),
    )
    with op.batch_alter_table("reconciliation_learned", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reconciliation_learned_job_active", ["job_id", "revoked_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reconciliation_learned_tenant_id"), ["tenant_id"], unique=False
        )
    enable_tenant_rls("reconciliation_learned")
    with op.batch_alter_table("reconciliation_matches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remaining", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reconciliation_matches", schema=None) as batch_op:
        batch_op.drop_column("remaining")
    disable_tenant_rls("reconciliation_learned")
    with op.batch_alter_table("reconciliation_learned", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_learned_tenant_id"))
        batch_op.drop_index("ix_reconciliation_learned_job_active")
    op.drop_table("reconciliation_learned")
