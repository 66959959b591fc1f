"""QuickBooks payloads as unified records.

| QuickBooks | unified | notes |
| --- | --- | --- |
| Customer, Vendor | ``Contact`` | inactive → ``archived``, without the `` (deleted)`` suffix |
| Invoice, Bill | ``Invoice`` | ``sales`` / ``bill``; ``Balance`` 0 → ``paid``, voided → ``void`` |
| Payment | ``Payment`` | allocations: the lines linked to invoices |
| Item | ``Item`` | code: ``Sku``, else ``Name`` |
| Account | ``Account`` | code: ``AcctNum`` |
| PurchaseOrder | ``PurchaseOrder`` | ``POStatus`` Open / Closed |

Document amounts: ``total`` is ``TotalAmt``, ``total_tax`` is ``TxnTaxDetail.TotalTax``,
``subtotal`` the difference; ``amount_due`` is ``Balance``. Lines are the item, account
and description lines (a bundle's lines in its place); a discount line is a line of
negative amount, so lines add up to the subtotal. QuickBooks reports no tax per line.

A voided invoice or payment keeps its lines with zero amounts and the private note
``Voided``. A deleted transaction is known only by its change-data-capture stub (an
``Id`` and a time): it maps to a record of that id with status ``deleted``, zero amounts
and currency ``XXX`` (ISO 4217's "no currency").
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from ledgerbridge.providers.mapping import Mapper, common, map_with
from ledgerbridge.providers.numbers import optional_decimal, to_decimal
from ledgerbridge.providers.pulling import RemoteObject
from ledgerbridge.unified import (
    Account,
    Allocation,
    Contact,
    Invoice,
    Item,
    Line,
    Payment,
    PurchaseOrder,
    Unified,
)

Record = dict[str, Any]
Classification = Literal["asset", "liability", "equity", "revenue", "expense"]

NO_CURRENCY = "XXX"
INACTIVE_SUFFIX = " (deleted)"  # QuickBooks' mark on the name of an inactive record
ZERO = Decimal(0)
CLASSIFICATIONS: dict[str, Classification] = {
    "Asset": "asset",
    "Liability": "liability",
    "Equity": "equity",
    "Revenue": "revenue",
    "Expense": "expense",
}


def to_unified(object_type: str, obj: RemoteObject) -> Unified:
    if object_type in _MAPPERS and obj.payload.get("status") == "Deleted":
        return _deleted(object_type, obj)
    return map_with(_MAPPERS, "QuickBooks", object_type, obj)


# --- name lists ----------------------------------------------------------------------


def _contact(obj: RemoteObject, *, customer: bool) -> Contact:
    p = obj.payload
    tax_number = p.get("PrimaryTaxIdentifier") or p.get("TaxIdentifier") or p.get("BusinessNumber")
    return Contact(
        **common(obj),
        name=_name(p, "DisplayName"),
        email=(p.get("PrimaryEmailAddr") or {}).get("Address"),
        phone=(p.get("PrimaryPhone") or {}).get("FreeFormNumber"),
        is_customer=customer,
        is_supplier=not customer,
        tax_number=tax_number,
        currency=_ref(p, "CurrencyRef"),
        status="active" if _active(p) else "archived",
    )


def _item(obj: RemoteObject) -> Item:
    p = obj.payload
    return Item(
        **common(obj),
        code=p.get("Sku") or p.get("Name"),
        name=_name(p, "Name"),
        description=p.get("Description"),
        unit_price=optional_decimal(p.get("UnitPrice")),
        purchase_price=optional_decimal(p.get("PurchaseCost")),
        is_active=_active(p),
    )


def _account(obj: RemoteObject) -> Account:
    p = obj.payload
    return Account(
        **common(obj),
        code=p.get("AcctNum"),
        name=_name(p, "Name"),
        type=p.get("AccountType"),
        classification=CLASSIFICATIONS.get(p.get("Classification") or ""),
        currency=_ref(p, "CurrencyRef"),
        status="active" if _active(p) else "archived",
    )


# --- transactions --------------------------------------------------------------------


def _invoice(obj: RemoteObject, *, kind: Literal["sales", "bill"]) -> Invoice:
    p = obj.payload
    total, tax, balance = to_decimal(p["TotalAmt"]), _tax(p), to_decimal(p.get("Balance", 0))
    return Invoice(
        **common(obj),
        type=kind,
        number=p.get("DocNumber"),
        contact_remote_id=_ref(p, "CustomerRef" if kind == "sales" else "VendorRef"),
        issue_date=_date(p.get("TxnDate")),
        due_date=_date(p.get("DueDate")),
        currency=_currency(p),
        subtotal=total - tax,
        total_tax=tax,
        total=total,
        amount_paid=total - balance,
        amount_due=balance,
        status="void" if _voided(p) else "paid" if balance == 0 else "open",
        lines=_lines(p.get("Line")),
    )


def _payment(obj: RemoteObject) -> Payment:
    p = obj.payload
    return Payment(
        **common(obj),
        contact_remote_id=_ref(p, "CustomerRef"),
        date=_date(p.get("TxnDate")),
        amount=to_decimal(p["TotalAmt"]),
        currency=_currency(p),
        reference=p.get("PaymentRefNum"),
        account_remote_id=_ref(p, "DepositToAccountRef"),
        status="void" if _voided(p) else "paid",
        allocations=[
            Allocation(invoice_remote_id=str(linked["TxnId"]), amount=to_decimal(line["Amount"]))
            for line in p.get("Line") or []
            for linked in line.get("LinkedTxn") or []
            if linked.get("TxnType") == "Invoice"
        ],
    )


def _purchase_order(obj: RemoteObject) -> PurchaseOrder:
    p = obj.payload
    return PurchaseOrder(
        **common(obj),
        number=p.get("DocNumber"),
        contact_remote_id=_ref(p, "VendorRef"),
        issue_date=_date(p.get("TxnDate")),
        delivery_date=_date(p.get("ExpectedDate")),
        currency=_currency(p),
        total_tax=_tax(p),
        total=to_decimal(p["TotalAmt"]),
        status="closed" if p.get("POStatus") == "Closed" else "open",
        lines=_lines(p.get("Line")),
    )


def _deleted(object_type: str, obj: RemoteObject) -> Unified:
    """A change-data-capture stub: all QuickBooks still says is that the record is gone."""
    stub = {**common(obj), "remote_was_deleted": True}
    if object_type in ("Invoice", "Bill"):
        kind = "sales" if object_type == "Invoice" else "bill"
        return Invoice(
            **stub,
            type=kind,
            currency=NO_CURRENCY,
            subtotal=ZERO,
            total_tax=ZERO,
            total=ZERO,
            amount_due=ZERO,
            status="deleted",
        )
    if object_type == "Payment":
        return Payment(**stub, amount=ZERO, currency=NO_CURRENCY, status="deleted")
    if object_type == "PurchaseOrder":
        return PurchaseOrder(**stub, currency=NO_CURRENCY, total=ZERO, status="deleted")
    raise ValueError(f"QuickBooks never deletes a {object_type}: it deactivates it")


def _lines(lines: list[Record] | None) -> list[Line]:
    found: list[Line] = []
    for line in lines or []:
        kind = line.get("DetailType") or ""
        detail: Record = line.get(kind) or {}
        if kind == "SubTotalLineDetail":  # a running total, not a line
            continue
        if kind == "GroupLineDetail":  # a bundle: its own lines carry the amounts
            found.extend(_lines(detail.get("Line")))
            continue
        discount = kind == "DiscountLineDetail"
        amount = to_decimal(line.get("Amount", 0))
        found.append(
            Line(
                remote_id=line.get("Id"),
                description=line.get("Description"),
                quantity=optional_decimal(detail.get("Qty")),
                unit_amount=optional_decimal(detail.get("UnitPrice")),
                amount=-amount if discount else amount,
                item_remote_id=_ref(detail, "ItemRef"),
                account_remote_id=_ref(detail, "DiscountAccountRef" if discount else "AccountRef")
                or _ref(detail, "ItemAccountRef"),
            )
        )
    return found


_MAPPERS: dict[str, Mapper] = {
    "Customer": lambda obj: _contact(obj, customer=True),
    "Vendor": lambda obj: _contact(obj, customer=False),
    "Invoice": lambda obj: _invoice(obj, kind="sales"),
    "Bill": lambda obj: _invoice(obj, kind="bill"),
    "Payment": _payment,
    "Item": _item,
    "Account": _account,
    "PurchaseOrder": _purchase_order,
}


# --- values --------------------------------------------------------------------------


def _tax(p: Record) -> Decimal:
    return to_decimal((p.get("TxnTaxDetail") or {}).get("TotalTax", 0))


def _voided(p: Record) -> bool:
    return str(p.get("PrivateNote") or "").startswith("Voided") and to_decimal(p["TotalAmt"]) == 0


def _active(p: Record) -> bool:
    return p.get("Active") is not False


def _name(p: Record, field: str) -> str:
    name = str(p.get(field) or "")
    return name if _active(p) else name.removesuffix(INACTIVE_SUFFIX)


def _ref(p: Record, field: str) -> str | None:
    reference = p.get(field)
    if not isinstance(reference, dict) or reference.get("value") in (None, ""):
        return None
    return str(reference["value"])


def _currency(p: Record) -> str:
    return _ref(p, "CurrencyRef") or NO_CURRENCY


def _date(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None
