"""Mapping Xero records to unified models: every sandbox record, money to the last digit."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.providers.numbers import to_decimal as money
from ledgerbridge.providers.pulling import RemoteObject
from ledgerbridge.providers.xero.dates import parse_date, parse_datetime, parse_utc
from ledgerbridge.providers.xero.mapping import to_unified
from ledgerbridge.providers.xero.pull import OBJECT_TYPES
from ledgerbridge.unified import (
    MODELS,
    BankTransaction,
    Contact,
    CreditNote,
    Invoice,
    Item,
    Line,
    Payment,
    PurchaseOrder,
    Unified,
)

Record = dict[str, Any]
pytestmark = pytest.mark.sandbox(size=200, settings={"rate_limits": False})


def xero_tenants(origin: str) -> list[str]:
    accounts = httpx.get(f"{origin}/_sandbox/accounts").json()
    return [a["account_id"] for a in accounts if a["provider"] == "xero"]


def control_records(origin: str, tenant: str, object_type: str) -> list[Record]:
    """The sandbox's own records, numbers read exactly as written (``Decimal``)."""
    answer = httpx.get(f"{origin}/_sandbox/xero/{tenant}/{object_type}")
    answer.raise_for_status()
    records: list[Record] = json.loads(answer.content, parse_float=Decimal)
    return records


def is_tombstone(object_type: str, record: Record) -> bool:
    if object_type == "Contacts":
        return bool(record["ContactStatus"] == "ARCHIVED")
    return record.get("Status") in (
        {"ARCHIVED", "DELETED"} if object_type == "Accounts" else {"DELETED"}
    )


def remote_object(object_type: str, record: Record) -> RemoteObject:
    return RemoteObject(
        external_id=record[f"{object_type[:-1]}ID"],
        payload=record,
        updated_at=parse_utc(record["UpdatedDateUTC"]),
        deleted=is_tombstone(object_type, record),
    )


def exact(value: Any) -> Decimal:
    """A raw amount the test reads itself: Decimal text, never a float."""
    assert isinstance(value, Decimal | int), f"{value!r} was not read exactly"
    return Decimal(value)


def assert_lines_exact(lines: list[Line], raw: Record) -> None:
    raw_lines = raw.get("LineItems") or []
    assert len(lines) == len(raw_lines)
    inclusive = raw.get("LineAmountTypes") == "Inclusive"
    for line, raw_line in zip(lines, raw_lines, strict=True):
        assert line.remote_id == raw_line["LineItemID"]
        assert line.quantity == exact(raw_line["Quantity"])
        assert line.unit_amount == exact(raw_line["UnitAmount"])
        assert line.tax_amount == exact(raw_line["TaxAmount"])
        tax_in_line = line.tax_amount if inclusive else Decimal(0)
        assert line.amount + tax_in_line == exact(raw_line["LineAmount"])
    if lines:  # Xero's totals are its lines' sums
        assert sum(line.tax_amount for line in lines) == exact(raw["TotalTax"])
        assert sum(line.amount for line in lines) == exact(raw["SubTotal"])


def assert_money_exact(object_type: str, unified: Unified, raw: Record) -> None:
    """Every amount of ``unified`` equals the digits in the raw record."""
    assert isinstance(unified, MODELS[OBJECT_TYPES[object_type].model])
    assert unified.remote_was_deleted == is_tombstone(object_type, raw)
    if isinstance(unified, Invoice):
        assert (unified.subtotal, unified.total_tax, unified.total) == tuple(
            exact(raw[k]) for k in ("SubTotal", "TotalTax", "Total")
        )
        assert unified.subtotal + unified.total_tax == unified.total
        assert unified.amount_paid == exact(raw["AmountPaid"])
        assert unified.amount_due == exact(raw["AmountDue"])
        assert_lines_exact(unified.lines, raw)
    elif isinstance(unified, Payment):
        assert unified.amount == exact(raw["Amount"])
        assert [(a.invoice_remote_id, a.amount) for a in unified.allocations] == [
            (raw["Invoice"]["InvoiceID"], exact(raw["Amount"]))
        ]
        assert unified.currency == raw["Invoice"]["CurrencyCode"]
    elif isinstance(unified, CreditNote):
        assert unified.total == exact(raw["Total"])
        assert unified.total_tax == exact(raw["TotalTax"])
        assert unified.remaining == exact(raw["RemainingCredit"])
        assert_lines_exact(unified.lines, raw)
    elif isinstance(unified, BankTransaction):
        assert unified.amount == exact(raw["Total"])
        assert unified.direction == ("receive" if raw["Type"].startswith("RECEIVE") else "spend")
        assert_lines_exact(unified.lines, raw)
    elif isinstance(unified, PurchaseOrder):
        assert unified.total == exact(raw["Total"])
        assert unified.total_tax == exact(raw["TotalTax"])
        assert_lines_exact(unified.lines, raw)
    elif isinstance(unified, Item):
        for price, details in (
            (unified.unit_price, raw.get("SalesDetails")),
            (unified.purchase_price, raw.get("PurchaseDetails")),
        ):
            raw_price = (details or {}).get("UnitPrice")
            assert price == (None if raw_price is None else exact(raw_price))


def test_every_sandbox_record_maps_with_exact_money(module_sandbox_url: str) -> None:
    statuses: set[tuple[str, str]] = set()
    for tenant in xero_tenants(module_sandbox_url):
        for object_type in OBJECT_TYPES:
            for raw in control_records(module_sandbox_url, tenant, object_type):
                unified = to_unified(object_type, remote_object(object_type, raw))
                assert unified.remote_id == raw[f"{object_type[:-1]}ID"]
                assert unified.remote_updated_at == parse_utc(raw["UpdatedDateUTC"])
                assert_money_exact(object_type, unified, raw)
                if status := getattr(unified, "status", None):
                    statuses.add((object_type, status))
    # the seed covers every kind of document state, and so does this test
    assert {s for t, s in statuses if t == "Invoices"} >= {"draft", "open", "paid", "void"}
    assert ("Contacts", "archived") in statuses
    assert ("Accounts", "archived") in statuses


def test_payments_add_up_to_what_invoices_say_is_paid(module_sandbox_url: str) -> None:
    for tenant in xero_tenants(module_sandbox_url):
        paid: dict[str, Decimal] = {}
        for raw in control_records(module_sandbox_url, tenant, "Payments"):
            payment = to_unified("Payments", remote_object("Payments", raw))
            assert isinstance(payment, Payment)
            if payment.status == "paid":
                for allocation in payment.allocations:
                    paid[allocation.invoice_remote_id] = (
                        paid.get(allocation.invoice_remote_id, Decimal(0)) + allocation.amount
                    )
        invoices = [
            to_unified("Invoices", remote_object("Invoices", raw))
            for raw in control_records(module_sandbox_url, tenant, "Invoices")
        ]
        assert paid, "the seed has payments"
        for invoice in invoices:
            assert isinstance(invoice, Invoice)
            assert invoice.amount_paid == paid.get(invoice.remote_id, Decimal(0))


def test_a_payload_decoded_with_floats_maps_to_the_same_amounts(module_sandbox_url: str) -> None:
    """Payloads read back from a JSON store may carry floats: the amounts stay exact."""
    tenant = xero_tenants(module_sandbox_url)[0]
    for object_type in ("Invoices", "Payments", "BankTransactions", "CreditNotes", "Items"):
        answer = httpx.get(f"{module_sandbox_url}/_sandbox/xero/{tenant}/{object_type}")
        for with_floats, with_decimals in zip(
            answer.json(), json.loads(answer.content, parse_float=Decimal), strict=True
        ):
            as_floats = to_unified(object_type, remote_object(object_type, with_floats))
            as_decimals = to_unified(object_type, remote_object(object_type, with_decimals))
            assert as_floats == as_decimals


@pytest.mark.sandbox(size=10, settings={"rate_limits": False})
def test_tax_inclusive_lines_exclude_their_tax(sandbox_url: str) -> None:
    tenant = xero_tenants(sandbox_url)[0]
    contact = control_records(sandbox_url, tenant, "Contacts")[0]
    created = httpx.post(
        f"{sandbox_url}/_sandbox/xero/{tenant}/Invoices",
        json={
            "Type": "ACCPAY",
            "Contact": {"ContactID": contact["ContactID"]},
            "Date": "2026-03-31",
            "DueDate": "2026-04-30",
            "LineAmountTypes": "Inclusive",
            "Status": "AUTHORISED",
            "LineItems": [
                {"Description": "Rent", "Quantity": 1, "UnitAmount": 1150.00, "AccountCode": "453"},
                {"Description": "Pens", "Quantity": 3, "UnitAmount": 0.1, "AccountCode": "453"},
            ],
        },
    )
    assert created.status_code < 300, created.text
    raw = json.loads(created.content, parse_float=Decimal)
    bill = to_unified("Invoices", remote_object("Invoices", raw))

    assert isinstance(bill, Invoice)
    assert bill.type == "bill"
    assert bill.status == "open"
    assert bill.issue_date == date(2026, 3, 31)
    assert bill.due_date == date(2026, 4, 30)
    assert bill.total == Decimal("1150.30")
    assert bill.lines[1].quantity == 3
    assert bill.lines[1].unit_amount == Decimal("0.1")
    assert bill.lines[0].amount + bill.lines[0].tax_amount == Decimal("1150.00")
    assert bill.lines[0].tax_amount > 0
    assert_money_exact("Invoices", bill, raw)


def test_contact_fields() -> None:
    raw: Record = {
        "ContactID": "c1",
        "ContactStatus": "ARCHIVED",
        "Name": "Ōtaki Pottery",
        "EmailAddress": "",
        "TaxNumber": "12-345-678",
        "DefaultCurrency": "NZD",
        "IsCustomer": True,
        "Phones": [
            {"PhoneType": "MOBILE", "PhoneNumber": "555 1234", "PhoneCountryCode": "64"},
            {"PhoneType": "DEFAULT", "PhoneNumber": "", "PhoneAreaCode": "4"},
        ],
        "UpdatedDateUTC": "/Date(1700000000000+0000)/",
    }
    contact = to_unified("Contacts", remote_object("Contacts", raw))
    assert contact == Contact(
        remote_id="c1",
        remote_updated_at=datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        remote_was_deleted=True,
        name="Ōtaki Pottery",
        phone="+64 555 1234",
        is_customer=True,
        tax_number="12-345-678",
        currency="NZD",
        status="archived",
    )


def test_xero_dates() -> None:
    assert parse_date("/Date(1419937200000+1300)/") == date(2014, 12, 31)
    assert parse_datetime("/Date(1419937200000+1300)/") == datetime(
        2014, 12, 31, tzinfo=timezone(timedelta(hours=13))
    )
    assert parse_utc("/Date(1439434356790)/") == datetime(2015, 8, 13, 2, 52, 36, 790000, UTC)
    assert parse_utc("/Date(1439434356790-0500)/") == datetime(2015, 8, 13, 2, 52, 36, 790000, UTC)
    assert parse_utc("2020-02-06T12:17:43.202-08:00") == datetime(
        2020, 2, 6, 20, 17, 43, 202000, UTC
    )
    assert parse_date("2018-02-15T00:00:00") == date(2018, 2, 15)


def test_money_is_never_guessed() -> None:
    assert money(Decimal("12.30")) == Decimal("12.30")
    assert money(7) == Decimal(7)
    assert money("0.10") == Decimal("0.10")
    assert money(0.1 + 0.2) == Decimal("0.30000000000000004")  # what the float holds, exactly
    for bad in (None, True, [1]):
        with pytest.raises(ValueError):
            money(bad)


def test_unknown_object_type() -> None:
    with pytest.raises(ValueError, match="Overpayments"):
        to_unified("Overpayments", RemoteObject("x", {}, None))
