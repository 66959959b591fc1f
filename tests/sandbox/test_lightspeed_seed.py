"""The seeded Lightspeed stores: deterministic, realistic, and versioned in time order."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from ledgerbridge.sandbox.lightspeed import OBJECT_TYPES, control_create, control_update, seed
from ledgerbridge.sandbox.state import SandboxState, new_state

STORES = ("sandbox-cafe", "sandbox-boutique")


def seeded(seed_value: int = 7, size: int = 150) -> SandboxState:
    state = new_state(seed=seed_value, size=size)
    seed(state, random.Random(seed_value), size)
    return state


def records(state: SandboxState, store: str, object_type: str) -> list[dict[str, Any]]:
    return state.store.collection("lightspeed", store, object_type).all()


@pytest.fixture(scope="module")
def state() -> SandboxState:
    return seeded()


def test_same_seed_same_stores_other_seed_other_stores(state: SandboxState) -> None:
    again, other = seeded(), seeded(seed_value=8)
    for store in STORES:
        for object_type in OBJECT_TYPES:
            assert records(again, store, object_type) == records(state, store, object_type)
    assert records(other, STORES[0], "customers") != records(state, STORES[0], "customers")


def test_two_stores_with_their_own_currency_outlets_and_registers(state: SandboxState) -> None:
    accounts = {a.account_id: a for a in state.store.accounts_of("lightspeed")}
    assert set(accounts) == set(STORES)
    assert len({a.currency for a in accounts.values()}) == 2
    for store, account in accounts.items():
        outlets = records(state, store, "outlets")
        assert 2 <= len(outlets) <= 3
        assert len({o["time_zone"] for o in outlets}) == len(outlets)
        assert {o["currency"] for o in outlets} == {account.currency}
        registers = records(state, store, "registers")
        assert account.registers == len([r for r in registers if not r["deleted_at"]])


def test_size_records_per_type(state: SandboxState) -> None:
    for store in STORES:
        for object_type in ("customers", "products", "sales", "inventory"):
            assert len(records(state, store, object_type)) == 150


def test_versions_grow_with_time_across_a_store(state: SandboxState) -> None:
    for store in STORES:
        changes = sorted(
            (record["version"], record.get("updated_at", ""))
            for object_type in ("customers", "products", "sales")
            for record in records(state, store, object_type)
        )
        versions = [version for version, _ in changes]
        assert len(set(versions)) == len(versions), "one counter per store: no version repeats"
        times = [updated_at for _, updated_at in changes]
        assert times == sorted(times)


def test_realistic_data(state: SandboxState) -> None:
    for store in STORES:
        customers = records(state, store, "customers")
        products = records(state, store, "products")
        sales = records(state, store, "sales")
        assert any(not c["first_name"] or not c["first_name"].isascii() for c in customers)
        assert any(c["deleted_at"] for c in customers)
        assert any(p["deleted_at"] for p in products)
        assert any(p["variant_parent_id"] for p in products)
        assert any(not p["active"] for p in products)
        assert len({c["customer_code"] for c in customers}) == len(customers)
        assert len({p["sku"] for p in products}) == len(products)
        statuses = Counter(s["status"] for s in sales)
        assert statuses["CLOSED"] > len(sales) / 2 and statuses["VOIDED"] > 0
        assert any(s["return_for"] and s["total_price"] < 0 for s in sales)
        product_ids = {p["id"] for p in products}
        customer_ids = {c["id"] for c in customers}
        for sale in sales:
            assert sale["customer_id"] in customer_ids
            assert {line["product_id"] for line in sale["line_items"]} <= product_ids
            assert sale["total_tax"] == pytest.approx(
                sum(line["tax_total"] for line in sale["line_items"]), abs=0.011
            )
            if sale["status"] == "ONACCOUNT_CLOSED":
                assert sum(p["amount"] for p in sale["payments"]) == pytest.approx(
                    sale["total_price"] + sale["total_tax"], abs=0.011
                )


def test_a_closed_outlet_is_soft_deleted(state: SandboxState) -> None:
    outlets = records(state, "sandbox-boutique", "outlets")
    assert [o["name"] for o in outlets if o["deleted_at"]] == ["Wicker Park Pop-up"]


def test_control_changes_take_the_next_version() -> None:
    state, store = seeded(size=20), "sandbox-cafe"
    newest = max(r["version"] for t in OBJECT_TYPES for r in records(state, store, t))
    created = control_create(state, store, "customers", {"last_name": "Øvergaard"})
    assert created["version"] == newest + 1
    assert created["customer_code"] and created["created_at"].endswith("+00:00")
    product = records(state, store, "products")[0]
    changed = control_update(state, store, "products", product["id"], {"active": False})
    assert changed["version"] == newest + 2 and changed["is_active"] is False


def test_control_refuses_unknown_stores_types_and_records() -> None:
    state = seeded(size=20)
    with pytest.raises(LookupError):
        control_create(state, "no-such-store", "customers", {"first_name": "Ana"})
    with pytest.raises(LookupError):
        control_create(state, "sandbox-cafe", "gift_cards", {})
    with pytest.raises(LookupError):
        control_update(state, "sandbox-cafe", "customers", "nope", {})
    live = [c for c in records(state, "sandbox-cafe", "customers") if not c["deleted_at"]]
    with pytest.raises(ValueError, match="customer_code"):
        control_create(
            state,
            "sandbox-cafe",
            "customers",
            {"first_name": "A", "customer_code": live[1]["customer_code"]},
        )
    with pytest.raises(ValueError, match="_stamp"):
        control_create(state, "sandbox-cafe", "customers", {"first_name": "A", "_stamp": "soon"})
