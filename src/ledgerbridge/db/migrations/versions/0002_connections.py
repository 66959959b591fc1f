"""connections, grants, oauth states, mappings, events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ledgerbridge.db.base
from ledgerbridge.db.rls import disable_tenant_rls, enable_tenant_rls

TABLES = (
    "events",
    "oauth_grants",
    "oauth_states",
    "connections",
    "location_mappings",
    "organisation_mappings",
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "oauth_grants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("token_account", sa.String(length=128), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column(
            "access_expires_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column(
            "last_refreshed_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("revoked_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_grants")),
    )
    with op.batch_alter_table("oauth_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_grants_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "oauth_states",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("user", sa.String(length=200), nullable=False),
        sa.Column("code_verifier", sa.Text(), nullable=True),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("redirect_after", sa.String(length=2000), nullable=True),
        sa.Column("created_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_states_state_hash")),
    )
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_states_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "connections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("external_account_id", sa.String(length=128), nullable=False),
        sa.Column("external_account_name", sa.String(length=300), nullable=False),
        sa.Column("provider_connection_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("grant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("connected_by", sa.String(length=200), nullable=False),
        sa.Column(
            "disconnected_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["grant_id"], ["oauth_grants.id"], name=op.f("fk_connections_grant_id_oauth_grants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint(
            "tenant_id",
            "provider",
            "external_account_id",
            name=op.f("uq_connections_tenant_id_provider_external_account_id"),
        ),
    )
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_connections_grant_id"), ["grant_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_connections_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "location_mappings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_location_id", sa.String(length=200), nullable=False),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("provider_location_id", sa.String(length=200), nullable=True),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_location_mappings_connection_id_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_mappings")),
        sa.UniqueConstraint(
            "tenant_id",
            "external_location_id",
            name=op.f("uq_location_mappings_tenant_id_external_location_id"),
        ),
    )
    with op.batch_alter_table("location_mappings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_location_mappings_connection_id"), ["connection_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_location_mappings_tenant_id"), ["tenant_id"], unique=False
        )

    op.create_table(
        "organisation_mappings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_org_id", sa.String(length=200), nullable=False),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tenant_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", ledgerbridge.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_organisation_mappings_connection_id_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation_mappings")),
        sa.UniqueConstraint(
            "tenant_id",
            "external_org_id",
            name=op.f("uq_organisation_mappings_tenant_id_external_org_id"),
        ),
    )
    with op.batch_alter_table("organisation_mappings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organisation_mappings_connection_id"), ["connection_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_organisation_mappings_tenant_id"), ["tenant_id"], unique=False
        )

    for table in TABLES:
        enable_tenant_rls(table)


def downgrade() -> None:
    for table in TABLES:
        disable_tenant_rls(table)
    with op.batch_alter_table("organisation_mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organisation_mappings_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_organisation_mappings_connection_id"))

    op.drop_table("organisation_mappings")
    with op.batch_alter_table("location_mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_location_mappings_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_location_mappings_connection_id"))

    op.drop_table("location_mappings")
    with op.batch_alter_table("connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_connections_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_connections_grant_id"))

    op.drop_table("connections")
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_states_tenant_id"))

    op.drop_table("oauth_states")
    with op.batch_alter_table("oauth_grants", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_grants_tenant_id"))

    op.drop_table("oauth_grants")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_tenant_id"))

    op.drop_table("events")
