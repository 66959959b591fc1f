"""The records' filter columns: derived by ``unified.record_columns`` alone, and migration
0012 fills them for rows written before it the same way (both databases, up and down)."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from pathlib import Path

from sqlalchemy import inspect, select

from ledgerbridge.connections.models import Connection
from ledgerbridge.db.engine import Database
from ledgerbridge.db.migrate import downgrade, upgrade
from ledgerbridge.sync.models import Record
from ledgerbridge.unified import (
    Contact,
    Invoice,
    InvoiceWrite,
    Item,
    LineWrite,
    Model,
    Payment,
    Sale,
    Unified,
    record_columns,
)
from tests.conftest import make_settings

COLUMNS = ("status", "contact_remote_id", "business_date", "currency")
UTC = dt.UTC


def samples() -> list[tuple[Model, Unified | InvoiceWrite]]:
    return [
        (
            Model.invoice,
            Invoice(
                remote_id="i-1",
                type="sales",
                contact_remote_id="c-1",
                issue_date=dt.date(2026, 3, 31),
                currency="JPY",
                subtotal=Decimal(1326),
                total_tax=Decimal(0),
                total=Decimal(1326),
                amount_due=Decimal(1326),
                status="open",
            ),
        ),
        (
            Model.payment,
            Payment(remote_id="p-1", date=dt.date(2026, 1, 2), amount=Decimal("5"), currency="NZD"),
        ),
        (
            Model.sale,  # 23:30 in Auckland on the 1st is the 1st, 10:30 UTC
            Sale(
                remote_id="s-1",
                date=dt.datetime(2026, 4, 1, 10, 30, tzinfo=UTC),
                currency="XXX",
                total_tax=Decimal(0),
                total=Decimal("9.5"),
                status="closed",
            ),
        ),
        (Model.item, Item(remote_id="it-1", name="Tea", unit_price=Decimal("4.5"))),
        (Model.contact, Contact(remote_id="c-2", name="Ada", status="archived", currency="AUD")),
        (  # a contact id longer than the column: left out, never a failed write
            Model.payment,
            Payment(
                remote_id="p-2", contact_remote_id="x" * 300, amount=Decimal(1), currency="USD"
            ),
        ),
        (
            Model.invoice,  # pushed by the host app, waiting for its provider id
            InvoiceWrite(
                contact_remote_id="c-9",
                issue_date=dt.date(2026, 2, 3),
                currency="GBP",
                lines=[LineWrite(description="x", unit_amount=Decimal("2.5"))],
            ),
        ),
    ]


def test_record_columns_reads_json_and_python_values_alike() -> None:
    for model, unified in samples():
        assert record_columns(model, dict(unified)) == record_columns(
            model, unified.model_dump(mode="json")
        )
    invoice, payment, sale, item, contact, long, pushed = (
        record_columns(m, u.model_dump(mode="json")) for m, u in samples()
    )
    assert invoice == {
        "status": "open",
        "contact_remote_id": "c-1",
        "business_date": dt.date(2026, 3, 31),
        "currency": "JPY",
    }
    assert payment["business_date"] == dt.date(2026, 1, 2) and payment["status"] == "paid"
    assert sale["business_date"] == dt.date(2026, 4, 1) and sale["currency"] == "XXX"
    assert item == dict.fromkeys(COLUMNS)  # an item has none of them
    assert contact == {**dict.fromkeys(COLUMNS), "status": "archived", "currency": "AUD"}
    assert long["contact_remote_id"] is None
    assert pushed["contact_remote_id"] == "c-9" and pushed["status"] == "open"


def test_migration_0012_fills_the_columns_of_existing_rows_and_goes_down_again(
    empty_database_url: str, tmp_path: Path
) -> None:
    upgrade(empty_database_url)
    db = Database.connect(make_settings(empty_database_url, tmp_path))
    try:
        tenant = f"org-{secrets.token_hex(4)}"
        with db.tenant(tenant) as session:
            connection = Connection(
                provider="xero",
                external_account_id="acct",
                external_account_name="books",
                connected_by="test",
            )
            session.add(connection)
            session.flush()
            written_before = Record(  # as records were written before money had its decimals
                connection_id=connection.id,
                model="payment",
                object_type="Payments",
                remote_id="old",
                data='{"remote_id":"old","amount":"1326.1","currency":"NZD",'
                '"allocations":[{"invoice_remote_id":"i","amount":"0"}]}',
            )
            session.add(written_before)
            for n, (model, unified) in enumerate(samples()):
                session.add(
                    Record(
                        connection_id=connection.id,
                        model=model.value,
                        object_type=f"T{n}",
                        remote_id=f"r-{n}",
                        data=unified.model_dump_json(),
                    )
                )
        db.dispose()
        downgrade(empty_database_url, "0010")  # the rows stay, their columns go
        with db.engine.connect() as raw:
            columns = {c["name"] for c in inspect(raw).get_columns("records")}
            assert not columns & set(COLUMNS)
        upgrade(empty_database_url)
        with db.system() as session:
            rows = session.scalars(select(Record).where(Record.tenant_id == tenant)).all()
            [old] = [row for row in rows if row.remote_id == "old"]
            assert '"amount":"1326.10"' in old.data and '"amount":"0.00"' in old.data, old.data
            assert old.currency == "NZD"
            rows = [row for row in rows if row.remote_id != "old"]
            assert len(rows) == len(samples())
            for row, (model, unified) in zip(
                sorted(rows, key=lambda r: r.id), samples(), strict=True
            ):
                expected = record_columns(model, unified.model_dump(mode="json"))
                assert {c: getattr(row, c) for c in COLUMNS} == expected, row.model
    finally:
        db.dispose()
