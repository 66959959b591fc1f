"""Creating, changing and deleting Xero records, with Xero's validation rules.

``write`` takes one element of a PUT/POST body (or a control-API body) and either
stores the record it describes or raises ``Invalid`` with Xero's validation messages.
Side effects follow as in Xero: a payment updates its invoice's AmountDue, AmountPaid
and Status; an invoice naming an unknown contact by name creates that contact.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledgerbridge.sandbox.state import SandboxState
from ledgerbridge.sandbox.store import Collection
from ledgerbridge.sandbox.xero.amounts import price_lines
from ledgerbridge.sandbox.xero.data import Organisation, collection, save, xero_data
from ledgerbridge.sandbox.xero.dates import DAY_MS, day_ms, ms_date, ms_of
from ledgerbridge.sandbox.xero.resources import RESOURCES, Resource
from ledgerbridge.sandbox.xero.seed import invoice_summary

Record = dict[str, Any]

# Fields Xero works out itself; whatever a client sends for them is ignored.
_READ_ONLY = frozenset(
    {
        "UpdatedDateUTC",
        "SubTotal",
        "TotalTax",
        "Total",
        "AmountDue",
        "AmountPaid",
        "AmountCredited",
        "Payments",
        "CreditNotes",
        "Prepayments",
        "Overpayments",
        "FullyPaidOnDate",
        "HasErrors",
        "ValidationErrors",
        "Warnings",
        "StatusAttributeString",
        "HasValidationErrors",
        "Class",
        "PaymentType",
        "RemainingCredit",
        "Allocations",
    }
)
_ACCOUNT_CLASS = {
    **dict.fromkeys(("BANK", "CURRENT", "FIXED", "INVENTORY", "NONCURRENT", "PREPAYMENT"), "ASSET"),
    **dict.fromkeys(("CURRLIAB", "LIABILITY", "TERMLIAB", "PAYG"), "LIABILITY"),
    **dict.fromkeys(("DEPRECIATN", "DIRECTCOSTS", "EXPENSE", "OVERHEADS"), "EXPENSE"),
    **dict.fromkeys(("REVENUE", "SALES", "OTHERINCOME"), "REVENUE"),
    "EQUITY": "EQUITY",
}
_ACCOUNT_TYPES = frozenset(_ACCOUNT_CLASS)
_BANK_TRANSACTION_TYPES = frozenset(
    [
        "RECEIVE",
        "RECEIVE-OVERPAYMENT",
        "RECEIVE-PREPAYMENT",
        "SPEND",
        "SPEND-OVERPAYMENT",
        "SPEND-PREPAYMENT",
        "RECEIVE-TRANSFER",
        "SPEND-TRANSFER",
    ]
)


def new_id() -> str:
    return str(uuid.uuid4())


class Invalid(ValueError):
    """The element breaks Xero's rules; ``messages`` are its ValidationErrors."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass
class Write:
    state: SandboxState
    tenant_id: str
    org: Organisation
    stamp: int | None = None  # forces UpdatedDateUTC (control API's "_stamp")

    def collection(self, resource: str) -> Collection:
        return collection(self.state, self.tenant_id, resource)

    def save(self, resource: str, record: Record) -> Record:
        id_field = RESOURCES[resource].id_field
        return save(self.state, self.tenant_id, resource, id_field, record, self.stamp)

    def today(self) -> int:
        return day_ms(self.state.clock.time_ms())


def writer(state: SandboxState, tenant_id: str, stamp: int | None = None) -> Write:
    org = xero_data(state).organisations.get(tenant_id)
    if org is None:
        raise LookupError(f"No Xero organisation {tenant_id!r}.")
    return Write(state, tenant_id, org, stamp)


def find(w: Write, resource: Resource, key: str) -> Record | None:
    """A record by id, or by its number/code where Xero allows that (InvoiceNumber, ...)."""
    records = w.collection(resource.name)
    found = records.get(key) or records.get(key.lower())
    if found is not None or resource.number_field is None:
        return found
    return next((r for r in records.all() if r.get(resource.number_field) == key), None)


@dataclass
class Prepared:
    """A checked record, not yet stored, and what storing it sets off."""

    resource: Resource
    record: Record
    effects: list[Callable[[], object]] = field(default_factory=list)


def prepare(
    w: Write,
    resource: Resource,
    element: Record,
    *,
    record_id: str | None = None,
    create_only: bool = False,
) -> Prepared:
    """Check a client's element and work out the record it makes; raise ``Invalid``.

    Nothing is stored yet, so a batch can be refused whole (``summarizeErrors``).
    """
    if not isinstance(element, dict):
        raise Invalid([f"Each element of {resource.name} must be an object."])
    record_id = record_id or element.get(resource.id_field) or None
    existing = None
    if record_id is not None:
        existing = w.collection(resource.name).get(str(record_id))
        if existing is None and not create_only:
            raise Invalid([f"{resource.name[:-1]} with ID {record_id} could not be found."])
        if existing is not None and create_only:
            raise Invalid([f"A {resource.name[:-1]} with ID {record_id} already exists."])
    changes = {k: v for k, v in element.items() if v is not None and k not in _READ_ONLY}
    changes.pop(resource.id_field, None)
    record = {**existing, **changes} if existing else {resource.id_field: new_id(), **changes}
    prepared = Prepared(resource, record)
    _RULES[resource.name](w, prepared, existing, changes)
    return prepared


def commit(w: Write, prepared: Prepared) -> Record:
    saved = w.save(prepared.resource.name, prepared.record)
    for effect in prepared.effects:
        effect()
    return saved


def write(
    w: Write,
    resource: Resource,
    element: Record,
    *,
    record_id: str | None = None,
    create_only: bool = False,
) -> Record:
    """Check and store one record at once."""
    prepared = prepare(w, resource, element, record_id=record_id, create_only=create_only)
    return commit(w, prepared)


# --- contacts, items, accounts -------------------------------------------------------


def _contact(w: Write, prepared: Prepared, existing: Record | None, changes: Record) -> None:
    record = prepared.record
    errors = []
    name = str(record.get("Name") or "").strip()
    if not name:
        errors.append("A contact name must be specified.")
    status = record.setdefault("ContactStatus", "ACTIVE")
    if status not in ("ACTIVE", "ARCHIVED", "GDPRREQUEST"):
        errors.append(f"ContactStatus {status!r} is not valid.")
    email = record.get("EmailAddress")
    if email and "@" not in str(email):
        errors.append("Email address must be valid.")
    renamed = existing is None or "Name" in changes
    if (
        name
        and status == "ACTIVE"
        and renamed
        and _active_contact_named(w, name, record["ContactID"])
    ):
        errors.append(
            f"The contact name {name} is already assigned to another contact. "
            "The contact name must be unique across all active contacts."
        )
    if errors:
        raise Invalid(errors)
    for key, default in (
        ("Addresses", []),
        ("Phones", []),
        ("ContactGroups", []),
        ("ContactPersons", []),
        ("IsSupplier", False),
        ("IsCustomer", False),
        ("DefaultCurrency", w.org.currency),
        ("HasAttachments", False),
        ("HasValidationErrors", False),
    ):
        record.setdefault(key, default)


def _active_contact_named(w: Write, name: str, other_than: str = "") -> Record | None:
    wanted = name.casefold()
    for contact in w.collection("Contacts").all():
        if (
            contact["ContactStatus"] == "ACTIVE"
            and contact["ContactID"] != other_than
            and contact["Name"].casefold() == wanted
        ):
            return contact
    return None


def _item(w: Write, prepared: Prepared, existing: Record | None, changes: Record) -> None:
    record = prepared.record
    code = str(record.get("Code") or "").strip()
    if not code:
        raise Invalid(["Item code must be specified."])
    if len(code) > 30:
        raise Invalid(["Item code must not be longer than 30 characters."])
    if existing is None or "Code" in changes:
        clash = next(
            (i for i in w.collection("Items").all() if i["Code"] == code and i is not existing),
            None,
        )
        if clash is not None and clash["ItemID"] != record["ItemID"]:
            raise Invalid([f"Item code '{code}' already exists."])
    record.setdefault("Name", code)
    record.setdefault("IsSold", "SalesDetails" in record)
    record.setdefault("IsPurchased", "PurchaseDetails" in record)
    record.setdefault("IsTrackedAsInventory", False)
    record.setdefault("SalesDetails", {})
    record.setdefault("PurchaseDetails", {})


def _account(w: Write, prepared: Prepared, existing: Record | None, changes: Record) -> None:
    record = prepared.record
    errors = []
    for name in ("Code", "Name", "Type"):
        if not record.get(name):
            errors.append(f"Please enter a {name}.")
    kind = record.get("Type")
    if kind and kind not in _ACCOUNT_TYPES:
        errors.append(f"Account Type {kind!r} is not valid.")
    others = [a for a in w.collection("Accounts").all() if a["AccountID"] != record["AccountID"]]
    if any(a.get("Code") == record.get("Code") for a in others):
        errors.append("Please enter a unique Code.")
    if any(a.get("Name") == record.get("Name") for a in others):
        errors.append("Please enter a unique Name.")
    status = record.setdefault("Status", "ACTIVE")
    if status not in ("ACTIVE", "ARCHIVED", "DELETED"):
        errors.append(f"Account Status {status!r} is not valid.")
    if errors:
        raise Invalid(errors)
    record["Class"] = _ACCOUNT_CLASS[str(kind)]
    record.setdefault("TaxType", "NONE")
    record.setdefault("EnablePaymentsToAccount", False)
    record.setdefault("ShowInExpenseClaims", False)
    record.setdefault("HasAttachments", False)
    record.setdefault("AddToWatchlist", False)
    if kind == "BANK":
        record.setdefault("BankAccountType", "BANK")
        record.setdefault("CurrencyCode", w.org.currency)


def _account_by(w: Write, ref: object) -> Record | None:
    if not isinstance(ref, dict):
        return None
    accounts = w.collection("Accounts")
    if ref.get("AccountID"):
        return accounts.get(str(ref["AccountID"]))
    code = ref.get("Code")
    return next((a for a in accounts.all() if code and a.get("Code") == code), None)


# --- documents: invoices, credit notes, purchase orders, bank transactions -----------


def _document(
    w: Write,
    prepared: Prepared,
    existing: Record | None,
    changes: Record,
    *,
    sales: bool,
    errors: list[str],
) -> None:
    """What every transaction shares: contact, dates, currency, lines and totals."""
    record = prepared.record
    _contact_of_document(w, prepared, errors)
    for name in ("Date", "DueDate", "DeliveryDate", "ExpectedArrivalDate"):
        if name in changes:
            try:
                record[name] = ms_date(day_ms(ms_of(changes[name])))
            except ValueError:
                errors.append(f"{name} {changes[name]!r} is not a valid date.")
    record.setdefault("Date", ms_date(w.today()))
    record.setdefault("CurrencyCode", w.org.currency)
    record.setdefault("CurrencyRate", 1.0)
    amount_types = record.setdefault("LineAmountTypes", "Exclusive")
    if amount_types not in ("Exclusive", "Inclusive", "NoTax"):
        errors.append(f"LineAmountTypes {amount_types!r} is not valid.")
        return
    lines = record.get("LineItems") or []
    if not isinstance(lines, list) or not all(isinstance(line, dict) for line in lines):
        errors.append("LineItems must be a list of line items.")
        return
    errors.extend(_line_errors(w, lines))
    if not errors and (existing is None or "LineItems" in changes or "LineAmountTypes" in changes):
        priced, totals = price_lines(lines, amount_types, w.org.tax_rate, sales, new_id)
        record["LineItems"] = priced
        record.update(totals)
    record.setdefault("LineItems", [])
    for key in ("SubTotal", "TotalTax", "Total"):
        record.setdefault(key, 0.0)
    record.setdefault("Reference", "")
    record.setdefault("HasAttachments", False)


def _line_errors(w: Write, lines: list[Record]) -> list[str]:
    errors = []
    codes = {a["Code"] for a in w.collection("Accounts").all() if a.get("Code")}
    items = None
    for line in lines:
        if not line.get("Description") and not line.get("ItemCode"):
            errors.append("Description must be specified.")
        for name in ("Quantity", "UnitAmount", "LineAmount", "DiscountRate"):
            if name in line and not isinstance(line[name], int | float):
                try:
                    line[name] = float(line[name])
                except (TypeError, ValueError):
                    errors.append(f"{name} must be a number.")
        if line.get("AccountCode") and line["AccountCode"] not in codes:
            errors.append(
                f"Account code '{line['AccountCode']}' is not a valid code for this document."
            )
        if line.get("ItemCode"):
            items = items or {i["Code"] for i in w.collection("Items").all()}
            if line["ItemCode"] not in items:
                errors.append(f"Item code '{line['ItemCode']}' is not valid.")
    return errors


def _contact_of_document(w: Write, prepared: Prepared, errors: list[str]) -> None:
    record = prepared.record
    ref = record.get("Contact")
    if not isinstance(ref, dict) or not (ref.get("ContactID") or ref.get("Name")):
        errors.append("A Contact must be specified for this type of transaction.")
        return
    if ref.get("ContactID"):
        contact = w.collection("Contacts").get(str(ref["ContactID"]))
        if contact is None:
            errors.append(f"Contact with ID {ref['ContactID']} could not be found.")
            return
    else:
        contact = _active_contact_named(w, str(ref["Name"]))
        if contact is None:  # Xero creates the contact the document names
            try:
                new_contact = prepare(w, RESOURCES["Contacts"], {"Name": ref["Name"]})
            except Invalid as invalid:
                errors.extend(invalid.messages)
                return
            prepared.effects.append(lambda: commit(w, new_contact))
            contact = new_contact.record
    record["Contact"] = {"ContactID": contact["ContactID"], "Name": contact["Name"]}


def _status(
    record: Record,
    existing: Record | None,
    changes: Record,
    moves: dict[str | None, frozenset[str]],
    errors: list[str],
    kind: str,
) -> str:
    """Check a status change as Xero does: finished documents are frozen."""
    status = str(record.setdefault("Status", "DRAFT"))
    before = existing.get("Status") if existing else None
    if before in _FINISHED and changes:
        errors.append(f"{kind} not of valid status for modification.")
    elif status != before and status not in moves.get(before, frozenset()):
        action = "creation" if existing is None else "modification"
        errors.append(f"{kind} not of valid status for {action}.")
    return status


_FINISHED = frozenset({"PAID", "VOIDED", "DELETED", "BILLED"})
_OPEN = frozenset({"DRAFT", "SUBMITTED", "AUTHORISED"})
_INVOICE_MOVES: dict[str | None, frozenset[str]] = {
    None: _OPEN,
    "DRAFT": frozenset({"SUBMITTED", "AUTHORISED", "DELETED"}),
    "SUBMITTED": frozenset({"DRAFT", "AUTHORISED", "DELETED"}),
    "AUTHORISED": frozenset({"VOIDED"}),
}
_ORDER_MOVES = {**_INVOICE_MOVES, "AUTHORISED": frozenset({"BILLED", "DELETED"})}


def _invoice(w: Write, prepared: Prepared, existing: Record | None, changes: Record) -> None:
    record = prepared.record
    errors: list[str] = []
    kind = record.get("Type")
    if kind not in ("ACCREC", "ACCPAY"):
        errors.append("Invoice Type must be ACCREC or ACCPAY.")
    if (
        existing
        and (existing["AmountPaid"] or existing["AmountCredited"])
        and "LineItems" in changes
    ):
        errors.append(
            "This document cannot be edited as it has a payment or credit note allocated to it."
        )
    status = _status(record, existing, changes, _INVOICE_MOVES, errors, "Invoice")
    if status == "VOIDED" and existing and existing["AmountPaid"]:
        errors.append("Invoice with payments cannot be voided: remove the payments first.")
    _document(w, prepared, existing, changes, sales=kind == "ACCREC", errors=errors)
    if status in ("SUBMITTED", "AUTHORISED") and not record.get("LineItems"):
        errors.append("An invoice must have at least one line item to be approved.")
    if errors:
        raise Invalid(errors)
    if "DueDate" not in record:
        record["DueDate"] = ms_date(ms_of(record["Date"]) + 30 * DAY_MS)
    if not record.get("InvoiceNumber") and kind == "ACCREC":
        record["InvoiceNumber"] = f"INV-{len(w.collection('Invoices')) + 1:06d}"
    record.setdefault("InvoiceNumber", "")
    paid = record.setdefault("AmountPaid", 0.0)
    credited = record.setdefault("AmountCredited", 0.0)
    record["AmountDue"] = (
        0.0 if status in ("VOIDED", "DELETED") else round(record["Total"] - paid - credited, 2)
    )
    for key, default in (
        ("SentToContact", False),
        ("IsDiscounted", False),
        ("Payments", []),
        ("CreditNotes", []),
        ("Prepayments", []),
        ("Overpayments", []),
        ("HasErrors", False),
    ):
        record.setdefault(key, default)


def _credit_note(w: Write, prepared: Prepared, existing: Record | None, changes: Record) -> None:
    record = prepared.record
    errors: list[str] = []
    kind = record.get("Type")
    if kind not in ("ACCRECCREDIT", "ACCPAYCREDIT"):
        errors.append("Credit note Type must be ACCRECCREDIT or ACCPAYCREDIT.")
    status = _status(record, existing, changes, _INVOICE_MOVES, errors, "Credit note")
    _document(w, prepared, existing, changes, sales=kind == "ACCRECCREDIT", errors=errors)
    if errors:
        raise Invalid(errors)
    if not record.get("CreditNoteNumber"):
        record["CreditNoteNumber"] = f"CN-{len(w.collection('CreditNotes')) + 1:05d}"
    allocated = sum(a["Amount"] for a in record.get("Allocations", []))
    record["RemainingCredit"] = (
        round(record["Total"] - allocated, 2) if status == "AUTHORISED" else 0.0
    )
    for key, default in (("Allocations", []), ("Payments", []), ("SentToContact", False)):
        record.setdefault(key, default)
    record.setdefault("HasErrors", False)


def _purchase_order(w: Write, prepared: Prepared, existing: Record | None, changes: Record) -> None:
    record = prepared.record
    errors: list[str] = []
    _status(record, existing, changes, _ORDER_MOVES, errors, "Purchase order")
    _document(w, prepared, existing, changes, sales=False, errors=errors)
    if errors:
        raise Invalid(errors)
    if not record.get("PurchaseOrderNumber"):
        record["PurchaseOrderNumber"] = f"PO-{len(w.collection('PurchaseOrders')) + 1:05d}"
    record.setdefault("SentToContact", False)
    record.setdefault("TotalDiscount", 0.0)


def _bank_transaction(
    w: Write, prepared: Prepared, existing: Record | None, changes: Record
) -> None:
    record = prepared.record
    errors: list[str] = []
    kind = record.get("Type")
    if kind not in _BANK_TRANSACTION_TYPES:
        errors.append("Bank transaction Type is not valid.")
    bank = _account_by(w, record.get("BankAccount"))
    if bank is None or bank.get("Type") != "BANK":
        errors.append("A valid BankAccount must be specified.")
    else:
        record["BankAccount"] = {k: bank[k] for k in ("AccountID", "Code", "Name")}
        record.setdefault("CurrencyCode", bank.get("CurrencyCode", w.org.currency))
    if not record.get("LineItems"):
        errors.append("At least one line item must be specified.")
    status = str(record.setdefault("Status", "AUTHORISED"))
    before = existing.get("Status") if existing else None
    if status not in ("AUTHORISED", "DELETED", "VOIDED") or (
        before in ("DELETED", "VOIDED") and changes
    ):
        errors.append("Bank transaction not of valid status for modification.")
    _document(w, prepared, existing, changes, sales=str(kind).startswith("RECEIVE"), errors=errors)
    if errors:
        raise Invalid(errors)
    record.setdefault("IsReconciled", False)


# --- payments ------------------------------------------------------------------------


def _payment(w: Write, prepared: Prepared, existing: Record | None, changes: Record) -> None:
    record = prepared.record
    if existing is not None:
        if set(changes) - {"Status"} or changes.get("Status") not in (None, "DELETED"):
            raise Invalid(["A payment can only be deleted: send Status DELETED."])
        if existing["Status"] != "DELETED" and record["Status"] == "DELETED":
            prepared.effects.append(lambda: _apply_payment(w, record, -record["Amount"]))
        return
    errors: list[str] = []
    invoice = _invoice_of_payment(w, record.get("Invoice"))
    if invoice is None:
        errors.append("The Invoice for this payment could not be found.")
    elif invoice["Status"] != "AUTHORISED":
        errors.append("Payments can only be made against Authorised documents.")
    account = _account_by(w, record.get("Account"))
    if account is None:
        errors.append("The Account for this payment could not be found.")
    elif account["Type"] != "BANK" and not account.get("EnablePaymentsToAccount"):
        errors.append("Account type is invalid for making a payment to/from.")
    try:
        amount = round(float(record.get("Amount", 0)), 2)
    except (TypeError, ValueError):
        amount = 0.0
    if amount <= 0:
        errors.append("Payment amount must be greater than zero.")
    elif invoice is not None and amount > invoice["AmountDue"]:
        errors.append("Payment amount exceeds the amount outstanding on this document.")
    try:
        date = day_ms(ms_of(record["Date"])) if "Date" in record else w.today()
    except ValueError:
        errors.append(f"Date {record['Date']!r} is not a valid date.")
        date = w.today()
    if errors or invoice is None or account is None:
        raise Invalid(errors)
    record.update(
        Date=ms_date(date),
        Amount=amount,
        BankAmount=amount,
        CurrencyRate=float(record.get("CurrencyRate") or invoice["CurrencyRate"]),
        Reference=str(record.get("Reference") or ""),
        IsReconciled=bool(record.get("IsReconciled", False)),
        Status="AUTHORISED",
        PaymentType="ACCRECPAYMENT" if invoice["Type"] == "ACCREC" else "ACCPAYPAYMENT",
        HasAccount=True,
        HasValidationErrors=False,
        Account={"AccountID": account["AccountID"], "Code": account.get("Code", "")},
        Invoice=invoice_summary(invoice),
    )
    prepared.effects.append(lambda: _apply_payment(w, record, amount))


def _invoice_of_payment(w: Write, ref: object) -> Record | None:
    if not isinstance(ref, dict):
        return None
    if ref.get("InvoiceID"):
        return w.collection("Invoices").get(str(ref["InvoiceID"]))
    if ref.get("InvoiceNumber"):
        return find(w, RESOURCES["Invoices"], str(ref["InvoiceNumber"]))
    return None


def _apply_payment(w: Write, payment: Record, amount: float) -> None:
    """Move the invoice's AmountPaid/AmountDue by ``amount`` (negative: payment removed)."""
    invoice = dict(w.collection("Invoices").get(payment["Invoice"]["InvoiceID"]) or {})
    if not invoice:
        return
    invoice["AmountPaid"] = round(invoice["AmountPaid"] + amount, 2)
    invoice["AmountDue"] = round(
        invoice["Total"] - invoice["AmountPaid"] - invoice["AmountCredited"], 2
    )
    summaries = [p for p in invoice["Payments"] if p["PaymentID"] != payment["PaymentID"]]
    if amount > 0:
        summaries.append(
            {
                "PaymentID": payment["PaymentID"],
                "Date": payment["Date"],
                "Amount": payment["Amount"],
                "Reference": payment["Reference"],
                "CurrencyRate": payment["CurrencyRate"],
                "HasAccount": True,
                "HasValidationErrors": False,
            }
        )
    invoice["Payments"] = summaries
    if invoice["AmountDue"] <= 0:
        invoice["Status"] = "PAID"
        invoice["FullyPaidOnDate"] = payment["Date"]
    else:
        invoice["Status"] = "AUTHORISED"
        invoice.pop("FullyPaidOnDate", None)
    w.save("Invoices", invoice)


# --- deleting as a Xero user would ---------------------------------------------------


def delete(w: Write, resource: Resource, record_id: str) -> Record | None:
    """Xero's delete: archive, delete or void by status; Items vanish. Returns the tombstone."""
    record = w.collection(resource.name).get(record_id)
    if record is None:
        raise LookupError(f"No {resource.name} record {record_id!r}.")
    name = resource.name
    if name == "Items":
        w.collection(name).remove(record_id)
        xero_data(w.state).writes += 1
        return None
    if name == "Contacts":
        return write(w, resource, {"ContactStatus": "ARCHIVED"}, record_id=record_id)
    if name == "Accounts":
        return write(w, resource, {"Status": "ARCHIVED"}, record_id=record_id)
    if name in ("Payments", "BankTransactions", "PurchaseOrders"):
        return write(w, resource, {"Status": "DELETED"}, record_id=record_id)
    # Invoices and credit notes: drafts are deleted, approved ones voided (payments first).
    if record["Status"] in ("DRAFT", "SUBMITTED"):
        return write(w, resource, {"Status": "DELETED"}, record_id=record_id)
    for summary in record.get("Payments", []):
        write(w, RESOURCES["Payments"], {"Status": "DELETED"}, record_id=summary["PaymentID"])
    if record["Status"] == "PAID" and name == "Invoices":
        record = w.collection(name).get(record_id) or record
    if record["Status"] not in ("AUTHORISED", "PAID"):
        return record
    return write(w, resource, {"Status": "VOIDED"}, record_id=record_id)


_RULES: dict[str, Callable[[Write, Prepared, Record | None, Record], None]] = {
    "Contacts": _contact,
    "Invoices": _invoice,
    "Payments": _payment,
    "Items": _item,
    "Accounts": _account,
    "BankTransactions": _bank_transaction,
    "CreditNotes": _credit_note,
    "PurchaseOrders": _purchase_order,
}
