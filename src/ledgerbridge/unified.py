"""The unified models: one shape per kind of record, whatever provider it came from.

Provider mappers (``ledgerbridge.providers.<provider>.mapping``) build these from raw
payloads; sync stores them; the records API, push and reconciliation read them. Money is
``Decimal`` with its currency; dates are dates, timestamps UTC. What a model has no field
for stays reachable in ``remote_data`` (the raw payload).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(StrEnum):
    contact = "contact"
    invoice = "invoice"
    payment = "payment"
    item = "item"
    account = "account"
    bank_transaction = "bank_transaction"
    credit_note = "credit_note"
    purchase_order = "purchase_order"
    sale = "sale"
    location = "location"


class Unified(BaseModel):
    """Fields every unified record has."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    remote_id: str
    remote_updated_at: dt.datetime | None = None
    remote_was_deleted: bool = False


class Line(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    remote_id: str | None = None
    description: str | None = None
    quantity: Decimal | None = None
    unit_amount: Decimal | None = None
    amount: Decimal = Decimal("0")  # line total excluding tax
    tax_amount: Decimal = Decimal("0")
    item_remote_id: str | None = None
    account_remote_id: str | None = None  # account code or id, as the provider names it


class Contact(Unified):
    name: str
    email: str | None = None
    phone: str | None = None
    is_customer: bool = False
    is_supplier: bool = False
    tax_number: str | None = None
    currency: str | None = None
    status: Literal["active", "archived"] = "active"


DocumentStatus = Literal["draft", "submitted", "open", "paid", "void", "deleted"]


class Invoice(Unified):
    type: Literal["sales", "bill"]
    number: str | None = None
    reference: str | None = None
    contact_remote_id: str | None = None
    issue_date: dt.date | None = None
    due_date: dt.date | None = None
    currency: str
    subtotal: Decimal
    total_tax: Decimal
    total: Decimal
    amount_paid: Decimal = Decimal("0")
    amount_due: Decimal
    status: DocumentStatus
    lines: list[Line] = Field(default_factory=list)


class Allocation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    invoice_remote_id: str
    amount: Decimal


class Payment(Unified):
    contact_remote_id: str | None = None
    date: dt.date | None = None
    amount: Decimal
    currency: str
    reference: str | None = None
    account_remote_id: str | None = None
    status: Literal["paid", "void", "deleted"] = "paid"
    allocations: list[Allocation] = Field(default_factory=list)


class Item(Unified):
    code: str | None = None  # Xero Code, QuickBooks Sku or Name, Lightspeed sku
    name: str
    description: str | None = None
    unit_price: Decimal | None = None
    purchase_price: Decimal | None = None
    currency: str | None = None
    is_active: bool = True


class Account(Unified):
    code: str | None = None
    name: str
    type: str | None = None  # the provider's own account type
    classification: Literal["asset", "liability", "equity", "revenue", "expense"] | None = None
    currency: str | None = None
    status: Literal["active", "archived"] = "active"


class BankTransaction(Unified):
    date: dt.date | None = None
    direction: Literal["receive", "spend"]
    amount: Decimal  # positive; direction says which way
    currency: str
    contact_remote_id: str | None = None
    reference: str | None = None
    description: str | None = None
    bank_account_remote_id: str | None = None
    status: Literal["posted", "void", "deleted"] = "posted"
    lines: list[Line] = Field(default_factory=list)


class CreditNote(Unified):
    type: Literal["sales", "bill"]
    number: str | None = None
    contact_remote_id: str | None = None
    issue_date: dt.date | None = None
    currency: str
    total_tax: Decimal = Decimal("0")
    total: Decimal
    remaining: Decimal = Decimal("0")
    status: DocumentStatus
    lines: list[Line] = Field(default_factory=list)


class PurchaseOrder(Unified):
    number: str | None = None
    contact_remote_id: str | None = None
    issue_date: dt.date | None = None
    delivery_date: dt.date | None = None
    currency: str
    total_tax: Decimal = Decimal("0")
    total: Decimal
    status: Literal["draft", "submitted", "open", "billed", "closed", "void", "deleted"]
    lines: list[Line] = Field(default_factory=list)


class SalePayment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    remote_id: str | None = None
    method: str | None = None
    amount: Decimal


class Sale(Unified):
    number: str | None = None
    date: dt.datetime | None = None
    location_remote_id: str | None = None
    contact_remote_id: str | None = None
    currency: str
    total_tax: Decimal
    total: Decimal
    status: Literal["open", "closed", "on_account", "layby", "void"]
    lines: list[Line] = Field(default_factory=list)
    payments: list[SalePayment] = Field(default_factory=list)


class Location(Unified):
    name: str
    time_zone: str | None = None
    currency: str | None = None
    is_active: bool = True


MODELS: dict[Model, type[Unified]] = {
    Model.contact: Contact,
    Model.invoice: Invoice,
    Model.payment: Payment,
    Model.item: Item,
    Model.account: Account,
    Model.bank_transaction: BankTransaction,
    Model.credit_note: CreditNote,
    Model.purchase_order: PurchaseOrder,
    Model.sale: Sale,
    Model.location: Location,
}


# --- what the host app writes (push) ---------------------------------------------------


class LineWrite(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = Field(min_length=1, max_length=4000)
    quantity: Decimal = Field(Decimal("1"), gt=0, max_digits=18, decimal_places=4)
    unit_amount: Decimal = Field(max_digits=18, decimal_places=4)
    item_code: str | None = Field(None, max_length=200)  # the provider's item code / sku
    account_code: str | None = Field(None, max_length=200)  # where the line posts
    tax_code: str | None = Field(None, max_length=100)


class InvoiceWrite(BaseModel):
    """A sales invoice or a bill to create (or, with an operation on a record, to update)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["sales", "bill"] = "sales"
    contact_remote_id: str = Field(min_length=1, max_length=200)
    number: str | None = Field(None, max_length=100)
    reference: str | None = Field(None, max_length=255)
    issue_date: dt.date
    due_date: dt.date | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    status: Literal["draft", "submitted", "open"] = "open"
    lines: list[LineWrite] = Field(min_length=1, max_length=500)


class PurchaseOrderWrite(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    contact_remote_id: str = Field(min_length=1, max_length=200)
    number: str | None = Field(None, max_length=100)
    reference: str | None = Field(None, max_length=255)
    issue_date: dt.date
    delivery_date: dt.date | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    status: Literal["draft", "submitted"] = "submitted"
    lines: list[LineWrite] = Field(min_length=1, max_length=500)


class ContactWrite(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    code: str | None = Field(
        None, max_length=100, description="Your own key for the contact (Lightspeed customer_code)."
    )
    email: str | None = Field(None, max_length=255)
    phone: str | None = Field(None, max_length=50)
    is_customer: bool = True
    is_supplier: bool = False
    tax_number: str | None = Field(None, max_length=50)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")
