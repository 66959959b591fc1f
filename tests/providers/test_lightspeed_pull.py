"""Pulling a Lightspeed store from the sandbox over real HTTP: backfill, incremental runs,
records sharing a version across a page boundary, deleted_at tombstones and error answers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.providers.lightspeed import pull
from ledgerbridge.providers.lightspeed.errors import raise_for_error
from ledgerbridge.providers.lightspeed.mapping import to_unified
from ledgerbridge.providers.pulling import Cursor, ProviderError, RemoteObject
from ledgerbridge.unified import MODELS, Item, Location, Sale

CAFE, BOUTIQUE = "sandbox-cafe", "sandbox-boutique"
OVERLAP = timedelta(minutes=5)

pytestmark = pytest.mark.sandbox(seed=3, size=40)


@dataclass(frozen=True)
class Store:
    """What ledgerbridge hands a pull module: an API base for one store and a token."""

    base_url: str
    token: str

    def client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)


@dataclass
class Run:
    objects: list[RemoteObject] = field(default_factory=list)
    cursors: list[Cursor] = field(default_factory=list)  # the cursor each page returned

    @property
    def cursor(self) -> Cursor:
        return self.cursors[-1]

    def latest(self) -> dict[str, RemoteObject]:
        return {obj.external_id: obj for obj in self.objects}


def store_for(sandbox_url: str, connect: Any, domain_prefix: str) -> Store:
    tokens = connect("lightspeed", [domain_prefix])
    return Store(f"{sandbox_url}/lightspeed/{domain_prefix}/api/2.0", tokens["access_token"])


@pytest.fixture
def store(sandbox_url: str, connect: Any) -> Store:
    return store_for(sandbox_url, connect, CAFE)


@pytest.fixture
def control(sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox_url}/_sandbox/lightspeed/{CAFE}", timeout=30) as c:
        yield c


def exact(response: httpx.Response) -> Any:
    assert response.is_success, response.text
    return json.loads(response.content, parse_float=Decimal)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.is_success, response.text
    answer: dict[str, Any] = response.json()
    return answer


def pull_to_end(
    store: Store, object_type: str, cursor: Cursor, page_size: int | None = None
) -> Run:
    async def go() -> Run:
        run, at = Run(), cursor
        async with store.client() as http:
            while True:
                page = await pull.fetch_page(http, object_type, at, page_size=page_size)
                run.objects += page.objects
                run.cursors.append(page.cursor)
                if page.done:
                    return run
                at = page.cursor

    return asyncio.run(go())


def backfill(store: Store, page_size: int | None = None) -> dict[str, Cursor]:
    return {
        object_type: pull_to_end(store, object_type, pull.start(None, OVERLAP), page_size).cursor
        for object_type in pull.OBJECT_TYPES
    }


# --- 1. backfill ----------------------------------------------------------------------


@pytest.mark.parametrize("object_type", pull.OBJECT_TYPES)
def test_backfill_matches_the_store_record_for_record(
    store: Store, control: httpx.Client, object_type: str
) -> None:
    everything = {r["id"]: r for r in exact(control.get(f"/{object_type}"))}
    first = pull.start(None, OVERLAP)

    run = pull_to_end(store, object_type, first, page_size=7)

    assert len(run.cursors) > 1 or len(everything) < 7
    latest = run.latest()
    assert latest.keys() == everything.keys(), "nothing missing, nothing extra"
    for record_id, obj in latest.items():
        assert obj.payload == everything[record_id]
        assert obj.deleted == (everything[record_id]["deleted_at"] is not None)
        assert obj.version == str(everything[record_id]["version"])
    if object_type in ("customers", "products"):
        assert any(obj.deleted for obj in latest.values()), "the seed deletes some"

    versions = [int(obj.version or 0) for obj in run.objects]
    assert versions == sorted(versions), "objects come in change order"
    positions = [pull.position(cursor) for cursor in [first, *run.cursors]]
    assert positions == sorted(positions), "a cursor never moves back"
    assert pull.position(run.cursor) == (max(versions),)

    model = MODELS[pull.OBJECT_TYPES[object_type].model]
    for obj in latest.values():
        record = to_unified(object_type, obj)
        assert isinstance(record, model)
        assert record.remote_id == obj.external_id
        assert record.remote_was_deleted == obj.deleted
        assert record.remote_updated_at == obj.updated_at
        check_money(record, everything[obj.external_id])


def check_money(record: Any, raw: dict[str, Any]) -> None:
    """Money in the unified record is exactly the store's (parsed from its JSON text)."""
    if isinstance(record, Sale):
        assert record.total_tax == raw["total_tax"]
        assert record.total == raw["total_price"] + raw["total_tax"]
        assert [(line.amount, line.tax_amount, line.unit_amount) for line in record.lines] == [
            (line["price_total"], line["tax_total"], line["price"]) for line in raw["line_items"]
        ]
        assert [(p.remote_id, p.amount) for p in record.payments] == [
            (p["id"], p["amount"]) for p in raw["payments"]
        ]
        assert record.status == ("void" if raw["status"] == "VOIDED" else record.status)
    elif isinstance(record, Item):
        assert record.unit_price == raw["price_excluding_tax"]
        assert record.purchase_price == raw["supply_price"]
    elif isinstance(record, Location):
        assert record.currency == raw["currency"] == "AUD"


# --- 2. incremental -------------------------------------------------------------------


def test_incremental_run_sees_exactly_the_changes(
    sandbox_url: str, store: Store, control: httpx.Client
) -> None:
    saved = backfill(store, page_size=50)
    customers = [c for c in control.get("/customers").json() if c["deleted_at"] is None]
    products = [p for p in control.get("/products").json() if p["deleted_at"] is None]
    sale = next(s for s in control.get("/sales").json() if s["status"] == "CLOSED")
    outlet = control.get("/outlets").json()[0]

    created = ok(control.post("/customers", json={"first_name": "Aroha", "last_name": "Ngata"}))
    updated = ok(control.patch(f"/customers/{customers[1]['id']}", json={"email": "a@b.example"}))
    removed = ok(control.delete(f"/customers/{customers[2]['id']}"))
    # Two customers share one version; with two to a page they straddle a page boundary.
    shared = removed["version"] + 1
    twins = [
        ok(control.post("/customers", json={"first_name": name, "_stamp": shared}))
        for name in ("Mei", "Yuki")
    ]
    repriced = ok(control.patch(f"/products/{products[0]['id']}", json={"supply_price": 1.23}))
    new_product = ok(control.post("/products", json={"name": "Piccolo Latte", "sku": "PL-1"}))
    gone_product = ok(control.delete(f"/products/{products[1]['id']}"))
    voided = ok(control.delete(f"/sales/{sale['id']}"))
    moved = ok(control.patch(f"/outlets/{outlet['id']}", json={"email": "bondi@example.com"}))
    expected_ids = {
        "customers": {r["id"] for r in [created, updated, removed, *twins]},
        "products": {r["id"] for r in [repriced, new_product, gone_product]},
        "sales": {voided["id"]},
        "outlets": {moved["id"]},
    }

    runs = {
        object_type: pull_to_end(store, object_type, pull.start(saved[object_type], OVERLAP), 2)
        for object_type in pull.OBJECT_TYPES
    }

    for object_type, run in runs.items():
        assert run.latest().keys() == expected_ids[object_type], object_type
    customers_seen = runs["customers"].latest()
    assert customers_seen[customers[1]["id"]].payload["email"] == "a@b.example"
    assert customers_seen[customers[2]["id"]].deleted
    assert runs["products"].latest()[products[1]["id"]].deleted
    assert runs["products"].latest()[products[0]["id"]].payload["supply_price"] == Decimal("1.23")
    voided_sale = to_unified("sales", runs["sales"].objects[-1])
    assert isinstance(voided_sale, Sale)
    assert voided_sale.status == "void" and not voided_sale.remote_was_deleted

    # Nothing changed since: one request per object type, and nothing in it.
    httpx.delete(f"{sandbox_url}/_sandbox/ledger").raise_for_status()
    quiet = {
        object_type: pull_to_end(store, object_type, pull.start(run.cursor, OVERLAP))
        for object_type, run in runs.items()
    }
    assert all(run.objects == [] and len(run.cursors) == 1 for run in quiet.values())
    assert all(quiet[t].cursor == runs[t].cursor for t in pull.OBJECT_TYPES)
    ledger = httpx.get(f"{sandbox_url}/_sandbox/ledger", params={"provider": "lightspeed"}).json()
    assert sorted(entry["path"] for entry in ledger["entries"]) == sorted(
        f"/lightspeed/{CAFE}/api/2.0/{object_type}" for object_type in pull.OBJECT_TYPES
    )


def test_more_records_sharing_a_version_than_fit_in_a_page(
    store: Store, control: httpx.Client
) -> None:
    saved = backfill(store)
    first = control.post("/customers", json={"first_name": "Ana"}).json()
    shared = first["version"] + 1
    crowd = {
        control.post("/customers", json={"first_name": f"Guest {n}", "_stamp": shared}).json()["id"]
        for n in range(5)
    }
    last = control.post("/customers", json={"first_name": "Zoë"}).json()

    run = pull_to_end(store, "customers", pull.start(saved["customers"], OVERLAP), page_size=2)

    assert run.latest().keys() == crowd | {first["id"], last["id"]}
    positions = [pull.position(cursor) for cursor in run.cursors]
    assert positions == sorted(positions)
    assert run.cursor == {"after": last["version"]}


def test_a_version_too_crowded_to_page_is_an_error_not_a_gap(
    store: Store, control: httpx.Client
) -> None:
    saved = backfill(store)
    shared = ok(control.post("/customers", json={"first_name": "Ana"}))["version"] + 1
    for n in range(pull.PAGE_SIZE):
        ok(control.post("/customers", json={"first_name": f"Guest {n}", "_stamp": shared}))

    with pytest.raises(ProviderError, match=f"share version {shared}"):
        pull_to_end(store, "customers", pull.start(saved["customers"], OVERLAP), page_size=2)


def test_a_run_resumes_from_any_page_it_committed(store: Store, control: httpx.Client) -> None:
    """A crash after any page: starting again from that page's cursor misses nothing."""
    everything = {r["id"] for r in control.get("/products").json()}
    full = pull_to_end(store, "products", pull.start(None, OVERLAP), page_size=9)
    for committed in full.cursors[:-1]:
        rest = pull_to_end(store, "products", pull.start(committed, OVERLAP), page_size=9)
        before = {
            obj.external_id
            for obj in full.objects
            if pull.position({"after": int(obj.version or 0)}) <= pull.position(committed)
        }
        assert before | rest.latest().keys() == everything


# --- 3. deletions ---------------------------------------------------------------------


def test_deleted_at_arrives_as_a_tombstone(store: Store, control: httpx.Client) -> None:
    saved = backfill(store)
    victims = {
        object_type: next(r for r in control.get(f"/{object_type}").json() if not r["deleted_at"])
        for object_type in ("customers", "products", "outlets")
    }
    for object_type, record in victims.items():
        answer = control.delete(f"/{object_type}/{record['id']}")
        assert answer.json()["deleted_at"] is not None

    for object_type, record in victims.items():
        run = pull_to_end(store, object_type, pull.start(saved[object_type], OVERLAP))
        [tombstone] = run.objects
        assert tombstone.external_id == record["id"] and tombstone.deleted
        assert int(tombstone.version or 0) > record["version"]
        unified = to_unified(object_type, tombstone)
        assert unified.remote_was_deleted
        if isinstance(unified, Location):
            assert not unified.is_active


def test_no_sweep_and_no_separate_tombstones(store: Store) -> None:
    async def go() -> None:
        async with store.client() as http:
            for object_type, spec in pull.OBJECT_TYPES.items():
                assert not spec.hard_deletes
                with pytest.raises(ValueError, match="never hard-deleted"):
                    await pull.sweep_ids(http, object_type)
            since = datetime(2024, 1, 1, tzinfo=UTC)
            assert await pull.fetch_tombstones(http, list(pull.OBJECT_TYPES), since) == []

    asyncio.run(go())


# --- 4. cursors and errors ------------------------------------------------------------


def test_start_and_position() -> None:
    assert pull.start(None, OVERLAP) == {"after": 0}
    assert pull.start({"after": 8_123_456}, OVERLAP) == {"after": 8_123_456}
    assert pull.position({"after": 5}) < pull.position({"after": 10})


def fetch_error(store: Store, object_type: str = "customers") -> ProviderError:
    async def go() -> ProviderError:
        async with store.client() as http:
            with pytest.raises(ProviderError) as caught:
                await pull.fetch_page(http, object_type, pull.start(None, OVERLAP))
            return caught.value

    return asyncio.run(go())


def test_fetch_page_raises_lightspeed_errors(sandbox_url: str, store: Store, connect: Any) -> None:
    expired = fetch_error(Store(store.base_url, "not-a-token"))
    assert (expired.status, expired.message) == (401, "Access token is not valid")

    other_store = fetch_error(Store(f"{sandbox_url}/lightspeed/{BOUTIQUE}/api/2.0", store.token))
    assert (other_store.status, other_store.message) == (
        403,
        "Access token is not valid for this store",
    )

    faults = f"{sandbox_url}/_sandbox/faults"
    rule = {"provider": "lightspeed", "count": 1}
    httpx.post(faults, json=rule | {"kind": "rate_limit", "retry_after_seconds": 3})
    limited = fetch_error(store)
    assert (limited.status, limited.message) == (429, "Too Many Requests")
    assert limited.details == ["Rate limiting enforced"]

    httpx.post(faults, json=rule | {"kind": "error", "status": 503})
    unavailable = fetch_error(store, "sales")
    assert (unavailable.status, unavailable.message) == (503, "Service Unavailable")


def test_raise_for_error_reads_lightspeed_bodies(store: Store) -> None:
    async def go() -> list[httpx.Response]:
        async with store.client() as http:
            return [
                await http.get("/customers", params={"after": "yesterday"}),
                await http.get("/no_such_collection"),
                await http.post("/customers", json={"first_name": "Kai", "email": "not-an-email"}),
                await http.get("/customers", params={"page_size": 1}),
            ]

    bad_after, missing, invalid, fine = asyncio.run(go())
    raise_for_error(fine)

    with pytest.raises(ProviderError) as caught:
        raise_for_error(bad_after)
    assert caught.value.status == 400
    assert caught.value.message == "after must be a non-negative integer version"

    with pytest.raises(ProviderError) as caught:
        raise_for_error(missing)
    assert (caught.value.status, caught.value.message) == (404, "Not found")

    with pytest.raises(ProviderError) as caught:
        raise_for_error(invalid)
    assert (caught.value.status, caught.value.message) == (422, "Validation failed")
    assert caught.value.details == ["email: is not a valid email address"]
    assert caught.value.code is None


def test_raise_for_error_without_a_json_body() -> None:
    request = httpx.Request("GET", "https://sandbox-cafe.retail.lightspeed.app/api/2.0/sales")
    gateway = httpx.Response(502, text="<html>upstream gone</html>", request=request)
    with pytest.raises(ProviderError) as caught:
        raise_for_error(gateway)
    assert (caught.value.status, caught.value.message) == (502, "Bad Gateway")
    assert caught.value.details == ["<html>upstream gone</html>"]
