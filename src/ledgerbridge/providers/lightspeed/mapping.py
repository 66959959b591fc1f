"""Lightspeed payloads as unified records: customers, products, sales and outlets.

Money is ``Decimal`` made exactly from the payload's numbers (see ``providers.numbers``).
tax, so its unified ``total`` is ``total_price + total_tax``.

A sale does not say its currency: a store has one, given by ``GET /retailer`` and by each
outlet, neither of which a sale carries. Until the mapper is handed the store's currency,
sales carry ISO 4217's ``XXX`` ("no currency"), and the outlet they name (a ``location``
record) carries the real one.
"""

from __future__ import annotations

from typing import Any, Literal

from ledgerbridge.providers.lightspeed.dates import parse_time
from ledgerbridge.providers.mapping import Mapper, map_with
from ledgerbridge.providers.mapping import common as _common
from ledgerbridge.providers.mapping import text as _text
from ledgerbridge.providers.numbers import optional_decimal, to_decimal
from ledgerbridge.providers.pulling import RemoteObject
from ledgerbridge.unified import Contact, Item, Line, Location, Sale, SalePayment, Unified

UNSTATED_CURRENCY = "XXX"

SaleStatus = Literal["open", "closed", "on_account", "layby", "void"]

# Lightspeed's sale statuses (its "Sales: Statuses" guide) and what each means here.
SALE_STATUSES: dict[str, SaleStatus] = {
    "SAVED": "open",
    "SERVICE": "open",
    "AWAITING_DISPATCH": "open",
    "AWAITING_PICKUP": "open",
    "ONACCOUNT": "on_account",
    "LAYBY": "layby",
    "CLOSED": "closed",
    "ONACCOUNT_CLOSED": "closed",
    "LAYBY_CLOSED": "closed",
    "DISPATCHED_CLOSED": "closed",
    "PICKED_UP_CLOSED": "closed",
    "SERVICE_CLOSED": "closed",
    "VOIDED": "void",
}

Payload = dict[str, Any]


def to_unified(object_type: str, obj: RemoteObject) -> Unified:
    return map_with(_MAPPERS, "Lightspeed", object_type, obj)


def _customer(obj: RemoteObject) -> Contact:
    p = obj.payload
    full_name = " ".join(part for part in (p.get("first_name"), p.get("last_name")) if part)
    name = p.get("name") or full_name or p.get("company_name") or p.get("customer_code")
    return Contact(
        **_common(obj),
        name=name or obj.external_id,
        email=_text(p.get("email")),
        phone=_text(p.get("phone")) or _text(p.get("mobile")),
        is_customer=True,
        status="archived" if obj.deleted else "active",
    )


def _product(obj: RemoteObject) -> Item:
    p = obj.payload
    return Item(
        **_common(obj),
        code=_text(p.get("sku")),
        name=p.get("variant_name") or p.get("name") or obj.external_id,
        description=_text(p.get("description")),
        unit_price=optional_decimal(p.get("price_excluding_tax")),
        purchase_price=optional_decimal(p.get("supply_price")),
        is_active=bool(p.get("is_active", p.get("active", True))),
    )


def _outlet(obj: RemoteObject) -> Location:
    p = obj.payload
    return Location(
        **_common(obj),
        name=p.get("name") or obj.external_id,
        time_zone=_text(p.get("time_zone")),
        currency=_text(p.get("currency")),
        is_active=not obj.deleted,
    )


def _sale(obj: RemoteObject) -> Sale:
    p = obj.payload
    total_price, total_tax = to_decimal(p["total_price"]), to_decimal(p["total_tax"])
    return Sale(
        **_common(obj),
        number=_text(p.get("invoice_number")),
        date=parse_time(p.get("sale_date")),
        location_remote_id=_text(p.get("outlet_id")),
        contact_remote_id=_text(p.get("customer_id")),
        currency=UNSTATED_CURRENCY,
        total_tax=total_tax,
        total=total_price + total_tax,
        status=_sale_status(str(p.get("status") or "")),
        lines=[_line(line) for line in p.get("line_items") or []],
        payments=[_payment(payment) for payment in p.get("payments") or []],
    )


def _sale_status(status: str) -> SaleStatus:
    """Lightspeed's status; one it adds later counts as closed if its name says so."""
    if status in SALE_STATUSES:
        return SALE_STATUSES[status]
    return "closed" if status.endswith("CLOSED") else "open"


def _line(line: Payload) -> Line:
    return Line(
        remote_id=_text(line.get("id")),
        description=_text(line.get("note")),
        quantity=optional_decimal(line.get("quantity")),
        unit_amount=optional_decimal(line.get("price")),
        amount=to_decimal(line.get("price_total", 0)),
        tax_amount=to_decimal(line.get("tax_total", 0)),
        item_remote_id=_text(line.get("product_id")),
    )


def _payment(payment: Payload) -> SalePayment:
    return SalePayment(
        remote_id=_text(payment.get("id")),
        method=_text(payment.get("name")),
        amount=to_decimal(payment["amount"]),
    )


_MAPPERS: dict[str, Mapper] = {
    "customers": _customer,
    "products": _product,
    "sales": _sale,
    "outlets": _outlet,
}
