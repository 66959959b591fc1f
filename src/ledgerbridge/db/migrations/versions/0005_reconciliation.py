"""reconciliation

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledgerbridge.db.base
from ledgerbridge.db.rls import disable_tenant_rls, enable_tenant_rls

TABLES = (
    "statements",
    "statement_lines",
    "reconciliation_jobs",
    "reconciliation_runs",
    "reconciliation_matches",
    "reconciliation_items",
    "reconciliation_discrepancies",
    "reconciliation_decisions",
)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reconciliation_jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("left_source", sa.JSON(), nullable=False),
        sa.Column("right_source", sa.JSON(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("schedule", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("deleted_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_jobs")),
    )
    with op.batch_alter_table("reconciliation_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconciliation_jobs_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "statements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("currencies", sa.JSON(), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=True),
        sa.Column("last_date", sa.Date(), nullable=True),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statements")),
    )
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_statements_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "reconciliation_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("left_ids", sa.JSON(), nullable=False),
        sa.Column("right_ids", sa.JSON(), nullable=False),
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        sa.Column("decided_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("revoked_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["reconciliation_jobs.id"],
            name=op.f("fk_reconciliation_decisions_job_id_reconciliation_jobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_decisions")),
    )
    with op.batch_alter_table("reconciliation_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reconciliation_decisions_job_active", ["job_id", "revoked_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reconciliation_decisions_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("scheduled_for", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("left_count", sa.Integer(), nullable=False),
        sa.Column("right_count", sa.Integer(), nullable=False),
        sa.Column("candidate_pairs", sa.BigInteger(), nullable=False),
        sa.Column(
            "compared_with_run_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("changes", sa.JSON(), nullable=True),
        sa.Column("started_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["reconciliation_jobs.id"],
            name=op.f("fk_reconciliation_runs_job_id_reconciliation_jobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
        sa.UniqueConstraint(
            "job_id", "scheduled_for", name=op.f("uq_reconciliation_runs_job_id_scheduled_for")
        ),
    )
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reconciliation_runs_job_id"), ["job_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reconciliation_runs_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "statement_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "statement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("amount", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("counterparty", sa.String(length=255), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["statements.id"],
            name=op.f("fk_statement_lines_statement_id_statements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statement_lines")),
        sa.UniqueConstraint(
            "statement_id", "external_id", name=op.f("uq_statement_lines_statement_id_external_id")
        ),
    )
    with op.batch_alter_table("statement_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statement_lines_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "reconciliation_discrepancies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("left_id", sa.String(length=64), nullable=False),
        sa.Column("right_id", sa.String(length=64), nullable=False),
        sa.Column("left_value", sa.String(length=100), nullable=False),
        sa.Column("right_value", sa.String(length=100), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_discrepancies_run_id_reconciliation_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_discrepancies")),
    )
    with op.batch_alter_table("reconciliation_discrepancies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reconciliation_discrepancies_run_id"), ["run_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reconciliation_discrepancies_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "reconciliation_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column("item_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.String(length=40), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=True),
        sa.Column("counterparty", sa.String(length=255), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("match_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_items_run_id_reconciliation_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_items")),
        sa.UniqueConstraint(
            "run_id", "side", "item_id", name=op.f("uq_reconciliation_items_run_id_side_item_id")
        ),
    )
    with op.batch_alter_table("reconciliation_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reconciliation_items_run_side_status",
            ["run_id", "side", "status", "id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_reconciliation_items_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "reconciliation_matches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("left_ids", sa.JSON(), nullable=False),
        sa.Column("right_ids", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=200), nullable=True),
        sa.Column("reviewed_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_matches_run_id_reconciliation_runs"),
        ),
        sa.UniqueConstraint(
            "run_id", "position", name=op.f("uq_reconciliation_matches_run_id_position")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_matches")),
    )
    with op.batch_alter_table("reconciliation_matches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reconciliation_matches_run_status", ["run_id", "status", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_reconciliation_matches_tenant_id"), ["tenant_id"], unique=False
        )

    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TABLES:
        disable_tenant_rls(table)
    with op.batch_alter_table("reconciliation_matches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_matches_tenant_id"))
        batch_op.drop_index("ix_reconciliation_matches_run_status")

    op.drop_table("reconciliation_matches")
    with op.batch_alter_table("reconciliation_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_items_tenant_id"))
        batch_op.drop_index("ix_reconciliation_items_run_side_status")

    op.drop_table("reconciliation_items")
    with op.batch_alter_table("reconciliation_discrepancies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_discrepancies_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_reconciliation_discrepancies_run_id"))

    op.drop_table("reconciliation_discrepancies")
    with op.batch_alter_table("statement_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statement_lines_tenant_id"))

    op.drop_table("statement_lines")
    with op.batch_alter_table("reconciliation_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_runs_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_reconciliation_runs_job_id"))

    op.drop_table("reconciliation_runs")
    with op.batch_alter_table("reconciliation_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_decisions_tenant_id"))
        batch_op.drop_index("ix_reconciliation_decisions_job_active")

    op.drop_table("reconciliation_decisions")
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statements_tenant_id"))

    op.drop_table("statements")
    with op.batch_alter_table("reconciliation_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reconciliation_jobs_tenant_id"))

    op.drop_table("reconciliation_jobs")
