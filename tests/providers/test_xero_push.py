"""Writing to Xero over real HTTP against the sandbox: creates, updates, voids, exactly once."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from ledgerbridge.providers.pulling import ProviderError, RemoteObject
from ledgerbridge.providers.pushing import Action, Pushed, PushRequest, Write
from ledgerbridge.providers.xero.dates import iso
from ledgerbridge.providers.xero.mapping import to_unified
from ledgerbridge.providers.xero.pull import fetch_page
from ledgerbridge.providers.xero.push import CAPABILITIES, execute, problems
from ledgerbridge.unified import (
    Contact,
    ContactWrite,
    Invoice,
    InvoiceWrite,
    LineWrite,
    Model,
    PurchaseOrder,
    PurchaseOrderWrite,
)
from tests.providers.test_xero_mapping import assert_money_exact, exact
from tests.providers.test_xero_pull import Org

pytestmark = pytest.mark.sandbox(size=30, settings={"rate_limits": False})
Record = dict[str, Any]
ISSUED = date(2024, 6, 3)


@pytest.fixture
def org(sandbox_url: str, connect: Callable[..., dict[str, Any]]) -> Org:
    tokens = connect("xero")
    return Org(sandbox_url, tokens["access_token"], tokens["accounts"][0])


def push(
    org: Org,
    model: Model,
    action: Action,
    body: Write | None = None,
    remote_id: str | None = None,
    key: str | None = None,
) -> Pushed:
    return org.call(
        lambda http: execute(
            http, PushRequest(model, action, body, remote_id, key or secrets.token_hex(16))
        )
    )


def record_of(org: Org, object_type: str, remote_id: str) -> Record:
    """The sandbox's one record with that id (it is there exactly once)."""
    matches = [r for r in org.records(object_type) if r[f"{object_type[:-1]}ID"] == remote_id]
    assert len(matches) == 1
    return matches[0]


def account_code(org: Org, kind: str) -> str:
    return str(
        next(
            a["Code"]
            for a in org.records("Accounts")
            if a["Class"] == kind and a["Status"] == "ACTIVE"
        )
    )


def contact_id(org: Org) -> str:
    return str(
        next(c["ContactID"] for c in org.records("Contacts") if c["ContactStatus"] == "ACTIVE")
    )


def lines(account: str) -> list[LineWrite]:
    return [
        LineWrite(
            description="Harakeke kete",
            quantity=Decimal("3"),
            unit_amount=Decimal("12.3456"),
            account_code=account,
        ),
        LineWrite(
            description="Pounamu, carved",
            quantity=Decimal("0.5"),
            unit_amount=Decimal("1999.99"),
            account_code=account,
        ),
    ]


def invoice(org: Org, **changes: Any) -> InvoiceWrite:
    kind = changes.get("type", "sales")
    fields: Record = {
        "contact_remote_id": contact_id(org),
        "reference": "Order 4411" if kind == "sales" else None,
        "issue_date": ISSUED,
        "due_date": ISSUED + timedelta(days=20),
        "currency": "NZD",
        "lines": lines(account_code(org, "REVENUE" if kind == "sales" else "EXPENSE")),
    }
    return InvoiceWrite(**(fields | changes))


def purchase_order(org: Org, **changes: Any) -> PurchaseOrderWrite:
    fields: Record = {
        "contact_remote_id": contact_id(org),
        "reference": "Spring stock",
        "issue_date": ISSUED,
        "delivery_date": ISSUED + timedelta(days=7),
        "currency": "NZD",
        "lines": [
            LineWrite(
                description="Flax, bundle",
                quantity=Decimal("7"),
                unit_amount=Decimal("18.35"),
                account_code=account_code(org, "EXPENSE"),
            )
        ],
    }
    return PurchaseOrderWrite(**(fields | changes))


def contact(**changes: Any) -> ContactWrite:
    fields: Record = {
        "name": "Ōtaki Weavers Collective",
        "code": "LB-0042",
        "email": "orders@otaki.example",
        "phone": "+64 6 364 1234",
        "tax_number": "123-456-789",
        "currency": "NZD",
    }
    return ContactWrite(**(fields | changes))


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), ROUND_HALF_UP)


def assert_lines_as_sent(raw: Record, sent: list[LineWrite]) -> None:
    assert [
        (exact(r["Quantity"]), exact(r["UnitAmount"]), r["Description"]) for r in raw["LineItems"]
    ] == [(line.quantity, line.unit_amount, line.description) for line in sent]
    assert exact(raw["SubTotal"]) == sum(cents(line.quantity * line.unit_amount) for line in sent)


def assert_pull_sees_the_same(org: Org, pushed: Pushed) -> None:
    """The next pull lists the record exactly as ``execute`` returned it: nothing to change."""
    assert pushed.updated_at is not None
    cursor = {"since": iso(pushed.updated_at), "page": 1, "high_water": None}
    page = org.call(lambda http: fetch_page(http, pushed.object_type, cursor))
    listed = {o.external_id: o for o in page.objects}[pushed.remote_id]
    assert listed.payload == pushed.payload
    assert listed.updated_at == pushed.updated_at


def unified(pushed: Pushed) -> Any:
    obj = RemoteObject(pushed.remote_id, pushed.payload, pushed.updated_at, pushed.version)
    return to_unified(pushed.object_type, obj)


# --- 1. creating each model ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sales", "bill"])
def test_create_an_invoice_or_a_bill(org: Org, kind: str) -> None:
    before = len(org.records("Invoices"))
    body = invoice(org, type=kind, number=None if kind == "sales" else "SUP-981")
    pushed = push(org, Model.invoice, Action.create, body)

    assert len(org.records("Invoices")) == before + 1
    raw = record_of(org, "Invoices", pushed.remote_id)
    assert raw["Type"] == ("ACCREC" if kind == "sales" else "ACCPAY")
    assert raw["Status"] == "AUTHORISED"
    assert raw["Contact"]["ContactID"] == body.contact_remote_id
    assert_lines_as_sent(raw, body.lines)
    assert pushed.object_type == "Invoices"
    assert pushed.number == raw["InvoiceNumber"]
    assert pushed.number == (body.number or raw["InvoiceNumber"])  # a sales number is Xero's
    assert pushed.number

    mapped = unified(pushed)
    assert isinstance(mapped, Invoice)
    assert (mapped.subtotal, mapped.total_tax, mapped.total) == tuple(
        exact(raw[k]) for k in ("SubTotal", "TotalTax", "Total")
    )
    assert mapped.type == kind
    assert (mapped.issue_date, mapped.due_date) == (body.issue_date, body.due_date)
    assert mapped.reference == body.reference
    assert_money_exact("Invoices", mapped, raw)
    assert_pull_sees_the_same(org, pushed)


def test_create_a_purchase_order(org: Org) -> None:
    before = len(org.records("PurchaseOrders"))
    body = purchase_order(org, status="draft")
    pushed = push(org, Model.purchase_order, Action.create, body)

    assert len(org.records("PurchaseOrders")) == before + 1
    raw = record_of(org, "PurchaseOrders", pushed.remote_id)
    assert raw["Status"] == "DRAFT"
    assert_lines_as_sent(raw, body.lines)
    mapped = unified(pushed)
    assert isinstance(mapped, PurchaseOrder)
    assert mapped.total == exact(raw["Total"]) == exact(raw["SubTotal"]) + exact(raw["TotalTax"])
    assert mapped.delivery_date == body.delivery_date
    assert mapped.number == pushed.number == raw["PurchaseOrderNumber"]
    assert_money_exact("PurchaseOrders", mapped, raw)
    assert_pull_sees_the_same(org, pushed)


def test_create_a_contact(org: Org) -> None:
    before = len(org.records("Contacts"))
    body = contact()
    pushed = push(org, Model.contact, Action.create, body)

    assert len(org.records("Contacts")) == before + 1
    assert record_of(org, "Contacts", pushed.remote_id)["ContactNumber"] == "LB-0042"
    mapped = unified(pushed)
    assert isinstance(mapped, Contact)
    assert (mapped.name, mapped.email, mapped.phone, mapped.tax_number, mapped.currency) == (
        body.name,
        body.email,
        body.phone,
        body.tax_number,
        body.currency,
    )
    assert mapped.status == "active"
    assert pushed.number == "LB-0042"
    assert_pull_sees_the_same(org, pushed)


# --- 2. exactly once -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "object_type", "make"),
    [
        (Model.invoice, "Invoices", invoice),
        (Model.purchase_order, "PurchaseOrders", purchase_order),
        (Model.contact, "Contacts", lambda org: contact()),
    ],
)
def test_the_same_key_twice_writes_once(
    org: Org, model: Model, object_type: str, make: Callable[[Org], Write]
) -> None:
    body = make(org)
    before = len(org.records(object_type))
    key = f"operation-{secrets.token_hex(8)}"

    first = push(org, model, Action.create, body, key=key)
    again = push(org, model, Action.create, body, key=key)  # as after a crash once Xero answered

    assert again.remote_id == first.remote_id
    assert again.payload == first.payload
    assert len(org.records(object_type)) == before + 1


def test_a_key_longer_than_xero_takes_still_writes_once(org: Org) -> None:
    before = len(org.records("Invoices"))
    key = "k" * 300
    first = push(org, Model.invoice, Action.create, invoice(org), key=key)
    again = push(org, Model.invoice, Action.create, invoice(org), key=key)
    assert again.remote_id == first.remote_id
    assert len(org.records("Invoices")) == before + 1


def test_an_update_replayed_after_xero_answered_changes_nothing_more(org: Org) -> None:
    created = push(org, Model.contact, Action.create, contact())
    key = secrets.token_hex(8)
    renamed = push(
        org, Model.contact, Action.update, contact(name="Ōtaki Weavers"), created.remote_id, key
    )
    again = push(
        org, Model.contact, Action.update, contact(name="Ōtaki Weavers"), created.remote_id, key
    )
    assert again == renamed
    assert (
        record_of(org, "Contacts", created.remote_id)["UpdatedDateUTC"]
        == renamed.payload["UpdatedDateUTC"]
    )


# --- 3. updates and voids --------------------------------------------------------------


def test_update_then_void_an_invoice(org: Org) -> None:
    created = push(org, Model.invoice, Action.create, invoice(org))
    changed_lines = [
        LineWrite(
            description="Kete, large",
            quantity=Decimal("2"),
            unit_amount=Decimal("88.0125"),
            account_code=account_code(org, "REVENUE"),
        )
    ]
    updated = push(
        org,
        Model.invoice,
        Action.update,
        invoice(org, lines=changed_lines, reference="Order 4412"),
        created.remote_id,
    )
    raw = record_of(org, "Invoices", created.remote_id)
    assert raw["Reference"] == "Order 4412"
    assert_lines_as_sent(raw, changed_lines)
    assert updated.number == created.number
    assert unified(updated).subtotal == Decimal("176.03")
    assert_pull_sees_the_same(org, updated)

    voided = push(org, Model.invoice, Action.void, remote_id=created.remote_id)
    assert record_of(org, "Invoices", created.remote_id)["Status"] == "VOIDED"
    assert unified(voided).status == "void"
    assert exact(voided.payload["AmountDue"]) == 0
    assert_pull_sees_the_same(org, voided)


def test_voiding_a_draft_deletes_it_and_a_second_void_writes_nothing(org: Org) -> None:
    created = push(org, Model.invoice, Action.create, invoice(org, status="draft"))
    voided = push(org, Model.invoice, Action.void, remote_id=created.remote_id)
    assert record_of(org, "Invoices", created.remote_id)["Status"] == "DELETED"
    assert unified(voided).remote_was_deleted is False  # pull decides tombstones, not push
    assert unified(voided).status == "deleted"

    again = push(org, Model.invoice, Action.void, remote_id=created.remote_id)  # another key
    assert again.payload == voided.payload  # Xero would refuse to change a deleted invoice
    assert record_of(org, "Invoices", created.remote_id) == voided.payload


def test_update_then_delete_a_purchase_order(org: Org) -> None:
    created = push(org, Model.purchase_order, Action.create, purchase_order(org))
    updated = push(
        org,
        Model.purchase_order,
        Action.update,
        purchase_order(org, status="draft", reference="Spring stock, revised"),
        created.remote_id,
    )
    raw = record_of(org, "PurchaseOrders", created.remote_id)
    assert (raw["Status"], raw["Reference"]) == ("DRAFT", "Spring stock, revised")
    assert_pull_sees_the_same(org, updated)

    deleted = push(org, Model.purchase_order, Action.void, remote_id=created.remote_id)
    assert record_of(org, "PurchaseOrders", created.remote_id)["Status"] == "DELETED"
    assert unified(deleted).status == "deleted"


def test_update_then_archive_a_contact(org: Org) -> None:
    created = push(org, Model.contact, Action.create, contact())
    updated = push(
        org,
        Model.contact,
        Action.update,
        contact(email="accounts@otaki.example"),
        created.remote_id,
    )
    assert record_of(org, "Contacts", created.remote_id)["EmailAddress"] == "accounts@otaki.example"
    assert_pull_sees_the_same(org, updated)

    archived = push(org, Model.contact, Action.void, remote_id=created.remote_id)
    assert record_of(org, "Contacts", created.remote_id)["ContactStatus"] == "ARCHIVED"
    assert unified(archived).status == "archived"


# --- 4. Xero refuses -------------------------------------------------------------------


def test_a_validation_error_carries_xeros_messages_and_creates_nothing(org: Org) -> None:
    before = len(org.records("Invoices"))
    unknown = "00000000-0000-0000-0000-00000000beef"
    body = invoice(org, contact_remote_id=unknown)
    key = secrets.token_hex(8)

    for _ in range(2):  # a replay of the key answers the same refusal
        with pytest.raises(ProviderError) as refused:
            push(org, Model.invoice, Action.create, body, key=key)
        assert refused.value.status == 400
        assert refused.value.code == "ValidationException"
        assert f"Contact with ID {unknown} could not be found." in refused.value.details

    assert len(org.records("Invoices")) == before


def test_xero_refuses_to_void_a_paid_invoice(org: Org) -> None:
    paid = next(i for i in org.records("Invoices") if i["Status"] == "PAID")
    with pytest.raises(ProviderError) as refused:
        push(org, Model.invoice, Action.void, remote_id=paid["InvoiceID"])
    assert refused.value.details, "Xero's own messages"
    assert record_of(org, "Invoices", paid["InvoiceID"])["Status"] == "PAID"


def test_an_unknown_record_is_a_provider_error(org: Org) -> None:
    with pytest.raises(ProviderError) as refused:
        push(org, Model.contact, Action.update, contact(), "00000000-0000-0000-0000-000000000000")
    assert refused.value.status == 404


# --- 5. what Xero cannot take ----------------------------------------------------------


def test_capabilities() -> None:
    assert set(CAPABILITIES) == {Model.invoice, Model.purchase_order, Model.contact}
    assert all(actions == set(Action) for actions in CAPABILITIES.values())
    assert problems(Model.payment, Action.create, None) == [
        "Xero cannot create a record of type payment."
    ]
    assert problems(Model.invoice, Action.void, None) == []


def test_problems_name_what_xero_cannot_take() -> None:
    line = LineWrite(description="Kete", unit_amount=Decimal("10.125"))
    po = PurchaseOrderWrite(contact_remote_id="c", issue_date=ISSUED, currency="NZD", lines=[line])
    assert problems(Model.purchase_order, Action.create, po) == [
        "Line 1: Xero keeps purchase order unit amounts to 2 decimal places, not 10.125."
    ]
    sales = InvoiceWrite(contact_remote_id="c", issue_date=ISSUED, currency="NZD", lines=[line])
    assert problems(Model.invoice, Action.create, sales) == []  # invoices take four places
    bill = sales.model_copy(update={"type": "bill", "reference": "REF-1"})
    assert problems(Model.invoice, Action.update, bill) == [
        "Xero keeps no reference on a bill: send the supplier's reference as its number."
    ]
    long_item = LineWrite(description="Kete", unit_amount=Decimal(1), item_code="X" * 31)
    assert problems(
        Model.invoice, Action.create, sales.model_copy(update={"lines": [long_item]})
    ) == ["Line 1: Xero item codes have at most 30 characters."]
    assert problems(Model.contact, Action.create, contact(code="C" * 51)) == [
        "Xero's contact number (code) has at most 50 characters."
    ]
    assert problems(Model.contact, Action.create, sales) == [
        "To create a record of type contact, the body must be ContactWrite."
    ]
    assert problems(Model.invoice, Action.create, None) == [
        "To create a record of type invoice, the body must be InvoiceWrite."
    ]


def test_execute_refuses_before_writing(org: Org) -> None:
    before = org.records("Contacts")
    with pytest.raises(ValueError, match="at most 50 characters"):
        push(org, Model.contact, Action.create, contact(code="C" * 51))
    with pytest.raises(ValueError, match="needs one"):
        push(org, Model.contact, Action.update, contact())
    assert org.records("Contacts") == before
