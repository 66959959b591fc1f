"""The Xero resources the emulator serves, and what sets each apart."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    name: str  # the path segment, envelope key and store collection: "Invoices"
    id_field: str  # "InvoiceID"
    paged: bool  # Items and Accounts come back whole
    status_field: str | None  # "Status", or "ContactStatus" for Contacts
    number_field: str | None = None  # GET /Invoices/{InvoiceNumber} also finds a record


RESOURCES: dict[str, Resource] = {
    r.name: r
    for r in (
        Resource("Contacts", "ContactID", True, "ContactStatus", "ContactNumber"),
        Resource("Invoices", "InvoiceID", True, "Status", "InvoiceNumber"),
        Resource("Payments", "PaymentID", True, "Status"),
        Resource("Items", "ItemID", False, None, "Code"),
        Resource("Accounts", "AccountID", False, "Status"),
        Resource("BankTransactions", "BankTransactionID", True, "Status"),
        Resource("CreditNotes", "CreditNoteID", True, "Status", "CreditNoteNumber"),
        Resource("PurchaseOrders", "PurchaseOrderID", True, "Status", "PurchaseOrderNumber"),
    )
}
OBJECT_TYPES: tuple[str, ...] = tuple(RESOURCES)
_BY_LOWER_NAME = {name.lower(): resource for name, resource in RESOURCES.items()}


def resource_named(name: str) -> Resource | None:
    """Xero's paths are case-insensitive: ``/invoices`` is ``/Invoices``."""
    return _BY_LOWER_NAME.get(name.lower())
