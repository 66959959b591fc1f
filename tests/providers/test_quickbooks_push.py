"""Pushing to a QuickBooks company in the sandbox over real HTTP: creates, updates, voids
and deletes, each landing once however often it is sent, QuickBooks' Fault answers, and
what QuickBooks cannot take."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from ledgerbridge.providers.pulling import ProviderError, RemoteObject
from ledgerbridge.providers.pushing import Action, Pushed, PushRequest, Write
from ledgerbridge.providers.quickbooks import pull
from ledgerbridge.providers.quickbooks.mapping import to_unified
from ledgerbridge.providers.quickbooks.push import CAPABILITIES, execute, problems
from ledgerbridge.unified import (
    Contact,
    ContactWrite,
    Invoice,
    InvoiceWrite,
    LineWrite,
    Model,
    PurchaseOrder,
    PurchaseOrderWrite,
    Unified,
)

REALM = "9341453000000001"
API_PATH = f"/quickbooks/v3/company/{REALM}"

pytestmark = pytest.mark.sandbox(seed=5, size=30, settings={"rate_limits": False})

ResponseHook = Callable[[httpx.Response], Awaitable[None]]


@dataclass(frozen=True)
class Company:
    """What ledgerbridge hands a push module: the API base of one realm and a token."""

    base_url: str
    token: str

    def push(
        self,
        model: Model,
        action: Action,
        body: Write | None = None,
        *,
        remote_id: str | None = None,
        key: str,
        on_response: ResponseHook | None = None,
    ) -> Pushed:
        async def go() -> Pushed:
            headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
            hooks = {"response": [on_response]} if on_response else {}
            async with httpx.AsyncClient(
                base_url=self.base_url, headers=headers, timeout=30, event_hooks=hooks
            ) as http:
                return await execute(http, PushRequest(model, action, body, remote_id, key))

        return asyncio.run(go())

    def pulled(self, pushed: Pushed) -> dict[str, Any]:
        """The record as the next pull sync reads it."""

        async def go() -> dict[str, Any]:
            since = pushed.payload["MetaData"]["LastUpdatedTime"]
            cursor = {"since": since, "position": 1, "high_water": None}
            headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
            async with httpx.AsyncClient(base_url=self.base_url, headers=headers) as http:
                page = await pull.fetch_page(http, pushed.object_type, cursor)
            return next(o.payload for o in page.objects if o.external_id == pushed.remote_id)

        return asyncio.run(go())


@dataclass(frozen=True)
class Refs:
    """Ids of seeded records the writes point at."""

    customer: str
    vendor: str
    item: str
    expense_account: str


@pytest.fixture
def company(sandbox_url: str, connect: Any) -> Company:
    tokens = connect("quickbooks", [REALM])
    return Company(f"{sandbox_url}{API_PATH}", tokens["access_token"])


@pytest.fixture
def control(sandbox_url: str) -> Iterator[httpx.Client]:
    """The sandbox's control API for the company: records as its user sees them."""
    with httpx.Client(base_url=f"{sandbox_url}/_sandbox/quickbooks/{REALM}", timeout=30) as client:
        yield client


@pytest.fixture
def refs(control: httpx.Client) -> Refs:
    def first(object_type: str, wanted: Callable[[dict[str, Any]], bool]) -> str:
        return str(next(r["Id"] for r in listing(control, object_type).values() if wanted(r)))

    def usd(record: dict[str, Any]) -> bool:
        return bool(record["Active"]) and record["CurrencyRef"]["value"] == "USD"

    return Refs(
        customer=first("Customer", usd),
        vendor=first("Vendor", usd),
        item=first("Item", lambda r: r["Active"]),
        expense_account=first("Account", lambda r: r["AccountType"] == "Expense"),
    )


def exact(response: httpx.Response) -> Any:
    assert response.is_success, response.text
    return json.loads(response.content, parse_float=Decimal)


def listing(control: httpx.Client, object_type: str) -> dict[str, dict[str, Any]]:
    """Every record the sandbox holds (deleted transactions are gone from it)."""
    return {record["Id"]: record for record in exact(control.get(f"/{object_type}"))}


def mapped(pushed: Pushed) -> Unified:
    remote = RemoteObject(pushed.remote_id, pushed.payload, pushed.updated_at, pushed.version)
    return to_unified(pushed.object_type, remote)


def line(description: str, quantity: str, unit: str, **codes: str) -> LineWrite:
    return LineWrite(
        description=description, quantity=Decimal(quantity), unit_amount=Decimal(unit), **codes
    )


def sales_invoice(refs: Refs, **changes: Any) -> InvoiceWrite:
    fields: dict[str, Any] = {
        "contact_remote_id": refs.customer,
        "number": "LB-1001",
        "reference": "order 77",
        "issue_date": date(2024, 6, 3),
        "due_date": date(2024, 7, 3),
        "currency": "USD",
        "lines": [
            line("Rain shells", "3", "19.99", item_code=refs.item, tax_code="TAX"),
            line("Stickers", "7", "0.10", item_code=refs.item),
            line("Fitting", "1.5", "0.3333", item_code=refs.item),  # 0.49995 → 0.50
        ],
    }
    return InvoiceWrite(**{**fields, **changes})


def bill(refs: Refs) -> InvoiceWrite:
    return InvoiceWrite(
        type="bill",
        contact_remote_id=refs.vendor,
        number="SUP-88",
        issue_date=date(2024, 6, 4),
        currency="USD",
        lines=[
            line("Rent, June", "1", "1234.56", account_code=refs.expense_account),
            line("Camp stoves", "2", "45.125", item_code=refs.item),
        ],
    )


def purchase_order(refs: Refs, **changes: Any) -> PurchaseOrderWrite:
    fields: dict[str, Any] = {
        "contact_remote_id": refs.vendor,
        "issue_date": date(2024, 6, 5),
        "delivery_date": date(2024, 6, 20),
        "currency": "USD",
        "lines": [
            line("Water bottles", "4", "12.5", item_code=refs.item),
            line("Freight", "3", "0.1", account_code=refs.expense_account),
        ],
    }
    return PurchaseOrderWrite(**{**fields, **changes})


def customer(**changes: Any) -> ContactWrite:
    fields: dict[str, Any] = {
        "name": "Ōtaki Surf Co-op",
        "email": "accounts@otaki.example",
        "phone": "+64 6 364 0000",
        "tax_number": "123-456-789",
        "currency": "USD",
    }
    return ContactWrite(**{**fields, **changes})


def vendor() -> ContactWrite:
    return ContactWrite(name="Tūī Freight Ltd", is_customer=False, is_supplier=True)


# --- 1. creates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "model", "object_type", "total", "tax"),
    [
        (sales_invoice, Model.invoice, "Invoice", "66.12", "4.95"),  # 8.25 % of 59.97
        (bill, Model.invoice, "Bill", "1324.81", "0"),
        (purchase_order, Model.purchase_order, "PurchaseOrder", "50.30", "0"),
    ],
)
def test_create_documents(
    company: Company,
    control: httpx.Client,
    refs: Refs,
    make: Callable[[Refs], InvoiceWrite | PurchaseOrderWrite],
    model: Model,
    object_type: str,
    total: str,
    tax: str,
) -> None:
    body = make(refs)
    before = listing(control, object_type)

    pushed = company.push(model, Action.create, body, key=f"op-{object_type}-1")

    after = listing(control, object_type)
    assert set(after) - set(before) == {pushed.remote_id}
    stored = after[pushed.remote_id]
    assert stored["TotalAmt"] == Decimal(total)
    sent = [(w.quantity * w.unit_amount).quantize(Decimal("0.01")) for w in body.lines]
    amounts = [ln["Amount"] for ln in stored["Line"] if ln["DetailType"] != "SubTotalLineDetail"]
    assert amounts == sent
    assert [ln.get("Description") for ln in stored["Line"][: len(body.lines)]] == [
        w.description for w in body.lines
    ]
    assert pushed.object_type == object_type
    assert pushed.number == stored.get("DocNumber")
    assert pushed.version == "0" and pushed.updated_at is not None

    record = mapped(pushed)
    assert isinstance(record, Invoice | PurchaseOrder)
    assert record.total == Decimal(total) and record.total_tax == Decimal(tax)
    assert record.contact_remote_id == body.contact_remote_id
    assert record.issue_date == body.issue_date and record.currency == "USD"
    assert sum((ln.amount for ln in record.lines), Decimal(0)) == record.total - record.total_tax
    if isinstance(body, InvoiceWrite):
        assert isinstance(record, Invoice) and record.type == body.type
        assert record.number == body.number and record.status == "open"
    else:
        assert isinstance(record, PurchaseOrder) and record.delivery_date == body.delivery_date

    assert company.pulled(pushed) == pushed.payload  # the next pull sees no change


@pytest.mark.parametrize(("make", "object_type"), [(customer, "Customer"), (vendor, "Vendor")])
def test_create_contacts(
    company: Company, control: httpx.Client, make: Callable[[], ContactWrite], object_type: str
) -> None:
    body = make()
    before = listing(control, object_type)

    pushed = company.push(Model.contact, Action.create, body, key=f"op-{object_type}-1")

    after = listing(control, object_type)
    assert set(after) - set(before) == {pushed.remote_id}
    assert after[pushed.remote_id]["DisplayName"] == body.name
    record = mapped(pushed)
    assert isinstance(record, Contact)
    assert (record.name, record.email, record.phone) == (body.name, body.email, body.phone)
    assert (record.is_customer, record.is_supplier) == (body.is_customer, body.is_supplier)
    assert record.tax_number == body.tax_number
    assert company.pulled(pushed) == pushed.payload


# --- 2. exactly once -------------------------------------------------------------------


def test_sending_a_create_again_lands_it_once(
    company: Company, control: httpx.Client, refs: Refs
) -> None:
    before = listing(control, "Invoice")
    first = company.push(Model.invoice, Action.create, sales_invoice(refs), key="op-again")
    again = company.push(Model.invoice, Action.create, sales_invoice(refs), key="op-again")
    assert again.remote_id == first.remote_id and again.payload == first.payload
    assert set(listing(control, "Invoice")) - set(before) == {first.remote_id}

    other = company.push(Model.invoice, Action.create, sales_invoice(refs), key="op-other")
    assert other.remote_id != first.remote_id  # the key, not the body, tells writes apart


def test_a_long_key_becomes_one_short_request_id(
    company: Company, control: httpx.Client, sandbox: httpx.Client
) -> None:
    key = "tenant-42:connection-7:operation-" + "9" * 60
    before = listing(control, "Customer")
    first = company.push(Model.contact, Action.create, customer(), key=key)
    again = company.push(Model.contact, Action.create, customer(), key=key)  # no 6240
    assert again.remote_id == first.remote_id
    assert set(listing(control, "Customer")) - set(before) == {first.remote_id}

    ledger = sandbox.get(
        "/_sandbox/ledger", params={"provider": "quickbooks", "path_prefix": f"{API_PATH}/customer"}
    ).json()
    request_ids = {
        parse_qs(entry["query"])["requestid"][0]
        for entry in ledger["entries"]
        if entry["method"] == "POST"
    }
    assert len(request_ids) == 1 and len(request_ids.pop()) <= 50


def test_sending_an_update_or_a_void_again_changes_the_record_once(
    company: Company, control: httpx.Client, refs: Refs
) -> None:
    created = company.push(Model.invoice, Action.create, sales_invoice(refs), key="op-c")
    change = sales_invoice(refs, lines=[line("Tent", "2", "150", item_code=refs.item)])
    for _ in range(2):
        updated = company.push(
            Model.invoice, Action.update, change, remote_id=created.remote_id, key="op-u"
        )
        assert updated.version == "1"
    assert listing(control, "Invoice")[created.remote_id]["SyncToken"] == "1"

    for _ in range(2):
        voided = company.push(Model.invoice, Action.void, remote_id=created.remote_id, key="op-v")
        assert voided.version == "2"
    assert listing(control, "Invoice")[created.remote_id]["SyncToken"] == "2"


def test_sending_a_delete_again_answers_the_first_delete(
    company: Company, control: httpx.Client, refs: Refs
) -> None:
    created = company.push(Model.purchase_order, Action.create, purchase_order(refs), key="op-po")
    first = company.push(
        Model.purchase_order, Action.void, remote_id=created.remote_id, key="op-po-delete"
    )
    again = company.push(
        Model.purchase_order, Action.void, remote_id=created.remote_id, key="op-po-delete"
    )
    assert again == first
    assert created.remote_id not in listing(control, "PurchaseOrder")

    with pytest.raises(ProviderError) as raised:  # another delete of it: it is gone
        company.push(
            Model.purchase_order, Action.void, remote_id=created.remote_id, key="op-po-delete-2"
        )
    assert raised.value.code == "610"


# --- 3. updates, voids and deletes -------------------------------------------------------


def test_update_an_invoice(company: Company, control: httpx.Client, refs: Refs) -> None:
    created = company.push(Model.invoice, Action.create, sales_invoice(refs), key="op-1")
    change = sales_invoice(
        refs,
        number=None,  # sparse: the number stays
        due_date=date(2024, 8, 1),
        lines=[line("Tent", "2", "150.05", item_code=refs.item)],
    )

    updated = company.push(
        Model.invoice, Action.update, change, remote_id=created.remote_id, key="op-2"
    )

    stored = listing(control, "Invoice")[created.remote_id]
    assert stored["TotalAmt"] == Decimal("300.10") and stored["DueDate"] == "2024-08-01"
    assert stored["DocNumber"] == "LB-1001" and stored["SyncToken"] == "1"
    record = mapped(updated)
    assert isinstance(record, Invoice)
    assert record.total == Decimal("300.10") and len(record.lines) == 1
    assert updated.remote_id == created.remote_id and updated.number == "LB-1001"


def test_update_a_purchase_order_and_a_contact(
    company: Company, control: httpx.Client, refs: Refs
) -> None:
    order = company.push(Model.purchase_order, Action.create, purchase_order(refs), key="op-1")
    change = purchase_order(refs, lines=[line("Tarps", "10", "9.99", item_code=refs.item)])
    company.push(Model.purchase_order, Action.update, change, remote_id=order.remote_id, key="op-2")
    assert listing(control, "PurchaseOrder")[order.remote_id]["TotalAmt"] == Decimal("99.9")

    person = company.push(Model.contact, Action.create, customer(), key="op-3")
    moved = customer(email="billing@otaki.example", phone=None)
    updated = company.push(
        Model.contact, Action.update, moved, remote_id=person.remote_id, key="op-4"
    )
    stored = listing(control, "Customer")[person.remote_id]
    assert stored["PrimaryEmailAddr"]["Address"] == "billing@otaki.example"
    assert stored["PrimaryPhone"]["FreeFormNumber"] == "+64 6 364 0000"  # sparse: kept
    assert updated.version == "1"


def test_void_an_invoice(company: Company, control: httpx.Client, refs: Refs) -> None:
    created = company.push(Model.invoice, Action.create, sales_invoice(refs), key="op-1")

    voided = company.push(Model.invoice, Action.void, remote_id=created.remote_id, key="op-2")

    stored = listing(control, "Invoice")[created.remote_id]
    assert stored["TotalAmt"] == 0 and stored["PrivateNote"].startswith("Voided")
    record = mapped(voided)
    assert isinstance(record, Invoice) and record.status == "void" and record.total == 0


@pytest.mark.parametrize("kind", ["bill", "purchase order"])
def test_void_deletes_a_bill_or_a_purchase_order(
    company: Company, control: httpx.Client, refs: Refs, kind: str
) -> None:
    model, body = (
        (Model.invoice, bill(refs))
        if kind == "bill"
        else (Model.purchase_order, purchase_order(refs))
    )
    created = company.push(model, Action.create, body, key="op-1")

    deleted = company.push(model, Action.void, body, remote_id=created.remote_id, key="op-2")

    assert created.remote_id not in listing(control, created.object_type)
    assert deleted.object_type == created.object_type
    assert deleted.payload["status"] == "Deleted" and deleted.remote_id == created.remote_id
    record = mapped(deleted)
    assert record.remote_was_deleted and getattr(record, "status", None) == "deleted"


def test_a_record_changed_between_read_and_write_fails_for_good(
    company: Company, control: httpx.Client, refs: Refs, sandbox_url: str
) -> None:
    created = company.push(Model.invoice, Action.create, sales_invoice(refs), key="op-1")
    record_url = f"{sandbox_url}/_sandbox/quickbooks/{REALM}/Invoice/{created.remote_id}"

    async def user_edits_after_the_read(response: httpx.Response) -> None:
        if response.request.method == "GET":
            async with httpx.AsyncClient() as user:
                (
                    await user.patch(record_url, json={"PrivateNote": "by its user"})
                ).raise_for_status()

    change = sales_invoice(refs, lines=[line("Tent", "1", "99", item_code=refs.item)])
    with pytest.raises(ProviderError) as raised:
        company.push(
            Model.invoice,
            Action.update,
            change,
            remote_id=created.remote_id,
            key="op-2",
            on_response=user_edits_after_the_read,
        )

    assert raised.value.code == "5010"
    assert "Stale Object Error" in raised.value.message and "final" in raised.value.message
    stored = listing(control, "Invoice")[created.remote_id]
    assert stored["PrivateNote"] == "by its user" and stored["TotalAmt"] == Decimal("66.12")


# --- 4. QuickBooks' own errors ----------------------------------------------------------


def test_an_unknown_reference_is_quickbooks_validation_fault(
    company: Company, control: httpx.Client, refs: Refs
) -> None:
    before = listing(control, "Invoice")
    body = sales_invoice(refs, contact_remote_id="999999")

    with pytest.raises(ProviderError) as raised:
        company.push(Model.invoice, Action.create, body, key="op-1")

    error = raised.value
    assert error.status == 400 and error.code == "2500"
    assert error.message == "Invalid Reference Id"
    assert any("CustomerRef 999999" in detail for detail in error.details)
    assert listing(control, "Invoice") == before


def test_a_duplicate_name_is_quickbooks_validation_fault(
    company: Company, control: httpx.Client
) -> None:
    company.push(Model.contact, Action.create, customer(), key="op-1")
    before = listing(control, "Customer")

    with pytest.raises(ProviderError) as raised:
        company.push(Model.contact, Action.create, customer(), key="op-2")

    assert raised.value.code == "6240" and "Duplicate Name" in raised.value.message
    assert listing(control, "Customer") == before


def test_voiding_an_unknown_invoice_is_not_found(company: Company) -> None:
    with pytest.raises(ProviderError) as raised:
        company.push(Model.invoice, Action.void, remote_id="999999", key="op-1")
    assert raised.value.code == "610" and raised.value.message == "Object Not Found"


# --- 5. what QuickBooks cannot take -------------------------------------------------------


def test_capabilities() -> None:
    assert CAPABILITIES[Model.invoice] == {Action.create, Action.update, Action.void}
    assert CAPABILITIES[Model.purchase_order] == {Action.create, Action.update, Action.void}
    assert CAPABILITIES[Model.contact] == {Action.create, Action.update}
    assert Model.payment not in CAPABILITIES


REFS = Refs(customer="1", vendor="1", item="1", expense_account="9")


@pytest.mark.parametrize(
    ("model", "action", "body", "expected"),
    [
        (Model.contact, Action.void, None, "cannot void a contact"),
        (Model.payment, Action.create, None, "cannot create a payment"),
        (Model.invoice, Action.create, None, "needs a body (InvoiceWrite)"),
        (Model.invoice, Action.create, customer(), "takes InvoiceWrite, not ContactWrite"),
        (Model.invoice, Action.create, sales_invoice(REFS, status="draft"), "no draft invoices"),
        (Model.invoice, Action.create, sales_invoice(REFS, number="X" * 22), "at most 21"),
        (
            Model.invoice,
            Action.create,
            sales_invoice(REFS, lines=[line("Fee", "1", "5", account_code="9")]),
            "needs item_code",
        ),
        (
            Model.invoice,
            Action.update,
            sales_invoice(REFS, lines=[line("Fee", "1", "5", item_code="1", account_code="9")]),
            "leave account_code out",
        ),
        (
            Model.purchase_order,
            Action.create,
            purchase_order(REFS, lines=[line("Fee", "1", "5")]),
            "an item_code or an account_code",
        ),
        (
            Model.purchase_order,
            Action.create,
            purchase_order(REFS, status="draft"),
            "no draft purchase orders",
        ),
        (Model.contact, Action.create, customer(code="C-1"), "leave code out"),
        (Model.contact, Action.create, customer(name="Parent:Child"), "cannot contain a colon"),
        (
            Model.contact,
            Action.create,
            customer(is_customer=False),
            "a customer or a supplier",
        ),
    ],
)
def test_problems_refuse_what_quickbooks_cannot_take(
    model: Model, action: Action, body: Write | None, expected: str
) -> None:
    found = problems(model, action, body)
    assert any(expected in problem for problem in found), found

    async def refused() -> None:
        async with httpx.AsyncClient(base_url="http://127.0.0.1:9") as http:  # never called
            remote_id = None if action is Action.create else "1"
            await execute(http, PushRequest(model, action, body, remote_id, "op-1"))

    with pytest.raises(ValueError, match=re.escape(expected)):
        asyncio.run(refused())


@pytest.mark.parametrize(
    ("model", "action", "body"),
    [
        (Model.invoice, Action.create, sales_invoice(REFS)),
        (Model.invoice, Action.update, bill(REFS)),
        (Model.invoice, Action.void, None),
        (Model.invoice, Action.void, bill(REFS)),
        (Model.purchase_order, Action.create, purchase_order(REFS)),
        (Model.purchase_order, Action.void, None),
        (Model.contact, Action.create, customer()),
        (Model.contact, Action.update, vendor()),
    ],
)
def test_problems_accept_what_quickbooks_takes(
    model: Model, action: Action, body: Write | None
) -> None:
    assert problems(model, action, body) == []
