"""Pulling a QuickBooks company from the sandbox over real HTTP: backfill, incremental runs,
records sharing one second across a page boundary, change-data-capture stubs,
deactivation, and QuickBooks' Fault answers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from ledgerbridge.providers.pulling import Cursor, FetchedPage, ProviderError, RemoteObject
from ledgerbridge.providers.quickbooks import pull
from ledgerbridge.providers.quickbooks.errors import raise_for_error
from ledgerbridge.providers.quickbooks.mapping import to_unified
from ledgerbridge.unified import Contact, Invoice, Item, Payment, PurchaseOrder

REALM = "9341453000000001"
OVERLAP = timedelta(seconds=5)
TYPES = list(pull.OBJECT_TYPES)
TRANSACTIONS = ["Invoice", "Bill", "Payment", "PurchaseOrder"]

pytestmark = pytest.mark.sandbox(seed=5, size=30, settings={"rate_limits": False})


@dataclass(frozen=True)
class Company:
    """What ledgerbridge hands a pull module: the API base of one realm and a token."""

    base_url: str
    token: str

    def client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)


@dataclass(frozen=True)
class Run:
    objects: list[RemoteObject]
    cursor: Cursor
    requests: int

    def latest(self) -> dict[str, RemoteObject]:
        return {obj.external_id: obj for obj in self.objects}


def connected(sandbox_url: str, connect: Any) -> Company:
    """Through the OAuth code flow, as ledgerbridge connects a company."""
    tokens = connect("quickbooks", [REALM])
    return Company(f"{sandbox_url}/quickbooks/v3/company/{REALM}", tokens["access_token"])


def control_client(sandbox_url: str) -> httpx.Client:
    """The sandbox's control API for the company: records as its user sees them."""
    return httpx.Client(base_url=f"{sandbox_url}/_sandbox/quickbooks/{REALM}", timeout=30)


@pytest.fixture
def company(sandbox_url: str, connect: Any) -> Company:
    return connected(sandbox_url, connect)


@pytest.fixture
def control(sandbox_url: str) -> Iterator[httpx.Client]:
    with control_client(sandbox_url) as client:
        yield client


def exact(response: httpx.Response) -> Any:
    """A JSON answer with every fractional number as ``Decimal``, as QuickBooks wrote it."""
    assert response.is_success, response.text
    return json.loads(response.content, parse_float=Decimal)


def listing(control: httpx.Client, object_type: str) -> dict[str, dict[str, Any]]:
    """Every record the sandbox holds (deleted transactions are gone from it)."""
    return {record["Id"]: record for record in exact(control.get(f"/{object_type}"))}


async def pull_run(
    http: httpx.AsyncClient, object_type: str, cursor: Cursor, page_size: int | None = None
) -> Run:
    """Page until done, checking that the cursor's position never moves back."""
    objects: list[RemoteObject] = []
    requests = 0
    while True:
        page = await pull.fetch_page(http, object_type, cursor, page_size=page_size)
        requests += 1
        assert pull.position(page.cursor) >= pull.position(cursor)
        cursor = page.cursor
        objects.extend(page.objects)
        if page.done:
            return Run(objects, cursor, requests)
        assert requests < 1000, "the run never ends"


def runs(
    company: Company,
    cursors: Mapping[str, Cursor | None],
    page_size: int | None = None,
    overlap: timedelta = OVERLAP,
) -> dict[str, Run]:
    """One run per object type, each from ``start(saved, overlap)``."""

    async def go() -> dict[str, Run]:
        async with company.client() as http:
            return {
                object_type: await pull_run(
                    http, object_type, pull.start(saved, overlap), page_size
                )
                for object_type, saved in cursors.items()
            }

    return asyncio.run(go())


def backfill(
    company: Company, object_types: Iterable[str] = TYPES, page_size: int | None = None
) -> dict[str, Run]:
    return runs(company, dict.fromkeys(object_types), page_size)


def tombstones(
    company: Company, object_types: list[str], since: datetime
) -> list[tuple[str, RemoteObject]]:
    async def go() -> list[tuple[str, RemoteObject]]:
        async with company.client() as http:
            return await pull.fetch_tombstones(http, object_types, since)

    return asyncio.run(go())


def provider_error(awaitable: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        asyncio.run(awaitable)
    return caught.value


def ledger_count(sandbox_url: str, path: str) -> int:
    answer = httpx.get(
        f"{sandbox_url}/_sandbox/ledger",
        params={"provider": "quickbooks", "path_prefix": f"/quickbooks/v3/company/{REALM}/{path}"},
    )
    count: int = answer.json()["count"]
    return count


def active_ids(records: dict[str, dict[str, Any]]) -> list[str]:
    return [rid for rid, record in records.items() if record.get("Active", True)]


def unpaid_ids(records: dict[str, dict[str, Any]]) -> list[str]:
    return [rid for rid, r in records.items() if not r.get("LinkedTxn") and r["TotalAmt"]]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


# --- backfill ------------------------------------------------------------------------


def test_backfill_lists_every_record_of_every_type_with_its_tombstones(
    company: Company, control: httpx.Client
) -> None:
    pulled = backfill(company, page_size=7)

    for object_type, run in pulled.items():
        held = listing(control, object_type)
        latest = run.latest()
        assert set(latest) == set(held), object_type  # nothing missing, nothing extra
        assert run.requests >= len(held) // 7
        for record_id, obj in latest.items():
            assert obj.payload == held[record_id]  # unmodified, money exact
            assert obj.version == held[record_id]["SyncToken"]
            stamp = pull.parse_time(held[record_id]["MetaData"]["LastUpdatedTime"])
            assert obj.updated_at == stamp
        first_seen: dict[str, RemoteObject] = {}  # a tie group is read twice
        for obj in run.objects:
            first_seen.setdefault(obj.external_id, obj)
        stamps = [
            pull.parse_time(o.payload["MetaData"]["LastUpdatedTime"]) for o in first_seen.values()
        ]
        assert stamps == sorted(stamps), "objects come in change order"
        inactive = {rid for rid, record in held.items() if record.get("Active") is False}
        assert {rid for rid, obj in latest.items() if obj.deleted} == inactive
        if object_type in pull.NAME_LISTS:
            assert inactive, f"the seed deactivates some {object_type}"


def test_accounts_sharing_one_second_across_pages_are_all_read(
    company: Company, control: httpx.Client
) -> None:
    held = listing(control, "Account")
    seconds = [r["MetaData"]["LastUpdatedTime"] for r in held.values()]
    shared = max(seconds.count(s) for s in seconds)
    assert shared > 3 * 2  # the chart of accounts was set up in one second

    run = backfill(company, ["Account"], page_size=2)["Account"]

    assert set(run.latest()) == set(held)
    # A shared second is paged and read whole twice (two reads must agree), no more.
    assert run.requests <= 2 * (len(held) // 2 + 2) + 3


def test_records_that_change_while_a_run_pages_are_not_missed(
    company: Company, control: httpx.Client
) -> None:
    async def first_page() -> FetchedPage:
        async with company.client() as http:
            return await pull.fetch_page(http, "Customer", pull.start(None, OVERLAP), page_size=5)

    async def rest(cursor: Cursor) -> Run:
        async with company.client() as http:
            return await pull_run(http, "Customer", cursor, page_size=5)

    first = asyncio.run(first_page())
    read, unread = first.objects[0].external_id, list(listing(control, "Customer"))[-1]
    control.patch(f"/Customer/{read}", json={"Notes": "changed after it was read"})
    control.patch(f"/Customer/{unread}", json={"Notes": "changed before it was read"})
    control.post("/Customer", json={"DisplayName": "Arrived Mid-Run Ltd"})
    later = asyncio.run(rest(first.cursor))
    run = Run(first.objects + later.objects, later.cursor, later.requests + 1)
    held = listing(control, "Customer")

    assert set(run.latest()) == set(held)
    assert {rid: o.version for rid, o in run.latest().items()} == {
        rid: r["SyncToken"] for rid, r in held.items()
    }


# --- incremental ---------------------------------------------------------------------


def test_incremental_run_sees_exactly_the_changes_then_costs_one_request_per_type(
    company: Company, control: httpx.Client, sandbox_url: str
) -> None:
    saved = {object_type: run.cursor for object_type, run in backfill(company).items()}
    since = datetime.now(UTC)
    customers, invoices = listing(control, "Customer"), listing(control, "Invoice")
    vendors, items = active_ids(listing(control, "Vendor")), active_ids(listing(control, "Item"))
    updated_customer, archived_customer = active_ids(customers)[:2]
    updated_invoice, deleted_invoice = unpaid_ids(invoices)[:2]

    created_customer = control.post("/Customer", json={"DisplayName": "Ngā Manu Traders"}).json()
    control.patch(f"/Customer/{updated_customer}", json={"CompanyName": "Renamed Ltd"})
    control.delete(f"/Customer/{archived_customer}")
    new_invoice = {
        "CustomerRef": {"value": updated_customer},
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": items[0]},
                    "Qty": 3,
                    "UnitPrice": 19.99,
                },
            }
        ],
    }
    created_invoice = control.post("/Invoice", json=new_invoice).json()
    control.patch(f"/Invoice/{updated_invoice}", json={"PrivateNote": "chased by phone"})
    assert control.delete(f"/Invoice/{deleted_invoice}").json()["status"] == "Deleted"
    # Three vendors changed in one second, after a fourth: with pages of two, that second
    # straddles a page boundary whatever the overlap re-reads.
    control.patch(f"/Vendor/{vendors[0]}", json={"AcctNum": "X-1"})
    shared = now_ms() + 2000
    for vendor in vendors[1:4]:
        control.patch(f"/Vendor/{vendor}", json={"AcctNum": "SHARED", "_stamp": shared})

    changed = {
        "Customer": {created_customer["Id"], updated_customer, archived_customer},
        "Invoice": {created_invoice["Id"], updated_invoice},
        "Vendor": set(vendors[:4]),
    }
    pulled = runs(company, saved, page_size=2)

    for object_type, run in pulled.items():
        seen = run.latest()
        expected = changed.get(object_type, set())
        assert expected <= set(seen), object_type
        since_overlap = pull.parse_time(saved[object_type]["high_water"]) - OVERLAP
        for record_id in set(seen) - expected:  # re-reads: only inside the overlap
            updated_at = seen[record_id].updated_at
            assert updated_at is not None and updated_at >= since_overlap, (object_type, record_id)
        held = listing(control, object_type)
        for record_id in expected & set(held):
            assert seen[record_id].payload == held[record_id]
    assert pulled["Customer"].latest()[archived_customer].deleted
    assert deleted_invoice not in pulled["Invoice"].latest()
    assert [(t, o.external_id) for t, o in tombstones(company, TRANSACTIONS, since)] == [
        ("Invoice", deleted_invoice)
    ]

    httpx.delete(f"{sandbox_url}/_sandbox/ledger")
    quiet = runs(company, {t: run.cursor for t, run in pulled.items()})
    assert ledger_count(sandbox_url, "query") == len(TYPES)
    assert all(run.requests == 1 for run in quiet.values())
    for object_type, run in quiet.items():
        assert pull.position(run.cursor) >= pull.position(pulled[object_type].cursor)


def test_start_applies_the_overlap_once_and_keeps_the_position() -> None:
    saved = {
        "since": "2024-06-01T10:00:07-07:00",
        "position": 3,
        "high_water": "2024-06-01T10:00:07-07:00",
    }

    resumed = pull.start(saved, timedelta(seconds=10))

    assert resumed == {
        "since": "2024-06-01T09:59:57-07:00",
        "position": 1,
        "high_water": "2024-06-01T10:00:07-07:00",
    }
    assert pull.position(resumed) == pull.position(saved)
    assert pull.start(None, OVERLAP) == {"since": None, "position": 1, "high_water": None}
    assert pull.position(pull.start(None, OVERLAP)) < pull.position(saved)


# --- deletions -----------------------------------------------------------------------


def test_deleted_transactions_come_from_cdc_stubs_and_name_lists_are_deactivated(
    company: Company, control: httpx.Client
) -> None:
    since = datetime.now(UTC)
    deleted = {
        "Invoice": unpaid_ids(listing(control, "Invoice"))[0],
        "Bill": next(iter(listing(control, "Bill"))),
        "Payment": next(iter(listing(control, "Payment"))),
        "PurchaseOrder": next(iter(listing(control, "PurchaseOrder"))),
    }
    for object_type, record_id in deleted.items():
        control.delete(f"/{object_type}/{record_id}")
    vendor = active_ids(listing(control, "Vendor"))[0]
    item = active_ids(listing(control, "Item"))[0]
    control.delete(f"/Vendor/{vendor}")
    control.delete(f"/Item/{item}")

    found = tombstones(company, TYPES, since)

    assert {(t, o.external_id) for t, o in found} == set(deleted.items())
    for object_type, obj in found:
        assert obj.deleted and obj.payload["status"] == "Deleted"
        assert obj.updated_at is not None and obj.updated_at >= since.replace(microsecond=0)
        unified = to_unified(object_type, obj)
        assert unified.remote_was_deleted and unified.remote_id == obj.external_id
        assert isinstance(unified, Invoice | Payment | PurchaseOrder)
        assert unified.status == "deleted"
    assert tombstones(company, ["Customer", "Vendor"], since) == []

    pulled = backfill(company, ["Vendor", "Item"])
    archived = pulled["Vendor"].latest()[vendor]
    assert archived.deleted
    contact = to_unified("Vendor", archived)
    assert isinstance(contact, Contact) and contact.status == "archived"
    assert not contact.name.endswith("(deleted)")
    gone = to_unified("Item", pulled["Item"].latest()[item])
    assert isinstance(gone, Item) and not gone.is_active and gone.remote_was_deleted

    control.patch(f"/Vendor/{vendor}", json={"Active": True})
    revived = runs(company, {"Vendor": pulled["Vendor"].cursor})["Vendor"].latest()[vendor]
    assert not revived.deleted
    contact = to_unified("Vendor", revived)
    assert isinstance(contact, Contact) and contact.status == "active"


def test_a_voided_invoice_is_listed_not_deleted(company: Company, control: httpx.Client) -> None:
    invoice_id = unpaid_ids(listing(control, "Invoice"))[0]
    token = listing(control, "Invoice")[invoice_id]["SyncToken"]

    async def void() -> None:
        async with company.client() as http:
            answer = await http.post(
                "invoice",
                params={"operation": "void", "minorversion": "75"},
                json={"Id": invoice_id, "SyncToken": token},
            )
            raise_for_error(answer)

    asyncio.run(void())
    obj = backfill(company, ["Invoice"])["Invoice"].latest()[invoice_id]

    assert not obj.deleted
    unified = to_unified("Invoice", obj)
    assert isinstance(unified, Invoice) and unified.status == "void"
    assert not unified.remote_was_deleted and unified.total == 0


def test_cdc_answers_cut_at_1000_objects_are_followed(
    company: Company, control: httpx.Client, sandbox_url: str
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    customer = active_ids(listing(control, "Customer"))[0]
    start = now_ms() - 120_000
    created = [
        control.post(
            "/Payment",
            json={"CustomerRef": {"value": customer}, "TotalAmt": 12.5, "_stamp": start + i * 50},
        ).json()["Id"]
        for i in range(pull.CDC_MAX_OBJECTS)
    ]
    invoices = unpaid_ids(listing(control, "Invoice"))[:2]
    for invoice_id in invoices:
        control.delete(f"/Invoice/{invoice_id}")
    control.delete(f"/Payment/{created[-1]}")
    httpx.delete(f"{sandbox_url}/_sandbox/ledger")

    found = tombstones(company, ["Payment", "Invoice"], since)

    assert sorted((t, o.external_id) for t, o in found) == sorted(
        [("Invoice", i) for i in invoices] + [("Payment", created[-1])]
    )
    assert ledger_count(sandbox_url, "cdc") > 2  # the cut answer was followed


# --- errors --------------------------------------------------------------------------


def test_provider_errors_carry_quickbooks_fault_messages_and_codes(
    company: Company, sandbox_url: str
) -> None:
    async def query(text: str) -> None:
        async with company.client() as http:
            raise_for_error(await http.get("query", params={"query": text}))

    async def page(target: Company = company) -> None:
        async with target.client() as http:
            await pull.fetch_page(http, "Invoice", pull.start(None, OVERLAP))

    async def cdc(since: datetime) -> None:
        async with company.client() as http:
            await pull.fetch_tombstones(http, ["Invoice"], since)

    parse = provider_error(query("SELEC * FROM Invoice"))
    assert (parse.status, parse.code, parse.message) == (400, "4000", "Error parsing query")
    assert "QueryParserError" in parse.details[0]

    expired = provider_error(page(Company(company.base_url, "not-a-token")))
    assert (expired.status, expired.code) == (401, "3200")
    assert "AuthenticationFailed" in expired.message

    too_old = provider_error(cdc(datetime.now(UTC) - timedelta(days=31)))
    assert too_old.status == 400 and "30 days" in too_old.details[0]

    faults = f"{sandbox_url}/_sandbox/faults"
    httpx.post(faults, json={"provider": "quickbooks", "kind": "error", "status": 200, "count": 1})
    inside_200 = provider_error(page())
    assert (inside_200.status, inside_200.code) == (200, "10000")
    assert inside_200.message == "An application error has occurred while processing your request"

    httpx.post(faults, json={"provider": "quickbooks", "kind": "error", "status": 503, "count": 1})
    assert provider_error(page()).status == 503

    httpx.post(faults, json={"provider": "quickbooks", "kind": "rate_limit", "count": 1})
    throttled = provider_error(page())
    assert (throttled.status, throttled.code) == (429, "3001")

    asyncio.run(page())  # the faults were used up: a plain success raises nothing


def test_a_stale_sync_token_is_a_validation_fault(company: Company, control: httpx.Client) -> None:
    invoice_id = unpaid_ids(listing(control, "Invoice"))[0]

    async def stale_update() -> None:
        async with company.client() as http:
            body = {"Id": invoice_id, "SyncToken": "999", "sparse": True, "PrivateNote": "x"}
            raise_for_error(await http.post("invoice", json=body))

    stale = provider_error(stale_update())
    assert (stale.status, stale.code, stale.message) == (400, "5010", "Stale Object Error")


def test_lower_case_faults_and_bodies_that_are_not_json_are_read() -> None:
    # QuickBooks answers some 401s with every key in lower case.
    lower = {
        "fault": {
            "error": [
                {
                    "message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                    "detail": "Token expired: eyJ...",
                    "code": "3200",
                    "element": None,
                }
            ],
            "type": "AUTHENTICATION",
        }
    }
    with pytest.raises(ProviderError) as caught:
        raise_for_error(httpx.Response(401, json=lower))
    assert caught.value.code == "3200" and caught.value.details == ["Token expired: eyJ..."]

    with pytest.raises(ProviderError) as caught:
        raise_for_error(httpx.Response(502, text="<html>Bad gateway</html>"))
    assert caught.value.status == 502 and caught.value.details == ["<html>Bad gateway</html>"]

    raise_for_error(httpx.Response(200, json={"QueryResponse": {}}))


def test_sweeping_is_refused_and_unknown_types_too(company: Company) -> None:
    async def sweep(object_type: str) -> None:
        async with company.client() as http:
            await pull.sweep_ids(http, object_type)

    for object_type in ("Invoice", "Customer", "Nonsense"):
        with pytest.raises(ValueError):
            asyncio.run(sweep(object_type))


def test_a_tie_group_larger_than_a_page_is_reread_until_two_reads_agree(
    company: Company, control: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nine invoices share one second, read three at a time; a member already read is
    edited mid-read twice, so offset paging would skip the one shifted onto its page."""
    monkeypatch.setattr(pull, "TIE_PAGE_SIZE", 3)
    group = list(listing(control, "Invoice"))[:9]
    for n, invoice_id in enumerate(group):  # first in change order
        control.patch(f"/Invoice/{invoice_id}", json={"PrivateNote": f"bulk {n}", "_stamp": 10**12})

    async def go() -> tuple[list[RemoteObject], list[Cursor]]:
        objects: list[RemoteObject] = []
        cursors = [pull.start(None, OVERLAP)]
        edits = 0
        async with company.client() as http, httpx.AsyncClient(base_url=control.base_url) as user:
            while True:
                page = await pull.fetch_page(http, "Invoice", cursors[-1], page_size=3)
                objects += page.objects
                cursors.append(page.cursor)
                tie = page.cursor.get("tie")
                if tie and tie["count"] and edits < 2:  # mid-read: edit a member counted
                    edited = await user.patch(
                        f"/Invoice/{group[1 + 3 * edits]}", json={"PrivateNote": "x"}
                    )
                    assert edited.status_code == 200, edited.text
                    edits += 1
                if page.done:
                    return objects, cursors
                assert len(cursors) < 500, "the run never ends"

    objects, cursors = asyncio.run(go())
    assert {o.external_id for o in objects} == set(listing(control, "Invoice"))
    assert max(c.get("tie", {}).get("reads", 0) for c in cursors) >= 3  # twice disagreed
    assert any(c.get("strict") for c in cursors), "then moved past the second"
