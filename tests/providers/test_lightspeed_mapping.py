"""Lightspeed payloads as unified records: both seeded stores, every record, money exact."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.providers.lightspeed import pull
from ledgerbridge.providers.lightspeed.mapping import UNSTATED_CURRENCY, to_unified
from ledgerbridge.providers.pulling import RemoteObject
from ledgerbridge.unified import Contact, Item, Location, Sale

STORES = {"sandbox-cafe": "AUD", "sandbox-boutique": "USD"}

pytestmark = pytest.mark.sandbox(seed=11, size=80)


Pulled = dict[str, dict[str, list[RemoteObject]]]  # store -> object type -> objects


@pytest.fixture
def pulled(sandbox_url: str, connect: Any) -> Pulled:
    """Every record of both stores, as ``pull`` hands them over (latest version of each)."""

    async def pull_store(domain_prefix: str) -> dict[str, list[RemoteObject]]:
        token = connect("lightspeed", [domain_prefix])["access_token"]
        found: dict[str, list[RemoteObject]] = {}
        async with httpx.AsyncClient(
            base_url=f"{sandbox_url}/lightspeed/{domain_prefix}/api/2.0",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as http:
            for object_type in pull.OBJECT_TYPES:
                cursor, objects = pull.start(None, timedelta(0)), []
                while True:
                    page = await pull.fetch_page(http, object_type, cursor)
                    objects += page.objects
                    if page.done:
                        break
                    cursor = page.cursor
                found[object_type] = list({o.external_id: o for o in objects}.values())
        return found

    return {store: asyncio.run(pull_store(store)) for store in STORES}


def remote(payload_json: str, **fields: Any) -> RemoteObject:
    payload = json.loads(payload_json, parse_float=Decimal)
    return RemoteObject(
        external_id=payload["id"],
        payload=payload,
        updated_at=fields.get("updated_at"),
        version=str(payload.get("version", 1)),
        deleted=fields.get("deleted", False),
    )


def test_every_seeded_sale_maps_with_exact_money(pulled: Pulled) -> None:
    statuses: set[str] = set()
    for objects in pulled.values():
        for obj in objects["sales"]:
            sale = to_unified("sales", obj)
            assert isinstance(sale, Sale)
            raw = obj.payload
            assert sale.total == raw["total_price"] + raw["total_tax"]
            assert sum((line.amount for line in sale.lines), Decimal(0)) == raw["total_price"]
            assert sum((line.tax_amount for line in sale.lines), Decimal(0)) == sale.total_tax
            assert sale.number == raw["invoice_number"]
            assert sale.location_remote_id == raw["outlet_id"]
            assert sale.date is not None and sale.date.tzinfo is not None
            assert sale.currency == UNSTATED_CURRENCY
            if raw["status"] in ("CLOSED", "ONACCOUNT_CLOSED", "LAYBY_CLOSED"):
                paid = sum((p.amount for p in sale.payments), Decimal(0))
                assert paid == sale.total
            if raw["return_for"]:
                assert sale.total < 0
                assert all(line.quantity is not None and line.quantity < 0 for line in sale.lines)
            statuses.add(sale.status)
    assert statuses == {"open", "closed", "on_account", "layby", "void"}


def test_customers_products_and_outlets(pulled: Pulled) -> None:
    for store, objects in pulled.items():
        archived = set()
        for obj in objects["customers"]:
            contact = to_unified("customers", obj)
            assert isinstance(contact, Contact) and contact.name and contact.is_customer
            assert contact.status == ("archived" if obj.deleted else "active")
            archived.add(contact.status == "archived")
        assert archived == {True, False}
        walk_in = next(o for o in objects["customers"] if o.payload["customer_code"] == "WALKIN")
        assert to_unified("customers", walk_in) == Contact(
            remote_id=walk_in.external_id,
            remote_updated_at=walk_in.updated_at,
            name="WALKIN",
            is_customer=True,
        )

        for obj in objects["products"]:
            item = to_unified("products", obj)
            assert isinstance(item, Item)
            assert item.code == obj.payload["sku"]
            assert item.unit_price == obj.payload["price_excluding_tax"]
            assert item.is_active == obj.payload["is_active"]

        for obj in objects["outlets"]:
            location = to_unified("outlets", obj)
            assert isinstance(location, Location)
            assert location.currency == STORES[store] and location.time_zone
            assert location.is_active == (obj.payload["deleted_at"] is None)


def test_money_is_the_texts_value_not_a_floats() -> None:
    sale = to_unified(
        "sales",
        remote(
            """{"id": "s1", "status": "CLOSED", "total_price": 0.1, "total_tax": 0.2,
                "sale_date": "2024-05-01T09:30:00+00:00", "customer_id": "",
                "line_items": [{"id": "l1", "product_id": "p1", "quantity": 3, "price": 0.03333,
                                "price_total": 0.1, "tax_total": 0.2}],
                "payments": [{"id": "pay1", "name": "Cash", "amount": 0.3}]}"""
        ),
    )
    assert isinstance(sale, Sale)
    assert sale.total == Decimal("0.3")  # 0.1 + 0.2 as floats is 0.30000000000000004
    assert sale.lines[0].unit_amount == Decimal("0.03333")
    assert sale.payments[0].amount == Decimal("0.3")
    assert sale.contact_remote_id is None
    assert sale.date == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)

    item = to_unified(
        "products",
        remote('{"id": "p1", "name": "Latte", "price_excluding_tax": 4.090909090909091123}'),
    )
    assert isinstance(item, Item)
    assert item.unit_price == Decimal("4.090909090909091123")


def test_a_float_is_read_by_its_shortest_text_never_its_binary_expansion() -> None:
    obj = RemoteObject(
        "s1",
        {"id": "s1", "status": "CLOSED", "total_price": 0.1, "total_tax": 0.2},
        None,
    )
    sale = to_unified("sales", obj)
    assert isinstance(sale, Sale)
    assert sale.total == Decimal("0.3")


def test_statuses_timestamps_and_unknown_types() -> None:
    changed = datetime(2024, 6, 1, 12, tzinfo=UTC)
    for status, expected in [
        ("SAVED", "open"),
        ("ONACCOUNT", "on_account"),
        ("LAYBY", "layby"),
        ("LAYBY_CLOSED", "closed"),
        ("VOIDED", "void"),
        ("SOMETHING_NEW_CLOSED", "closed"),
        ("SOMETHING_NEW", "open"),
    ]:
        payload = f'{{"id": "s", "status": "{status}", "total_price": 1, "total_tax": 0}}'
        sale = to_unified("sales", remote(payload, updated_at=changed))
        assert isinstance(sale, Sale)
        assert (sale.status, sale.remote_updated_at, sale.remote_was_deleted) == (
            expected,
            changed,
            False,
        )
    closed = to_unified("outlets", remote('{"id": "o", "name": "Pop-up"}', deleted=True))
    assert isinstance(closed, Location)
    assert closed.remote_was_deleted and not closed.is_active
    with pytest.raises(ValueError, match="inventory"):
        to_unified("inventory", remote('{"id": "i"}'))
