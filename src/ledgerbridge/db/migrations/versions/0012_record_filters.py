"""records: filter columns (status, contact, business date, currency) and their indexes

The columns are what ``ledgerbridge.unified.record_columns`` derives from a record's data;
existing rows are filled here from the same fields of their JSON, in the database. Their
money is rewritten in the currency's decimals ("1326.1" becomes "1326.10"), as records are
now written.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = (
    ("status", sa.String(32)),
    ("contact_remote_id", sa.String(200)),
    ("business_date", sa.Date()),
    ("currency", sa.String(8)),
)
INDEXES = {
    "ix_records_tenant_model_id": "id",
    "ix_records_tenant_model_status": "status",
    "ix_records_tenant_model_contact": "contact_remote_id",
    "ix_records_tenant_model_business_date": "business_date",
    "ix_records_tenant_model_currency": "currency",
    "ix_records_tenant_model_remote_id": "remote_id",
}
# The unified field holding each model's business date (as in ledgerbridge.unified).
BUSINESS_DATE = {
    "invoice": "issue_date",
    "credit_note": "issue_date",
    "purchase_order": "issue_date",
    "payment": "date",
    "bank_transaction": "date",
    "sale": "date",
}


def upgrade() -> None:
    for name, kind in COLUMNS:
        op.add_column("records", sa.Column(name, kind, nullable=True))
    _backfill()
    _money_in_minor_units()
    for index, column in INDEXES.items():
        columns = ["tenant_id", "model", column] + ([] if column == "id" else ["id"])
        op.create_index(index, "records", columns)


def downgrade() -> None:
    for index in INDEXES:
        op.drop_index(index, table_name="records")
    with op.batch_alter_table("records") as batch:
        for name, _ in COLUMNS:
            batch.drop_column(name)


def _backfill() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("SET LOCAL app.system = 'on'")  # row-level security: every tenant's rows

    def field(name: str) -> str:
        value = f"(data::json ->> '{name}')" if postgresql else f"json_extract(data, '$.{name}')"
        return f"NULLIF({value}, '')"

    def clipped(name: str, length: int) -> str:
        return f"CASE WHEN length({field(name)}) <= {length} THEN {field(name)} END"

    day = " ".join(
        f"WHEN '{model}' THEN substr({field(date_field)}, 1, 10)"
        for model, date_field in BUSINESS_DATE.items()
    )
    business_date = f"CASE model {day} END"
    if postgresql:
        business_date = f"CAST({business_date} AS date)"
    op.execute(
        "UPDATE records SET "
        f"status = {clipped('status', 32)}, "
        f"contact_remote_id = {clipped('contact_remote_id', 200)}, "
        f"currency = {clipped('currency', 8)}, "
        f"business_date = {business_date}"
    )


BATCH = 1000


def _money_in_minor_units() -> None:
    """Each provider record's data made again through its unified model, in batches; one
    the model no longer reads is left as it is."""
    from ledgerbridge.unified import MODELS, Model  # the models as this release has them

    bind = op.get_bind()
    records = sa.table(
        "records", sa.column("id"), sa.column("model"), sa.column("remote_id"), sa.column("data")
    )
    after = 0
    while True:
        rows = bind.execute(
            sa.select(records.c.id, records.c.model, records.c.data)
            .where(records.c.id > after, records.c.remote_id.is_not(None))
            .order_by(records.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        changed = []
        for row_id, model, data in rows:
            try:
                again = MODELS[Model(model)].model_validate_json(data).model_dump_json()
            except ValueError:
                continue
            if again != data:
                changed.append({"row_id": row_id, "again": again})
        if changed:
            bind.execute(
                sa.update(records)
                .where(records.c.id == sa.bindparam("row_id"))
                .values(data=sa.bindparam("again")),
                changed,
            )
        after = rows[-1].id
