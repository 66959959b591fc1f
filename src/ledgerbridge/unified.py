"""The unified models: one shape per kind of record, whatever provider it came from.

Provider mappers (``ledgerbridge.providers.<provider>.mapping``) build these from raw
payloads; sync stores them; the records API, push and reconciliation read them. Money is
``Decimal`` with its currency, held with exactly the currency's ISO 4217 decimals
(``1326.10``, ``0.00``, JPY ``1326``), so every JSON copy of a record says it that way;
dates are dates, timestamps UTC. What a model has no field for stays reachable in
``remote_data`` (the raw payload).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Context, Decimal, Inexact, InvalidOperation
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, Literal, Self, get_args, get_origin

import iso4217
from pydantic import BaseModel, ConfigDict, Field, model_validator


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


# --- money in the currency's minor units -----------------------------------------------

DEFAULT_EXPONENT = 2  # where ISO 4217 gives none: XXX ("no currency"), unknown, unstated
# Room for any amount: quantize must never fail for want of precision, and any rounding
# (a digit the currency has no place for) is refused rather than done.
_EXACT = Context(prec=80, traps=[Inexact, InvalidOperation])


class _MoneyMark:
    """Marks a ``Decimal`` field as an amount in its record's currency."""


Money = Annotated[Decimal, _MoneyMark()]
MaybeMoney = Annotated[Decimal | None, _MoneyMark()]


@cache
def currency_exponent(currency: str | None) -> int:
    """The currency's decimals per ISO 4217 (USD 2, JPY 0, KWD 3); 2 where it has none."""
    entry = iso4217.raw_table.get(currency or "")
    units = str(entry.get("CcyMnrUnts") or "") if entry else ""
    return int(units) if units.isdigit() else DEFAULT_EXPONENT


@cache
def _step(currency: str | None) -> Decimal:
    return Decimal(1).scaleb(-currency_exponent(currency))


def in_minor_units(amount: Decimal, currency: str | None) -> Decimal:
    """``amount`` with exactly the currency's decimals: 1326.1 → 1326.10, 0 → 0.00,
    JPY 1326.0 → 1326. Never rounds: digits the currency has no place for (a unit price
    to four decimals) are kept as the provider sent them."""
    step = _step(currency)
    negative_zero = amount.is_zero() and amount.is_signed()
    if not amount.is_finite() or (amount.same_quantum(step) and not negative_zero):
        return amount  # already so (the usual case: a record read back, a line re-checked)
    try:
        fixed = amount.quantize(step, context=_EXACT)
    except (Inexact, InvalidOperation):
        return amount
    return fixed.copy_abs() if fixed.is_zero() else fixed  # never "-0.00"


@cache
def _money_fields(cls: type[BaseModel]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A model's money fields, and its fields holding lists of models (lines)."""
    money, nested = [], []
    for name, field in cls.model_fields.items():
        if any(isinstance(mark, _MoneyMark) for mark in field.metadata):
            money.append(name)
        elif get_origin(field.annotation) is list and any(
            isinstance(kind, type) and issubclass(kind, BaseModel)
            for kind in get_args(field.annotation)
        ):
            nested.append(name)
    return tuple(money), tuple(nested)


def _money_fixed(model: BaseModel, currency: str | None) -> dict[str, Any]:
    """The fields of ``model`` (and of its lines) that change when put in minor units."""
    changed: dict[str, Any] = {}
    money, nested = _money_fields(type(model))
    values = model.__dict__
    for name in money:
        value = values[name]
        if value is not None:
            fixed = in_minor_units(value, currency)
            if fixed is not value:
                changed[name] = fixed
    for name in nested:
        parts = [_with_money_fixed(part, currency) for part in values[name]]
        if any(new is not old for new, old in zip(parts, values[name], strict=True)):
            changed[name] = parts
    return changed


def _with_money_fixed(part: object, currency: str | None) -> object:
    """A line in minor units: itself when nothing changes, else a changed copy."""
    if not isinstance(part, BaseModel):
        return part
    changed = _money_fixed(part, currency)
    return part.model_copy(update=changed) if changed else part


class _InMinorUnits(BaseModel):
    """Puts every ``Money`` field, its lines' included, in the record's currency."""

    @model_validator(mode="after")
    def _money_in_minor_units(self) -> Self:
        # Still inside its own validation: nobody holds this instance yet.
        self.__dict__.update(_money_fixed(self, getattr(self, "currency", None)))
        return self


class Unified(_InMinorUnits):
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
    unit_amount: MaybeMoney = None
    amount: Money = Decimal("0")  # line total excluding tax
    tax_amount: Money = Decimal("0")
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
    subtotal: Money
    total_tax: Money
    total: Money
    amount_paid: Money = Decimal("0")
    amount_due: Money
    status: DocumentStatus
    lines: list[Line] = Field(default_factory=list)


class Allocation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    invoice_remote_id: str
    amount: Money


class Payment(Unified):
    contact_remote_id: str | None = None
    date: dt.date | None = None
    amount: Money
    currency: str
    reference: str | None = None
    account_remote_id: str | None = None
    status: Literal["paid", "void", "deleted"] = "paid"
    allocations: list[Allocation] = Field(default_factory=list)


class Item(Unified):
    code: str | None = None  # Xero Code, QuickBooks Sku or Name, Lightspeed sku
    name: str
    description: str | None = None
    unit_price: MaybeMoney = None
    purchase_price: MaybeMoney = None
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
    amount: Money  # positive; direction says which way
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
    total_tax: Money = Decimal("0")
    total: Money
    remaining: Money = Decimal("0")
    status: DocumentStatus
    lines: list[Line] = Field(default_factory=list)


class PurchaseOrder(Unified):
    number: str | None = None
    contact_remote_id: str | None = None
    issue_date: dt.date | None = None
    delivery_date: dt.date | None = None
    currency: str
    total_tax: Money = Decimal("0")
    total: Money
    status: Literal["draft", "submitted", "open", "billed", "closed", "void", "deleted"]
    lines: list[Line] = Field(default_factory=list)


class SalePayment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    remote_id: str | None = None
    method: str | None = None
    amount: Money


class Sale(Unified):
    number: str | None = None
    date: dt.datetime | None = None
    location_remote_id: str | None = None
    contact_remote_id: str | None = None
    currency: str
    total_tax: Money
    total: Money
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


# --- the columns the records API filters on ----------------------------------------------

# The date a record is "of": what a host app means by "invoices of March".
BUSINESS_DATE: dict[Model, str] = {
    Model.invoice: "issue_date",
    Model.credit_note: "issue_date",
    Model.purchase_order: "issue_date",
    Model.payment: "date",
    Model.bank_transaction: "date",
    Model.sale: "date",  # a timestamp: its UTC date
}
# Longest value each column holds; a longer one (no provider sends one) is left out.
COLUMN_LENGTHS = {"status": 32, "contact_remote_id": 200, "currency": 8}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


def record_columns(model: Model | str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The filter columns of a ``records`` row, from its unified data (JSON form or
    Python values): ``status``, ``contact_remote_id``, ``business_date``, ``currency``.

    The one place they are derived: call it wherever a record row is written. A pushed
    record still waiting for its provider id holds the write shape, which names the same
    fields."""
    columns: dict[str, Any] = {
        name: _text(data.get(name), length) for name, length in COLUMN_LENGTHS.items()
    }
    date_field = BUSINESS_DATE.get(Model(model))
    columns["business_date"] = _day(data.get(date_field)) if date_field else None
    return columns


def model_filters(model: Model) -> set[str]:
    """The filter columns ``model`` has a field for."""
    fields = set(MODELS[model].model_fields)
    found = {name for name in COLUMN_LENGTHS if name in fields}
    return found | ({"business_date"} if model in BUSINESS_DATE else set())


def statuses(model: Model) -> tuple[str, ...]:
    """The values a model's ``status`` can take (none for a model without one)."""
    field = MODELS[model].model_fields.get("status")
    return tuple(get_args(field.annotation)) if field is not None else ()


def _text(value: object, length: int) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    return text if len(text) <= length else None


def _day(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):  # a timestamp: its UTC date
        moment = value.astimezone(dt.UTC) if value.tzinfo else value
        return moment.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _DAY.match(value):
        if len(value) > 10:  # an ISO timestamp, UTC as the unified models write them
            try:
                return _day(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
            except ValueError:
                return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


# --- what the host app writes (push) ---------------------------------------------------


class LineWrite(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = Field(min_length=1, max_length=4000)
    quantity: Decimal = Field(Decimal("1"), gt=0, max_digits=18, decimal_places=4)
    unit_amount: Money = Field(max_digits=18, decimal_places=4)
    item_code: str | None = Field(None, max_length=200)  # the provider's item code / sku
    account_code: str | None = Field(None, max_length=200)  # where the line posts
    tax_code: str | None = Field(None, max_length=100)


class InvoiceWrite(_InMinorUnits):
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


class PurchaseOrderWrite(_InMinorUnits):
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
