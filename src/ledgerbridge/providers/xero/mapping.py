"""Xero records as unified models: one mapper per object type (``pull.OBJECT_TYPES``).

Money is ``Decimal`` from the digits Xero sent (``providers.numbers``). Xero's line
amounts are tax-inclusive when the document's ``LineAmountTypes`` is ``Inclusive``; a
unified line's ``amount`` always excludes tax. Lines name their account by
``AccountCode`` and their item by the ``Item.ItemID`` Xero includes, else by ``ItemCode``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from ledgerbridge import unified
from ledgerbridge.providers.mapping import Mapper, map_with
from ledgerbridge.providers.mapping import common as _common
from ledgerbridge.providers.mapping import text as _text
from ledgerbridge.providers.numbers import amount as _amount
from ledgerbridge.providers.numbers import optional_amount as _optional_amount
from ledgerbridge.providers.pulling import RemoteObject
from ledgerbridge.providers.xero.dates import parse_date

Payload = dict[str, Any]
SalesOrBill = Literal["sales", "bill"]

_DOCUMENT_STATUSES: dict[str, unified.DocumentStatus] = {
    "DRAFT": "draft",
    "SUBMITTED": "submitted",
    "AUTHORISED": "open",
    "PAID": "paid",
    "VOIDED": "void",
    "DELETED": "deleted",
}
PurchaseOrderStatus = Literal["draft", "submitted", "open", "billed", "closed", "void", "deleted"]
_PURCHASE_ORDER_STATUSES: dict[str, PurchaseOrderStatus] = {
    "DRAFT": "draft",
    "SUBMITTED": "submitted",
    "AUTHORISED": "open",
    "BILLED": "billed",
    "DELETED": "deleted",
}
_BANK_TRANSACTION_STATUSES: dict[str, Literal["posted", "void", "deleted"]] = {
    "AUTHORISED": "posted",
    "VOIDED": "void",
    "DELETED": "deleted",
}
_CLASSIFICATIONS: dict[str, Literal["asset", "liability", "equity", "revenue", "expense"]] = {
    "ASSET": "asset",
    "LIABILITY": "liability",
    "EQUITY": "equity",
    "REVENUE": "revenue",
    "EXPENSE": "expense",
}


def to_unified(object_type: str, obj: RemoteObject) -> unified.Unified:
    return map_with(_MAPPERS, "Xero", object_type, obj)


def _contact(obj: RemoteObject) -> unified.Contact:
    p = obj.payload
    return unified.Contact(
        **_common(obj),
        name=p.get("Name") or "",
        email=_text(p.get("EmailAddress")),
        phone=_phone(p.get("Phones") or []),
        is_customer=bool(p.get("IsCustomer")),
        is_supplier=bool(p.get("IsSupplier")),
        tax_number=_text(p.get("TaxNumber")),
        currency=_text(p.get("DefaultCurrency")),
        status="active" if p.get("ContactStatus", "ACTIVE") == "ACTIVE" else "archived",
    )


def _invoice(obj: RemoteObject) -> unified.Invoice:
    p = obj.payload
    return unified.Invoice(
        **_common(obj),
        **_document(p),
        type=_sales_or_bill(p, sales="ACCREC", bill="ACCPAY"),
        number=_text(p.get("InvoiceNumber")),
        reference=_text(p.get("Reference")),
        due_date=_date(p.get("DueDate")),
        subtotal=_amount(p, "SubTotal"),
        amount_paid=_amount(p, "AmountPaid"),
        amount_due=_amount(p, "AmountDue"),
        status=_DOCUMENT_STATUSES[p["Status"]],
    )


def _payment(obj: RemoteObject) -> unified.Payment:
    p = obj.payload
    invoice = p.get("Invoice") or {}
    # A payment settles one document: an invoice, credit note, prepayment or overpayment.
    document: Payload = next(
        (p[k] for k in ("Invoice", "CreditNote", "Prepayment", "Overpayment") if p.get(k)), {}
    )
    currency = document.get("CurrencyCode")
    if not currency:
        raise ValueError(f"Xero payment {obj.external_id} names no document with a currency")
    allocations = []
    if invoice.get("InvoiceID"):
        allocations.append(
            unified.Allocation(invoice_remote_id=invoice["InvoiceID"], amount=_amount(p, "Amount"))
        )
    return unified.Payment(
        **_common(obj),
        contact_remote_id=_contact_id(document),
        date=_date(p.get("Date")),
        amount=_amount(p, "Amount"),
        currency=currency,
        reference=_text(p.get("Reference")),
        account_remote_id=_text((p.get("Account") or {}).get("AccountID")),
        status="deleted" if p.get("Status") == "DELETED" else "paid",
        allocations=allocations,
    )


def _item(obj: RemoteObject) -> unified.Item:
    p = obj.payload
    return unified.Item(
        **_common(obj),
        code=_text(p.get("Code")),
        name=p.get("Name") or p.get("Code") or "",
        description=_text(p.get("Description")),
        unit_price=_optional_amount(p.get("SalesDetails") or {}, "UnitPrice"),
        purchase_price=_optional_amount(p.get("PurchaseDetails") or {}, "UnitPrice"),
    )


def _account(obj: RemoteObject) -> unified.Account:
    p = obj.payload
    return unified.Account(
        **_common(obj),
        code=_text(p.get("Code")),
        name=p.get("Name") or "",
        type=_text(p.get("Type")),
        classification=_CLASSIFICATIONS.get(p.get("Class") or ""),
        currency=_text(p.get("CurrencyCode")),
        status="active" if p.get("Status", "ACTIVE") == "ACTIVE" else "archived",
    )


def _bank_transaction(obj: RemoteObject) -> unified.BankTransaction:
    p = obj.payload
    return unified.BankTransaction(
        **_common(obj),
        date=_date(p.get("Date")),
        # RECEIVE, RECEIVE-OVERPAYMENT, RECEIVE-TRANSFER, ...; SPEND likewise
        direction="receive" if str(p["Type"]).startswith("RECEIVE") else "spend",
        amount=_amount(p, "Total"),
        currency=p["CurrencyCode"],
        contact_remote_id=_contact_id(p),
        reference=_text(p.get("Reference")),
        bank_account_remote_id=_text((p.get("BankAccount") or {}).get("AccountID")),
        status=_BANK_TRANSACTION_STATUSES[p["Status"]],
        lines=_lines(p),
    )


def _credit_note(obj: RemoteObject) -> unified.CreditNote:
    p = obj.payload
    return unified.CreditNote(
        **_common(obj),
        **_document(p),
        type=_sales_or_bill(p, sales="ACCRECCREDIT", bill="ACCPAYCREDIT"),
        number=_text(p.get("CreditNoteNumber")),
        remaining=_amount(p, "RemainingCredit"),
        status=_DOCUMENT_STATUSES[p["Status"]],
    )


def _purchase_order(obj: RemoteObject) -> unified.PurchaseOrder:
    p = obj.payload
    return unified.PurchaseOrder(
        **_common(obj),
        **_document(p),
        number=_text(p.get("PurchaseOrderNumber")),
        delivery_date=_date(p.get("DeliveryDate")),
        status=_PURCHASE_ORDER_STATUSES[p["Status"]],
    )


_MAPPERS: dict[str, Mapper] = {
    "Contacts": _contact,
    "Invoices": _invoice,
    "Payments": _payment,
    "Items": _item,
    "Accounts": _account,
    "BankTransactions": _bank_transaction,
    "CreditNotes": _credit_note,
    "PurchaseOrders": _purchase_order,
}


def _document(p: Payload) -> dict[str, Any]:
    """What invoices, credit notes and purchase orders read alike: the contact, the date,
    the currency, the tax, the total and the lines."""
    return {
        "contact_remote_id": _contact_id(p),
        "issue_date": _date(p.get("Date")),
        "currency": p["CurrencyCode"],
        "total_tax": _amount(p, "TotalTax"),
        "total": _amount(p, "Total"),
        "lines": _lines(p),
    }


def _lines(document: Payload) -> list[unified.Line]:
    inclusive = document.get("LineAmountTypes") == "Inclusive"
    return [_line(line, inclusive) for line in document.get("LineItems") or []]


def _line(line: Payload, inclusive: bool) -> unified.Line:
    tax = _amount(line, "TaxAmount")
    line_amount = _amount(line, "LineAmount")
    item_id = (line.get("Item") or {}).get("ItemID")
    return unified.Line(
        remote_id=_text(line.get("LineItemID")),
        description=_text(line.get("Description")),
        quantity=_optional_amount(line, "Quantity"),
        unit_amount=_optional_amount(line, "UnitAmount"),
        amount=line_amount - tax if inclusive else line_amount,
        tax_amount=tax,
        item_remote_id=_text(item_id or line.get("ItemCode")),
        account_remote_id=_text(line.get("AccountCode")),
    )


def _sales_or_bill(p: Payload, *, sales: str, bill: str) -> SalesOrBill:
    kind = p.get("Type")
    if kind not in (sales, bill):
        raise ValueError(f"Unexpected Xero document type {kind!r}")
    return "sales" if kind == sales else "bill"


def _contact_id(p: Payload) -> str | None:
    return _text((p.get("Contact") or {}).get("ContactID"))


def _date(value: object) -> date | None:
    return parse_date(value) if isinstance(value, str) and value else None


def _phone(phones: list[Payload]) -> str | None:
    """The default phone, else the first with a number: ``+64 2 1190056``."""
    ranked = sorted(phones, key=lambda phone: phone.get("PhoneType") != "DEFAULT")
    for phone in ranked:
        if phone.get("PhoneNumber"):
            country = phone.get("PhoneCountryCode")
            parts = [
                f"+{country}" if country else "",
                phone.get("PhoneAreaCode"),
                phone["PhoneNumber"],
            ]
            return " ".join(str(part) for part in parts if part)
    return None
