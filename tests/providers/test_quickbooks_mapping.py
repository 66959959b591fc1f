"""QuickBooks payloads as unified records: every record of a sandbox backfill, with its money
checked exactly against the raw payload as QuickBooks wrote it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.providers.pulling import RemoteObject
from ledgerbridge.providers.quickbooks import pull
from ledgerbridge.providers.quickbooks.mapping import to_unified
from ledgerbridge.unified import (
    MODELS,
    Account,
    Contact,
    Invoice,
    Item,
    Line,
    Payment,
    PurchaseOrder,
    Unified,
)
from tests.providers.test_quickbooks_pull import (
    Company,
    backfill,
    connected,
    control_client,
    listing,
)

pytestmark = pytest.mark.sandbox(seed=5, size=40, settings={"rate_limits": False})

Record = dict[str, Any]


@pytest.fixture
def company(sandbox_url: str, connect: Any) -> Company:
    return connected(sandbox_url, connect)


@pytest.fixture
def control(sandbox_url: str) -> Iterator[httpx.Client]:
    with control_client(sandbox_url) as client:
        yield client


def amount(value: Any) -> Decimal:
    """A raw amount, read independently of the mapper: ``Decimal`` already, or an integer."""
    assert not isinstance(value, float), "the raw payload was read with floats"
    return Decimal(value)


def expected_lines(raw_lines: list[Record]) -> list[tuple[str | None, Decimal]]:
    lines = []
    for line in raw_lines:
        kind = line["DetailType"]
        if kind == "SubTotalLineDetail":
            continue
        sign = -1 if kind == "DiscountLineDetail" else 1
        lines.append((line.get("Id"), sign * amount(line["Amount"])))
    return lines


def line_amounts(lines: list[Line]) -> list[tuple[str | None, Decimal]]:
    return [(line.remote_id, line.amount) for line in lines]


def check_document(unified: Invoice, raw: Record, kind: str) -> None:
    tax = amount((raw.get("TxnTaxDetail") or {}).get("TotalTax", 0))
    assert unified.type == kind
    assert unified.total == amount(raw["TotalAmt"])
    assert unified.total_tax == tax
    assert unified.subtotal + unified.total_tax == unified.total
    assert unified.amount_due == amount(raw["Balance"])
    assert unified.amount_paid + unified.amount_due == unified.total
    assert unified.currency == raw["CurrencyRef"]["value"]
    assert line_amounts(unified.lines) == expected_lines(raw["Line"])
    assert sum((line.amount for line in unified.lines), Decimal(0)) == unified.subtotal
    for line in raw["Line"]:
        if line["DetailType"] == "SubTotalLineDetail":
            assert amount(line["Amount"]) == unified.subtotal
    voided = raw.get("PrivateNote") == "Voided"
    paid = amount(raw["Balance"]) == 0
    assert unified.status == ("void" if voided else "paid" if paid else "open")
    assert unified.issue_date == date.fromisoformat(raw["TxnDate"])


def check(object_type: str, unified: Unified, raw: Record) -> None:
    """One record against its raw payload."""
    active = raw.get("Active", True)
    if isinstance(unified, Contact):
        assert unified.is_customer == (object_type == "Customer") != unified.is_supplier
        assert unified.status == ("active" if active else "archived")
        assert raw["DisplayName"].startswith(unified.name) and "(deleted)" not in unified.name
        assert unified.email == raw["PrimaryEmailAddr"]["Address"]
        assert unified.currency == raw["CurrencyRef"]["value"]
    elif isinstance(unified, Invoice):
        check_document(unified, raw, "sales" if object_type == "Invoice" else "bill")
        party = raw["CustomerRef" if object_type == "Invoice" else "VendorRef"]["value"]
        assert unified.contact_remote_id == party
    elif isinstance(unified, Payment):
        assert unified.amount == amount(raw["TotalAmt"])
        allocations = [(a.invoice_remote_id, a.amount) for a in unified.allocations]
        assert allocations == [
            (link["TxnId"], amount(line["Amount"]))
            for line in raw.get("Line", [])
            for link in line["LinkedTxn"]
        ]
        allocated = sum((a.amount for a in unified.allocations), Decimal(0))
        assert allocated + amount(raw["UnappliedAmt"]) == unified.amount
        assert unified.reference == raw["PaymentRefNum"]
    elif isinstance(unified, Item):
        assert unified.unit_price == amount(raw["UnitPrice"])
        assert unified.purchase_price == amount(raw["PurchaseCost"])
        assert unified.code == raw["Sku"] and unified.is_active == active
    elif isinstance(unified, Account):
        assert unified.classification == raw["Classification"].lower()
        assert unified.type == raw["AccountType"]
        assert unified.status == ("active" if active else "archived")
    elif isinstance(unified, PurchaseOrder):
        assert unified.total == amount(raw["TotalAmt"])
        assert line_amounts(unified.lines) == expected_lines(raw["Line"])
        assert sum((line.amount for line in unified.lines), Decimal(0)) == unified.total
        assert unified.status == raw["POStatus"].lower()
    else:
        raise AssertionError(f"unexpected {type(unified).__name__}")


def test_every_backfilled_record_maps_with_exact_money(
    company: Company, control: httpx.Client
) -> None:
    items = [r for r in listing(control, "Item").values() if r["Active"]]
    discounted = {
        "CustomerRef": {"value": next(iter(listing(control, "Customer")))},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": {"value": items[0]["Id"]}, "Qty": 7},
                "Amount": 70.07,
            },
            {"DetailType": "DescriptionOnly", "Description": "Packed in recycled paper"},
            {
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": {"PercentBased": False},
                "Amount": 0.1,
            },
        ],
    }
    control.post("/Invoice", json=discounted).raise_for_status()
    unpaid = [r for r in listing(control, "Invoice").values() if not r.get("LinkedTxn")]
    void(company, "Invoice", unpaid[0])
    void(company, "Payment", next(iter(listing(control, "Payment").values())))
    pulled = backfill(company, page_size=9)
    statuses: set[str] = set()

    for object_type, run in pulled.items():
        raw = listing(control, object_type)
        model = MODELS[pull.OBJECT_TYPES[object_type].model]
        for record_id, obj in run.latest().items():
            unified = to_unified(object_type, obj)
            assert type(unified) is model
            assert unified.remote_id == record_id
            assert unified.remote_updated_at == obj.updated_at
            assert unified.remote_was_deleted == obj.deleted
            check(object_type, unified, raw[record_id])
            statuses.add(f"{object_type}:{getattr(unified, 'status', '')}")

    # The data set covers what the mapping distinguishes.
    assert {"Invoice:open", "Invoice:paid", "Invoice:void", "Customer:archived"} <= statuses
    assert {"Payment:paid", "Payment:void", "Bill:open", "Bill:paid"} <= statuses
    assert {"PurchaseOrder:open", "PurchaseOrder:closed", "Account:archived"} <= statuses


def void(company: Company, object_type: str, record: Record) -> None:
    """Void through QuickBooks' own API, as a user of the company would."""

    async def post() -> None:
        async with company.client() as http:
            answer = await http.post(
                object_type.lower(),
                params={"operation": "void"},
                json={"Id": record["Id"], "SyncToken": record["SyncToken"]},
            )
            assert answer.is_success, answer.text

    asyncio.run(post())


def test_amounts_read_through_floats_map_to_the_same_decimals(
    company: Company, control: httpx.Client
) -> None:
    """Should the engine store payloads and read them back with floats, nothing changes."""
    for object_type, run in backfill(company, ["Invoice", "Payment", "Bill"]).items():
        for obj in run.objects:
            floats = _numbers_as_floats(obj.payload)
            again = RemoteObject(obj.external_id, floats, obj.updated_at, obj.version, obj.deleted)
            assert to_unified(object_type, again) == to_unified(object_type, obj)


def _numbers_as_floats(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers_as_floats(v) for v in value]
    return value


def test_bundles_discounts_and_expense_lines_map_to_lines() -> None:
    """Line shapes the sandbox does not write, from Intuit's documented payloads."""
    invoice = {
        "Id": "130",
        "SyncToken": "0",
        "DocNumber": "1037",
        "TxnDate": "2024-06-01",
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
        "CustomerRef": {"value": "3", "name": "Cool Cars"},
        "TotalAmt": Decimal("362.07"),
        "Balance": Decimal("362.07"),
        "TxnTaxDetail": {"TotalTax": Decimal("26.82")},
        "Line": [
            {
                "Id": "1",
                "DetailType": "GroupLineDetail",
                "GroupLineDetail": {
                    "GroupItemRef": {"value": "19", "name": "Bundle"},
                    "Quantity": 1,
                    "Line": [
                        {
                            "Id": "2",
                            "Amount": Decimal("300.00"),
                            "DetailType": "SalesItemLineDetail",
                            "SalesItemLineDetail": {
                                "ItemRef": {"value": "5"},
                                "UnitPrice": Decimal("100.00"),
                                "Qty": 3,
                                "ItemAccountRef": {"value": "79"},
                            },
                        },
                        {
                            "Id": "3",
                            "Amount": Decimal("50.25"),
                            "DetailType": "SalesItemLineDetail",
                            "SalesItemLineDetail": {"ItemRef": {"value": "6"}},
                        },
                    ],
                },
            },
            {
                "Id": "4",
                "Amount": Decimal("15.00"),
                "DetailType": "DiscountLineDetail",
                "DiscountLineDetail": {"DiscountAccountRef": {"value": "86"}},
            },
            {"Amount": Decimal("335.25"), "DetailType": "SubTotalLineDetail"},
        ],
        "MetaData": {"LastUpdatedTime": "2024-06-01T10:00:00-07:00"},
    }

    unified = to_unified("Invoice", RemoteObject("130", invoice, None))

    assert isinstance(unified, Invoice)
    assert unified.lines == [
        Line(
            remote_id="2",
            amount=Decimal("300.00"),
            quantity=Decimal(3),
            unit_amount=Decimal("100.00"),
            item_remote_id="5",
            account_remote_id="79",
        ),
        Line(remote_id="3", amount=Decimal("50.25"), item_remote_id="6"),
        Line(remote_id="4", amount=Decimal("-15.00"), account_remote_id="86"),
    ]
    assert unified.subtotal == Decimal("335.25") == sum(line.amount for line in unified.lines)
    assert (unified.total, unified.status, unified.amount_paid) == (
        Decimal("362.07"),
        "open",
        Decimal(0),
    )


def test_deleted_stubs_and_unknown_types() -> None:
    stub = {"Id": "9", "status": "Deleted", "domain": "QBO", "MetaData": {}}
    bill = to_unified("Bill", RemoteObject("9", stub, None, deleted=True))
    assert isinstance(bill, Invoice)
    assert (bill.type, bill.status, bill.remote_was_deleted, bill.total) == (
        "bill",
        "deleted",
        True,
        Decimal(0),
    )
    with pytest.raises(ValueError):
        to_unified("Customer", RemoteObject("9", stub, None, deleted=True))
    with pytest.raises(ValueError):
        to_unified("Estimate", RemoteObject("9", {"Id": "9"}, None))
