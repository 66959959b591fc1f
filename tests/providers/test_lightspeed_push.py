"""Writing customers to a Lightspeed store in the sandbox over real HTTP: creates found
again by customer_code rather than made twice, updates, deletes, refusals and errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.providers.lightspeed import pull, push
from ledgerbridge.providers.lightspeed.mapping import to_unified
from ledgerbridge.providers.pulling import ProviderError, RemoteObject
from ledgerbridge.providers.pushing import Action, Pushed, PushRequest
from ledgerbridge.unified import (
    Contact,
    ContactWrite,
    InvoiceWrite,
    LineWrite,
    Model,
    PurchaseOrderWrite,
)

CAFE = "sandbox-cafe"
KEY = "lb-3f2a9c0d4e5b6a7f8091a2b3c4d5e6f7-0"

pytestmark = pytest.mark.sandbox(seed=3, size=40)


@pytest.fixture
def store(sandbox_url: str, connect: Any) -> tuple[str, str]:
    """The store's API base and a token, as ledgerbridge hands them to a provider module."""
    tokens = connect("lightspeed", [CAFE])
    return f"{sandbox_url}/lightspeed/{CAFE}/api/2.0", tokens["access_token"]


@pytest.fixture
def control(sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox_url}/_sandbox/lightspeed/{CAFE}", timeout=30) as c:
        yield c


def client(
    store: tuple[str, str], transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    base_url, token = store
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30, transport=transport)


def execute(
    store: tuple[str, str],
    action: Action,
    body: ContactWrite | None = None,
    *,
    remote_id: str | None = None,
    key: str = KEY,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Pushed:
    async def go() -> Pushed:
        async with client(store, transport) as http:
            return await push.execute(
                http, PushRequest(Model.contact, action, body, remote_id, key)
            )

    return asyncio.run(go())


def customers(control: httpx.Client) -> list[dict[str, Any]]:
    """Every customer in the store, tombstones included, numbers exact."""
    response = control.get("/customers")
    assert response.is_success, response.text
    found: list[dict[str, Any]] = json.loads(response.content, parse_float=Decimal)
    return found


def with_code(control: httpx.Client, code: str) -> list[dict[str, Any]]:
    return [c for c in customers(control) if c["customer_code"].lower() == code.lower()]


def pulled(store: tuple[str, str], pushed: Pushed) -> RemoteObject:
    """The record as the next pull sees it."""

    async def go() -> RemoteObject:
        async with client(store) as http:
            cursor = {"after": int(pushed.version or 0) - 1}
            page = await pull.fetch_page(http, pushed.object_type, cursor)
            return next(obj for obj in page.objects if obj.external_id == pushed.remote_id)

    return asyncio.run(go())


def mapped(pushed: Pushed) -> Contact:
    obj = RemoteObject(
        pushed.remote_id,
        pushed.payload,
        pushed.updated_at,
        pushed.version,
        pushed.payload.get("deleted_at") is not None,
    )
    contact = to_unified(pushed.object_type, obj)
    assert isinstance(contact, Contact)
    return contact


ADA = ContactWrite(name="Ada  King Lovelace", email="ada@example.com", phone="+61 2 5550 1234")


# --- 1. create ---------------------------------------------------------------------------


def test_create_makes_one_customer_that_pull_sees_unchanged(
    store: tuple[str, str], control: httpx.Client
) -> None:
    before = len(customers(control))

    pushed = execute(store, Action.create, ADA)

    assert pushed.object_type == "customers" and pushed.object_type in pull.OBJECT_TYPES
    assert pushed.number == push.customer_code(ADA, KEY)
    assert pushed.number is not None and pushed.number.startswith("lb-")
    [stored] = with_code(control, pushed.number)
    assert len(customers(control)) == before + 1
    assert stored == pushed.payload, "the payload is the store's record, numbers exact"
    assert (stored["first_name"], stored["last_name"]) == ("Ada", "King Lovelace")
    assert stored["balance"] == Decimal("0.0") and isinstance(pushed.payload["balance"], Decimal)
    assert pushed.remote_id == stored["id"] and pushed.version == str(stored["version"])
    assert pushed.updated_at is not None

    contact = mapped(pushed)
    assert (contact.name, contact.email, contact.phone) == (
        "Ada King Lovelace",
        "ada@example.com",
        "+61 2 5550 1234",
    )
    assert contact.remote_id == pushed.remote_id and contact.status == "active"
    again = pulled(store, pushed)
    assert again.payload == pushed.payload and to_unified("customers", again) == contact


def test_create_keeps_the_contacts_own_code(store: tuple[str, str], control: httpx.Client) -> None:
    pushed = execute(store, Action.create, ContactWrite(name="Grace", code="GRACE-001"))

    [stored] = with_code(control, "GRACE-001")
    assert pushed.number == "GRACE-001" and stored["id"] == pushed.remote_id
    assert (stored["first_name"], stored["last_name"]) == ("Grace", None)
    assert mapped(pushed).name == "Grace"


# --- 2. idempotency ----------------------------------------------------------------------


@pytest.mark.parametrize("code", [None, "HOPPER-7"])
def test_create_again_with_the_same_key_finds_the_first(
    store: tuple[str, str], control: httpx.Client, code: str | None
) -> None:
    contact = ContactWrite(name="Grace Hopper", code=code)
    before = len(customers(control))

    first = execute(store, Action.create, contact)
    second = execute(store, Action.create, contact)

    assert second.remote_id == first.remote_id and second.payload == first.payload
    assert len(with_code(control, push.customer_code(contact, KEY))) == 1
    assert len(customers(control)) == before + 1


def test_another_key_makes_another_customer(store: tuple[str, str], control: httpx.Client) -> None:
    first = execute(store, Action.create, ADA, key="operation-1")
    second = execute(store, Action.create, ADA, key="operation-2")

    assert first.remote_id != second.remote_id and first.number != second.number


class AnswerLostOnce(httpx.AsyncBaseTransport):
    """The network loses the answer to the first create, so the request is sent again."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lost = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and not self.lost:
            self.lost = True
            lost = await self.inner.handle_async_request(request)
            await lost.aread()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_create_sent_twice_still_makes_one_customer(
    store: tuple[str, str], control: httpx.Client, sandbox: httpx.Client
) -> None:
    sandbox.delete("/_sandbox/ledger").raise_for_status()

    pushed = execute(store, Action.create, ADA, transport=AnswerLostOnce())

    assert pushed.number is not None
    [stored] = with_code(control, pushed.number)
    assert stored == pushed.payload
    calls = sandbox.get("/_sandbox/ledger", params={"provider": "lightspeed"}).json()["entries"]
    assert [(c["method"], c["path"].rsplit("/", 1)[-1], c["status"]) for c in calls] == [
        ("GET", "search", 200),
        ("POST", "customers", 201),
        ("POST", "customers", 422),  # "customer_code has already been taken"
        ("GET", "search", 200),
    ]


def test_a_live_customer_with_the_code_is_returned_as_it_is(
    store: tuple[str, str], control: httpx.Client
) -> None:
    existing = control.post("/customers", json={"company_name": "Cafe Co", "customer_code": "CC1"})
    assert existing.is_success, existing.text

    pushed = execute(store, Action.create, ContactWrite(name="Someone Else", code="cc1"))

    assert pushed.remote_id == existing.json()["id"] and len(with_code(control, "CC1")) == 1


# --- 3. update and delete ----------------------------------------------------------------


def test_update_changes_the_customer(store: tuple[str, str], control: httpx.Client) -> None:
    created = execute(store, Action.create, ADA)
    change = ContactWrite(name="Ada Byron", email="countess@example.com", code="ADA-1")

    updated = execute(store, Action.update, change, remote_id=created.remote_id)
    replayed = execute(store, Action.update, change, remote_id=created.remote_id)

    [stored] = [c for c in customers(control) if c["id"] == created.remote_id]
    assert stored == replayed.payload
    assert (stored["first_name"], stored["last_name"]) == ("Ada", "Byron")
    assert stored["email"] == "countess@example.com"
    assert stored["phone"] == "+61 2 5550 1234", "a field left out is kept"
    assert updated.number == "ADA-1" and stored["customer_code"] == "ADA-1"
    assert int(updated.version or 0) > int(created.version or 0)
    assert mapped(updated).name == "Ada Byron"
    assert pulled(store, replayed).payload == replayed.payload


def test_void_deletes_the_customer_once(store: tuple[str, str], control: httpx.Client) -> None:
    created = execute(store, Action.create, ADA)

    voided = execute(store, Action.void, remote_id=created.remote_id)
    again = execute(store, Action.void, remote_id=created.remote_id)

    [stored] = [c for c in customers(control) if c["id"] == created.remote_id]
    assert stored["deleted_at"] is not None and stored == voided.payload == again.payload
    assert mapped(voided).status == "archived" and mapped(voided).remote_was_deleted
    tombstone = pulled(store, voided)
    assert tombstone.deleted and tombstone.payload == voided.payload


# --- 4. provider errors ------------------------------------------------------------------


def test_a_refused_create_raises_lightspeeds_reasons_and_creates_nothing(
    store: tuple[str, str], control: httpx.Client
) -> None:
    before = customers(control)

    with pytest.raises(ProviderError) as raised:
        execute(store, Action.create, ContactWrite(name="Bad Email", email="not-an-address"))

    assert raised.value.status == 422
    assert raised.value.message == "Validation failed"
    assert "email: is not a valid email address" in raised.value.details
    assert customers(control) == before


@pytest.mark.parametrize("action", [Action.update, Action.void])
def test_an_unknown_customer_is_not_found(
    store: tuple[str, str], control: httpx.Client, action: Action
) -> None:
    before = customers(control)
    body = ADA if action is Action.update else None

    with pytest.raises(ProviderError) as raised:
        execute(store, action, body, remote_id="00000000-0000-0000-0000-000000000000")

    assert raised.value.status == 404 and raised.value.message == "Not found"
    assert customers(control) == before


# --- 5. what Lightspeed cannot take ------------------------------------------------------

LINE = LineWrite(description="Flat white", unit_amount=Decimal("4.50"))
INVOICE = InvoiceWrite(
    contact_remote_id="c-1", issue_date="2024-05-01", currency="AUD", lines=[LINE]
)
ORDER = PurchaseOrderWrite(
    contact_remote_id="s-1", issue_date="2024-05-01", currency="AUD", lines=[LINE]
)


def test_capabilities_are_customers_only() -> None:
    assert {Model.contact: frozenset(Action)} == push.CAPABILITIES


@pytest.mark.parametrize(
    ("model", "body"), [(Model.invoice, INVOICE), (Model.purchase_order, ORDER)]
)
@pytest.mark.parametrize("action", list(Action))
def test_invoices_and_orders_are_refused(
    model: Model, body: InvoiceWrite | PurchaseOrderWrite, action: Action
) -> None:
    [reason] = push.problems(model, action, body)
    assert "Lightspeed" in reason


@pytest.mark.parametrize(
    ("contact", "field"),
    [
        (ContactWrite(name="Supplies Ltd", is_customer=False, is_supplier=True), "is_supplier"),
        (ContactWrite(name="Both Ltd", is_supplier=True), "is_supplier"),
        (ContactWrite(name="Taxed Ltd", tax_number="51 824 753 556"), "tax_number"),
        (ContactWrite(name="Abroad Ltd", currency="NZD"), "currency"),
    ],
)
def test_contact_fields_lightspeed_has_no_place_for_are_refused(
    contact: ContactWrite, field: str
) -> None:
    for action in (Action.create, Action.update):
        [reason] = push.problems(Model.contact, action, contact)
        assert field in reason


def test_a_plain_contact_and_a_void_pass() -> None:
    assert push.problems(Model.contact, Action.create, ADA) == []
    assert push.problems(Model.contact, Action.update, ADA) == []
    assert push.problems(Model.contact, Action.void, None) == []
    assert push.problems(Model.contact, Action.create, None) != []


def test_a_refused_write_makes_no_call(store: tuple[str, str], sandbox: httpx.Client) -> None:
    sandbox.delete("/_sandbox/ledger").raise_for_status()

    async def go() -> None:
        async with client(store) as http:
            await push.execute(http, PushRequest(Model.invoice, Action.create, INVOICE, None, KEY))

    with pytest.raises(ValueError, match="read-only"):
        asyncio.run(go())
    assert sandbox.get("/_sandbox/ledger", params={"provider": "lightspeed"}).json()["count"] == 0
