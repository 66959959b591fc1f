"""The Lightspeed X-Series emulator over real HTTP: paging, incremental sync, writes, errors.

Responses are also checked against the published OpenAPI description of API 2.0
(``../shared/specs/lightspeed-xseries-api-2.0.json``); those checks skip when it is absent.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import httpx
import pytest

from ledgerbridge.sandbox.lightspeed import OBJECT_TYPES

from .helpers import needs_specs

CAFE, BOUTIQUE = "sandbox-cafe", "sandbox-boutique"

# The real rate limits stay on: 300 x registers + 50 requests per 5 minutes is plenty here.
pytestmark = pytest.mark.sandbox(seed=5, size=60)

# The response schema of each collection in the OpenAPI description.
COLLECTION_SCHEMAS = {
    "customers": "CustomerCollection",
    "products": "ProductCollection",
    "sales": "SaleCollection",
    "outlets": "OutletCollection",
    "registers": "RegisterCollection",
    "taxes": "TaxCollection",
    "payment_types": "PaymentTypeCollection",
    "inventory": "InventoryCollection",
}
SINGLE_SCHEMAS = {
    "customers": "CustomerResponse",
    "products": "ProductResponse",
    "sales": "SaleResponse",
    "outlets": "OutletResponse",
}

Connect = Callable[..., dict[str, Any]]


def store_client(sandbox_url: str, connect: Connect, domain_prefix: str) -> httpx.Client:
    """A client of one store's API 2.0, with a token from the OAuth code flow."""
    tokens = connect("lightspeed", [domain_prefix])
    assert tokens["redirect"]["domain_prefix"] == tokens["domain_prefix"] == domain_prefix
    return httpx.Client(
        base_url=f"{sandbox_url}/lightspeed/{domain_prefix}/api/2.0",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=30,
    )


@pytest.fixture
def cafe(sandbox_url: str, connect: Connect) -> Iterator[httpx.Client]:
    with store_client(sandbox_url, connect, CAFE) as client:
        yield client


@pytest.fixture
def control(sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox_url}/_sandbox/lightspeed/{CAFE}", timeout=30) as c:
        yield c


def page_to_end(
    api: httpx.Client, collection: str, after: int = 0, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every record after ``after``, page by page; and the cursor to resume from."""
    records: list[dict[str, Any]] = []
    while True:
        answer = api.get(f"/{collection}", params={"after": after, **params})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        if not body["data"]:
            assert "version" not in body
            return records, after
        versions = [record["version"] for record in body["data"]]
        assert versions == sorted(versions) and versions[0] > after
        assert body["version"] == {"min": versions[0], "max": versions[-1]}
        records.extend(body["data"])
        after = body["version"]["max"]


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


# --- paging and incremental sync ------------------------------------------------------


@pytest.mark.parametrize("collection", OBJECT_TYPES)
def test_every_collection_pages_to_the_end(
    cafe: httpx.Client, control: httpx.Client, collection: str
) -> None:
    everything = control.get(f"/{collection}").json()
    live = [r for r in everything if r.get("deleted_at") is None]

    listed, _ = page_to_end(cafe, collection, page_size=7)
    with_deleted, _ = page_to_end(cafe, collection, page_size=7, deleted="true")

    assert sorted(r["id"] for r in listed) == sorted(r["id"] for r in live)
    assert sorted(r["id"] for r in with_deleted) == sorted(r["id"] for r in everything)
    if collection in ("customers", "products"):
        assert len(with_deleted) > len(listed), "the seed soft-deletes some records"


def test_a_closed_outlet_is_listed_only_with_deleted(sandbox_url: str, connect: Connect) -> None:
    with store_client(sandbox_url, connect, BOUTIQUE) as boutique:
        open_outlets = boutique.get("/outlets").json()["data"]
        every_outlet = boutique.get("/outlets", params={"deleted": "true"}).json()["data"]
    closed = [outlet for outlet in every_outlet if outlet["deleted_at"]]
    assert len(closed) == 1 and len(open_outlets) == len(every_outlet) - 1
    assert len({outlet["time_zone"] for outlet in every_outlet}) == len(every_outlet)


def test_incremental_list_sees_exactly_the_changes(
    cafe: httpx.Client, control: httpx.Client
) -> None:
    _, customers_cursor = page_to_end(cafe, "customers", page_size=1000, deleted="true")
    _, sales_cursor = page_to_end(cafe, "sales", page_size=1000)
    live = [c for c in control.get("/customers").json() if c["deleted_at"] is None]
    changed, removed = live[1], live[2]

    created = control.post("/customers", json={"first_name": "Søren", "last_name": "Ngata"})
    assert created.status_code == 201, created.text
    updated = control.patch(f"/customers/{changed['id']}", json={"email": "new@example.com"})
    assert updated.status_code == 200, updated.text
    deleted = control.delete(f"/customers/{removed['id']}")
    assert deleted.status_code == 200 and deleted.json()["deleted_at"] is not None
    sale = next(s for s in control.get("/sales").json() if s["status"] == "CLOSED")
    voided = control.delete(f"/sales/{sale['id']}").json()
    assert voided["status"] == "VOIDED"

    seen, cursor = page_to_end(cafe, "customers", after=customers_cursor, deleted="true")
    assert [c["id"] for c in seen] == [created.json()["id"], changed["id"], removed["id"]]
    assert seen[1]["email"] == "new@example.com"
    assert seen[2]["deleted_at"] is not None
    assert cursor == seen[-1]["version"]

    without_tombstones, _ = page_to_end(cafe, "customers", after=customers_cursor)
    assert [c["id"] for c in without_tombstones] == [created.json()["id"], changed["id"]]

    sales, _ = page_to_end(cafe, "sales", after=sales_cursor)
    assert [(s["id"], s["status"]) for s in sales] == [(sale["id"], "VOIDED")]
    assert page_to_end(cafe, "customers", after=cursor, deleted="true")[0] == []


def test_versions_are_one_counter_per_store(cafe: httpx.Client, control: httpx.Client) -> None:
    customer = control.post("/customers", json={"first_name": "Ana"}).json()
    product = control.post("/products", json={"name": "Piccolo Latte"}).json()
    outlet_id = control.get("/outlets").json()[0]["id"]
    outlet = control.patch(f"/outlets/{outlet_id}", json={"email": "bondi@example.com"}).json()
    assert customer["version"] < product["version"] < outlet["version"]


def test_forced_stamp_lets_two_records_share_a_version(
    cafe: httpx.Client, control: httpx.Client
) -> None:
    first = control.post("/customers", json={"first_name": "Yuki"}).json()
    second = control.post(
        "/customers", json={"first_name": "Mei", "_stamp": first["version"]}
    ).json()
    assert second["version"] == first["version"]
    assert "_stamp" not in second
    listed = cafe.get("/customers", params={"after": first["version"] - 1}).json()["data"]
    assert {first["id"], second["id"]} <= {c["id"] for c in listed}


def test_before_bounds_a_page_and_page_size_is_capped(cafe: httpx.Client) -> None:
    first = cafe.get("/customers", params={"page_size": 5}).json()
    assert len(first["data"]) == 5
    bounded = cafe.get("/customers", params={"before": first["data"][3]["version"]}).json()
    assert [c["id"] for c in bounded["data"]] == [c["id"] for c in first["data"][:3]]
    huge = cafe.get("/customers", params={"page_size": 5000}).json()
    assert len(huge["data"]) <= 1000
    assert cafe.get("/customers").json()["data"][:5] == first["data"]


# --- reading single records -----------------------------------------------------------


def test_single_records_and_the_retailer(cafe: httpx.Client) -> None:
    for collection in SINGLE_SCHEMAS:
        record = cafe.get(f"/{collection}", params={"page_size": 1}).json()["data"][0]
        single = cafe.get(f"/{collection}/{record['id']}")
        assert single.status_code == 200
        assert single.json() == {"data": record}
    retailer = cafe.get("/retailer").json()["data"]
    assert retailer["domain_prefix"] == CAFE
    assert retailer["currency"]["code"] == "AUD"


def test_seeded_sales_carry_tax_and_split_payments(cafe: httpx.Client) -> None:
    sales, _ = page_to_end(cafe, "sales", page_size=1000)
    statuses = {sale["status"] for sale in sales}
    assert {"CLOSED", "VOIDED"} <= statuses
    for sale in sales:
        assert round(sum(line["price_total"] for line in sale["line_items"]), 2) == pytest.approx(
            sale["total_price"]
        )
        if sale["status"] == "CLOSED":
            paid = sum(payment["amount"] for payment in sale["payments"])
            assert paid == pytest.approx(sale["total_price"] + sale["total_tax"], abs=0.011)
    assert any(len(sale["payments"]) > 1 for sale in sales)
    assert any(len(sale["line_items"]) > 1 for sale in sales)


# --- writes ---------------------------------------------------------------------------


def test_customer_create_update_delete(cafe: httpx.Client) -> None:
    code = unique("Zoë")
    created = cafe.post(
        "/customers",
        json={"first_name": "Zoë", "last_name": "Łukasiewicz", "customer_code": code},
    )
    assert created.status_code == 201, created.text
    customer = created.json()["data"]
    assert customer["customer_code"] == code and customer["name"] == "Zoë Łukasiewicz"

    updated = cafe.put(f"/customers/{customer['id']}", json={"company_name": "Café Société"})
    assert updated.status_code == 200
    assert updated.json()["data"]["version"] > customer["version"]
    assert updated.json()["data"]["first_name"] == "Zoë"

    assert cafe.delete(f"/customers/{customer['id']}").status_code == 204
    tombstone = cafe.get(f"/customers/{customer['id']}").json()["data"]
    assert tombstone["deleted_at"] is not None
    assert cafe.put(f"/customers/{customer['id']}", json={"note": "x"}).status_code == 404
    assert cafe.delete(f"/customers/{customer['id']}").status_code == 404


def test_repeated_post_creates_a_duplicate_so_clients_look_up_first(cafe: httpx.Client) -> None:
    body = {"first_name": "Inès", "last_name": "Lefèvre", "email": "ines@example.com"}
    first = cafe.post("/customers", json=body).json()["data"]
    second = cafe.post("/customers", json=body).json()["data"]
    assert first["id"] != second["id"]
    assert first["customer_code"] != second["customer_code"]

    code = unique("Ines")
    created = cafe.post("/customers", json={**body, "customer_code": code}).json()["data"]
    found = cafe.get("/search", params={"type": "customers", "customer_code": code}).json()
    assert [c["id"] for c in found["data"]] == [created["id"]]
    again = cafe.post("/customers", json={**body, "customer_code": code})
    assert again.status_code == 422
    assert again.json() == {
        "error": "Validation failed",
        "details": {"customer_code": "has already been taken"},
    }


def test_product_create_and_lookup_by_sku(cafe: httpx.Client) -> None:
    sku = unique("sku").upper()
    created = cafe.post(
        "/products", json={"name": "Crème Brûlée Tart", "sku": sku, "price_including_tax": 8.8}
    )
    assert created.status_code == 200, created.text
    (product_id,) = created.json()["data"]
    product = cafe.get(f"/products/{product_id}").json()["data"]
    assert product["price_excluding_tax"] == pytest.approx(8.0)
    found = cafe.get("/search", params={"type": "products", "sku": sku.lower()}).json()["data"]
    assert [p["id"] for p in found] == [product_id]
    assert cafe.post("/products", json={"name": "Copy", "sku": sku}).status_code == 422
    assert cafe.delete(f"/products/{product_id}").status_code == 200
    assert cafe.get("/search", params={"type": "products", "sku": sku}).json()["data"] == []


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/customers", {"email": "ines@example.com"}, "first_name"),
        ("/customers", {"first_name": "Ana", "email": "not-an-address"}, "email"),
        ("/customers", {"first_name": 42}, "first_name"),
        ("/customers", {"first_name": "Ana", "date_of_birth": "31/12/1990"}, "date_of_birth"),
        ("/customers", {"first_name": "Ana", "customer_code": " "}, "customer_code"),
        ("/products", {"sku": "X1"}, "name"),
        ("/products", {"name": "Tart", "price_excluding_tax": "free"}, "price_excluding_tax"),
        (
            "/products",
            {"name": "Tart", "price_including_tax": 5, "price_excluding_tax": 4},
            "price_including_tax",
        ),
    ],
)
def test_invalid_bodies_are_422(
    cafe: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    answer = cafe.post(path, json=body)
    assert answer.status_code == 422
    assert answer.json()["error"] == "Validation failed"
    assert field in answer.json()["details"]


def test_a_body_that_is_not_an_object_is_422(cafe: httpx.Client) -> None:
    answer = cafe.post("/customers", json=["Ana"])
    assert answer.status_code == 422
    assert answer.json()["error"] == "Validation failed"


def test_sales_are_read_only(cafe: httpx.Client) -> None:
    assert cafe.post("/sales", json={"status": "CLOSED"}).status_code == 405


# --- errors ---------------------------------------------------------------------------


def test_error_bodies(sandbox_url: str, cafe: httpx.Client) -> None:
    base = f"{sandbox_url}/lightspeed/{CAFE}/api/2.0"
    missing = httpx.get(f"{base}/customers")
    assert missing.status_code == 401
    assert missing.json() == {"error": "Access token is not valid"}
    wrong = httpx.get(f"{base}/customers", headers={"Authorization": "Bearer not-a-token"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "Access token is not valid"})

    other_store = cafe.get(f"{sandbox_url}/lightspeed/{BOUTIQUE}/api/2.0/customers")
    assert other_store.status_code == 403
    assert set(other_store.json()) == {"error"}

    assert cafe.get("/customers/00000000-0000-0000-0000-000000000000").json() == {
        "error": "Not found"
    }
    assert cafe.get("/customers/00000000-0000-0000-0000-000000000000").status_code == 404
    assert cafe.get("/gift_cards").status_code == 404
    assert cafe.get("/customers", params={"after": ""}).json()["data"]
    bad = cafe.get("/customers", params={"after": "yesterday"})
    assert bad.status_code == 400 and "after" in bad.json()["error"]


def test_revoked_and_expired_tokens_are_refused(sandbox_url: str, connect: Connect) -> None:
    with store_client(sandbox_url, connect, BOUTIQUE) as boutique:
        assert boutique.get("/outlets").status_code == 200
        token = boutique.headers["Authorization"].removeprefix("Bearer ")
        revoked = httpx.post(
            f"{sandbox_url}/_sandbox/grants/revoke",
            json={"provider": "lightspeed", "token": token},
        )
        assert revoked.json() == {"revoked": 1}
        refused = boutique.get("/outlets")
        assert (refused.status_code, refused.json()) == (
            401,
            {"error": "Access token is not valid"},
        )

    with store_client(sandbox_url, connect, BOUTIQUE) as boutique:
        assert boutique.get("/outlets").status_code == 200
        lifetime = httpx.get(f"{sandbox_url}/_sandbox/settings").json()
        seconds = lifetime["lightspeed_access_token_seconds"]
        httpx.post(f"{sandbox_url}/_sandbox/clock", json={"advance_seconds": seconds + 1})
        expired = boutique.get("/outlets")
        assert (expired.status_code, expired.json()) == (
            401,
            {"error": "Access token is not valid"},
        )


def test_control_api_refuses_unknown_records_and_bad_bodies(control: httpx.Client) -> None:
    assert control.patch("/customers/nope", json={"note": "x"}).status_code == 404
    assert control.delete("/customers/nope").status_code == 404
    assert control.post("/customers", json={"first_name": ["Ana"]}).status_code == 422
    assert control.post("/sales", json={"status": "LOST"}).status_code == 422


# --- fidelity to the published OpenAPI description ------------------------------------


def _spec() -> dict[str, Any]:
    return _read_spec(str(needs_specs() / "lightspeed-xseries-api-2.0.json"))


@cache
def _read_spec(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as file:
        spec: dict[str, Any] = json.load(file)
    return spec


def assert_matches_schema(payload: Any, schema_name: str) -> None:
    from openapi_schema_validator import OAS30Validator

    spec = _spec()
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    errors = sorted(OAS30Validator(schema).iter_errors(payload), key=str)
    assert not errors, f"{schema_name}: {errors[0].message} at {list(errors[0].absolute_path)}"


@pytest.mark.shared
@pytest.mark.parametrize("collection", OBJECT_TYPES)
def test_lists_match_the_openapi_description(cafe: httpx.Client, collection: str) -> None:
    _spec()
    for deleted in ("false", "true"):
        page = cafe.get(f"/{collection}", params={"page_size": 200, "deleted": deleted})
        assert_matches_schema(page.json(), COLLECTION_SCHEMAS[collection])


@pytest.mark.shared
def test_single_records_and_writes_match_the_openapi_description(cafe: httpx.Client) -> None:
    _spec()
    for collection, schema in SINGLE_SCHEMAS.items():
        for record in cafe.get(f"/{collection}", params={"page_size": 50}).json()["data"]:
            assert_matches_schema(cafe.get(f"/{collection}/{record['id']}").json(), schema)
    assert_matches_schema(cafe.get("/retailer").json(), "RetailerResponse")
    created = cafe.post("/customers", json={"first_name": "Dũng", "last_name": "Nguyễn"})
    assert_matches_schema(created.json(), "CustomerResponse")
    found = cafe.get("/search", params={"type": "sales", "status": "VOIDED"}).json()
    assert_matches_schema(found, "SearchResponse")
    for sale in found["data"]:
        assert_matches_schema({"data": sale}, "SaleResponse")
