"""Pulling Xero over real HTTP from the sandbox: backfills, incremental runs, deletions, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from ledgerbridge.providers.pulling import Cursor, ProviderError, RemoteObject
from ledgerbridge.providers.xero import pull as xero_pull
from ledgerbridge.providers.xero.dates import parse_utc
from ledgerbridge.providers.xero.errors import raise_for_error
from ledgerbridge.providers.xero.mapping import to_unified
from ledgerbridge.providers.xero.pull import (
    OBJECT_TYPES,
    fetch_page,
    fetch_tombstones,
    position,
    start,
    sweep_ids,
)
from ledgerbridge.unified import Contact, Invoice
from tests.providers.test_xero_mapping import assert_money_exact, control_records, is_tombstone

pytestmark = pytest.mark.sandbox(size=30, settings={"rate_limits": False})
API = "/xero/api.xro/2.0"
OVERLAP = timedelta(seconds=2)
T = TypeVar("T")
Record = dict[str, Any]
OPEN = ("DRAFT", "SUBMITTED", "AUTHORISED")


@dataclass
class Run:
    """What one run of ``fetch_page`` calls saw, page by page."""

    pages: list[list[RemoteObject]] = field(default_factory=list)
    cursors: list[Cursor] = field(default_factory=list)  # the start, then one per page

    @property
    def objects(self) -> list[RemoteObject]:
        return [o for page in self.pages for o in page]

    @property
    def latest(self) -> dict[str, RemoteObject]:
        return {o.external_id: o for o in self.objects}

    @property
    def cursor(self) -> Cursor:
        return self.cursors[-1]


@dataclass
class Org:
    """One connected Xero organisation in the sandbox."""

    origin: str
    token: str
    tenant: str

    def call(self, work: Callable[[httpx.AsyncClient], Coroutine[Any, Any, T]]) -> T:
        """Run ``work`` with a client set up as ledgerbridge sets one up for an account."""

        async def run() -> T:
            async with httpx.AsyncClient(
                base_url=f"{self.origin}{API}",
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "xero-tenant-id": self.tenant,
                    "Accept": "application/json",
                },
            ) as http:
                return await work(http)

        return asyncio.run(run())

    def pull(self, object_type: str, cursor: Cursor, page_size: int | None = None) -> Run:
        """Fetch pages from ``cursor`` until one says done."""

        async def run(http: httpx.AsyncClient) -> Run:
            run = Run(cursors=[cursor])
            while True:
                page = await fetch_page(http, object_type, run.cursor, page_size=page_size)
                run.pages.append(page.objects)
                run.cursors.append(page.cursor)
                assert json.loads(json.dumps(page.cursor)) == page.cursor
                if page.done:
                    return run
                assert len(run.cursors) < 1000, "the run never ends"

        return self.call(run)

    def records(self, object_type: str) -> list[Record]:
        return control_records(self.origin, self.tenant, object_type)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        answer = httpx.request(
            method, f"{self.origin}/_sandbox/xero/{self.tenant}/{path}", json=body
        )
        assert answer.status_code < 300, answer.text
        return json.loads(answer.content, parse_float=Decimal) if answer.content else None


@pytest.fixture
def org(sandbox_url: str, connect: Callable[..., dict[str, Any]]) -> Org:
    tokens = connect("xero")
    return Org(sandbox_url, tokens["access_token"], tokens["accounts"][0])


def assert_positions_never_decrease(cursors: list[Cursor], saved: Cursor | None = None) -> None:
    positions = [position(c) for c in ([saved] if saved else []) + cursors[1:]]
    assert positions == sorted(positions)


def backfill(org: Org, page_size: int | None = None) -> dict[str, Run]:
    return {t: org.pull(t, start(None, OVERLAP), page_size) for t in OBJECT_TYPES}


def stamps(org: Org) -> dict[str, dict[str, str]]:
    return {
        t: {r[f"{t[:-1]}ID"]: r["UpdatedDateUTC"] for r in org.records(t)} for t in OBJECT_TYPES
    }


def test_backfill_matches_the_sandbox_record_for_record(org: Org) -> None:
    tombstones = 0
    for object_type, run in backfill(org, page_size=2).items():
        raw = {r[f"{object_type[:-1]}ID"]: r for r in org.records(object_type)}
        fetched = run.latest

        assert set(fetched) == set(raw), object_type
        if object_type not in ("Items", "Accounts"):  # those come whole, not in pages
            assert len(run.cursors) > 2, f"{object_type} came in several pages"
        assert_positions_never_decrease(run.cursors)
        for record_id, obj in fetched.items():
            assert obj.payload == raw[record_id], "the payload is exactly what Xero sent"
            assert obj.deleted == is_tombstone(object_type, raw[record_id])
            assert obj.updated_at == parse_utc(raw[record_id]["UpdatedDateUTC"])
            assert_money_exact(object_type, to_unified(object_type, obj), raw[record_id])
            tombstones += obj.deleted
    assert tombstones >= 3, "archived contacts and accounts, deleted documents"


def test_incremental_run_finds_exactly_what_changed(org: Org) -> None:
    saved = {t: run.cursor for t, run in backfill(org).items()}
    before = stamps(org)
    raw_before = {t: {r[f"{t[:-1]}ID"]: r for r in org.records(t)} for t in OBJECT_TYPES}

    # Changes as a Xero user makes them: creates, updates, archives, deletes, voids.
    contacts = org.records("Contacts")
    first = org.control("POST", "Contacts", {"Name": "Tītahi Bay Ceramics"})
    stamp_ms = int(first["UpdatedDateUTC"][len("/Date(") :].split("+")[0])
    # Four contacts share one timestamp: more than a page of two, so they straddle pages.
    for name in ("Shared Stamp One", "Shared Stamp Two"):
        org.control("POST", "Contacts", {"Name": name, "_stamp": stamp_ms})
    org.control("PATCH", f"Contacts/{contacts[0]['ContactID']}", {"Phones": [], "_stamp": stamp_ms})
    org.control(
        "PATCH", f"Contacts/{contacts[1]['ContactID']}", {"EmailAddress": "new@example.com"}
    )
    org.control("DELETE", f"Contacts/{contacts[2]['ContactID']}")
    invoices = org.records("Invoices")
    draft = next(i for i in invoices if i["Status"] == "DRAFT")
    paid = next(i for i in invoices if i["Status"] == "PAID")
    org.control("DELETE", f"Invoices/{draft['InvoiceID']}")
    org.control("DELETE", f"Invoices/{paid['InvoiceID']}")  # payments deleted, invoice voided
    org.control(
        "POST",
        "Invoices",
        {
            "Type": "ACCREC",
            "Contact": {"ContactID": contacts[3]["ContactID"]},
            "LineItems": [
                {"Description": "Kete", "Quantity": 2, "UnitAmount": 45.5, "AccountCode": "200"}
            ],
        },
    )
    items = org.records("Items")
    org.control("POST", "Items", {"Code": "PĀUA-1", "Name": "Pāua shell"})
    org.control("PATCH", f"Items/{items[0]['ItemID']}", {"Name": "Renamed item"})
    org.control("DELETE", f"Items/{items[1]['ItemID']}")
    # A change stamped before the last run's high-water mark (clock skew, a late commit):
    # the overlap is what finds it.
    late_ms = int(parse_utc(saved["Items"]["high_water"]).timestamp() * 1000) - 1000
    org.control("PATCH", f"Items/{items[2]['ItemID']}", {"Description": "late", "_stamp": late_ms})
    accounts = [a for a in org.records("Accounts") if a["Status"] == "ACTIVE"]
    org.control("DELETE", f"Accounts/{accounts[-1]['AccountID']}")
    for object_type in ("BankTransactions", "CreditNotes", "PurchaseOrders"):
        record = next(r for r in org.records(object_type) if r["Status"] in OPEN)
        org.control("DELETE", f"{object_type}/{record[f'{object_type[:-1]}ID']}")

    after = {t: {r[f"{t[:-1]}ID"]: r for r in org.records(t)} for t in OBJECT_TYPES}
    for object_type in OBJECT_TYPES:
        changed = {
            record_id
            for record_id, record in after[object_type].items()
            if before[object_type].get(record_id) != record["UpdatedDateUTC"]
        }
        run = org.pull(object_type, start(saved[object_type], OVERLAP), page_size=2)
        seen = run.latest

        assert changed <= set(seen), f"{object_type}: every change is found"
        resumed_at = parse_utc(saved[object_type]["high_water"]) - OVERLAP
        for record_id in set(seen) - changed:  # re-read in the overlap, unchanged
            assert seen[record_id].payload == raw_before[object_type][record_id]
            assert seen[record_id].updated_at is not None
            assert seen[record_id].updated_at >= resumed_at
        for record_id in changed:
            assert seen[record_id].payload == after[object_type][record_id]
            assert seen[record_id].deleted == is_tombstone(
                object_type, after[object_type][record_id]
            )
        assert_positions_never_decrease(run.cursors, saved[object_type])
        saved[object_type] = run.cursor
        if object_type == "Contacts":
            assert len(changed) == 6
            assert any("tie" in c for c in run.cursors), "a whole page shared a timestamp"
            assert seen[contacts[2]["ContactID"]].deleted
            archived = to_unified("Contacts", seen[contacts[2]["ContactID"]])
            assert isinstance(archived, Contact) and archived.status == "archived"
        if object_type == "Invoices":
            voided = to_unified("Invoices", seen[paid["InvoiceID"]])
            assert isinstance(voided, Invoice)
            assert (voided.status, voided.remote_was_deleted) == ("void", False)
            assert seen[draft["InvoiceID"]].deleted
        if object_type == "Payments":
            assert {p["PaymentID"] for p in paid["Payments"]} <= changed
            assert all(seen[p["PaymentID"]].deleted for p in paid["Payments"])
        if object_type == "Items":
            assert items[1]["ItemID"] not in seen, "hard-deleted: only a sweep finds it"
            assert seen[items[2]["ItemID"]].payload["Description"] == "late"

    # Nothing changed since: one request per object type, nothing new.
    httpx.delete(f"{org.origin}/_sandbox/ledger").raise_for_status()
    for object_type in OBJECT_TYPES:
        run = org.pull(object_type, start(saved[object_type], OVERLAP))
        assert len(run.cursors) == 2
        assert all(o.payload == after[object_type][o.external_id] for o in run.objects)
        assert position(run.cursor) == position(saved[object_type])
    ledger = httpx.get(
        f"{org.origin}/_sandbox/ledger", params={"provider": "xero", "path_prefix": API}
    ).json()
    assert len(ledger["entries"]) == len(OBJECT_TYPES)


def test_records_changing_while_a_run_pages_are_not_skipped(org: Org) -> None:
    async def run_with_changes(http: httpx.AsyncClient) -> dict[str, RemoteObject]:
        seen: dict[str, RemoteObject] = {}
        cursor = start(None, OVERLAP)
        pages = 0
        while True:
            page = await fetch_page(http, "Invoices", cursor, page_size=5)
            seen |= {o.external_id: o for o in page.objects}
            cursor = page.cursor
            pages += 1
            if pages == 2:  # between pages, change one record already read and one ahead
                read, ahead = page.objects[0], invoices[-3]
                for invoice_id in (read.external_id, ahead["InvoiceID"]):
                    org.control("PATCH", f"Invoices/{invoice_id}", {"Reference": "changed"})
            if page.done:
                return seen

    invoices = org.records("Invoices")
    seen = org.call(run_with_changes)
    final = {i["InvoiceID"]: i for i in org.records("Invoices")}
    assert set(seen) == set(final)
    assert all(o.payload == final[i] for i, o in seen.items()), "every change's latest state"


def test_a_run_resumes_from_any_saved_cursor_without_losing_records(org: Org) -> None:
    """A crash after any committed page: the next run starts from the saved cursor."""
    full = org.pull("Payments", start(None, OVERLAP), page_size=3)
    everything = {p["PaymentID"] for p in org.records("Payments")}
    assert len(full.pages) > 3
    for committed_pages in range(1, len(full.pages) + 1):
        saved = full.cursors[committed_pages]
        committed = {o.external_id for page in full.pages[:committed_pages] for o in page}
        resumed = org.pull("Payments", start(saved, timedelta(0)), page_size=3)
        assert committed | set(resumed.latest) == everything


def test_items_deleted_for_good_are_found_by_the_sweep(org: Org) -> None:
    items = org.records("Items")
    assert org.call(lambda http: sweep_ids(http, "Items")) == {i["ItemID"] for i in items}
    assert org.control("DELETE", f"Items/{items[0]['ItemID']}") is None

    remaining = org.call(lambda http: sweep_ids(http, "Items"))
    assert remaining == {i["ItemID"] for i in items[1:]}
    with pytest.raises(ValueError, match="tombstones"):
        org.call(lambda http: sweep_ids(http, "Invoices"))
    assert (
        org.call(lambda http: fetch_tombstones(http, list(OBJECT_TYPES), parse_utc("2020-01-01")))
        == []
    )


def test_status_tombstones_are_flagged_and_voids_are_not(org: Org) -> None:
    saved = {t: org.pull(t, start(None, OVERLAP)).cursor for t in ("Accounts", "Payments")}
    account = next(a for a in org.records("Accounts") if a["Status"] == "ACTIVE")
    deleted = org.call(lambda http: http.delete(f"Accounts/{account['AccountID']}"))
    assert deleted.json()["Accounts"][0]["Status"] == "DELETED"
    payment = org.records("Payments")[0]
    org.call(lambda http: http.post(f"Payments/{payment['PaymentID']}", json={"Status": "DELETED"}))

    accounts = org.pull("Accounts", start(saved["Accounts"], OVERLAP)).latest
    payments = org.pull("Payments", start(saved["Payments"], OVERLAP)).latest
    assert accounts[account["AccountID"]].deleted
    assert payments[payment["PaymentID"]].deleted
    assert (
        to_unified("Payments", payments[payment["PaymentID"]]).model_dump()["status"] == "deleted"
    )


def test_start_and_position() -> None:
    assert start(None, OVERLAP) == {"since": None, "page": 1, "high_water": None}
    saved = {
        "since": "2026-01-05T10:00:00.500+00:00",
        "page": 3,
        "high_water": "2026-01-05T10:00:01.250+00:00",
    }
    assert start(saved, OVERLAP) == {
        "since": "2026-01-05T09:59:59.250+00:00",
        "page": 1,
        "high_water": "2026-01-05T10:00:01.250+00:00",
    }
    assert position(start(saved, OVERLAP)) == position(saved)
    assert position(start(None, OVERLAP)) < position(saved)
    empty = {"since": None, "page": 1, "high_water": None}
    assert start(empty, OVERLAP) == empty


def test_provider_errors_carry_xeros_messages(org: Org) -> None:
    invalid = org.call(
        lambda http: http.put("Invoices", json={"Invoices": [{"Type": "ACCREC", "LineItems": []}]})
    )
    with pytest.raises(ProviderError) as caught:
        raise_for_error(invalid)
    assert caught.value.status == 400
    assert caught.value.code == "ValidationException"
    assert caught.value.message == "A validation exception occurred"
    assert caught.value.details and all(isinstance(d, str) and d for d in caught.value.details)

    bad_where = org.call(lambda http: http.get("Invoices", params={"where": "Status =="}))
    with pytest.raises(ProviderError) as caught:
        raise_for_error(bad_where)
    assert (caught.value.status, caught.value.code) == (400, "QueryParseException")

    unknown = org.call(lambda http: http.get("Invoices/00000000-0000-0000-0000-000000000000"))
    with pytest.raises(ProviderError) as caught:
        raise_for_error(unknown)
    assert caught.value.status == 404

    async def with_wrong_tenant(http: httpx.AsyncClient) -> httpx.Response:
        return await http.get("Contacts", headers={"xero-tenant-id": "not-connected"})

    with pytest.raises(ProviderError) as caught:
        raise_for_error(org.call(with_wrong_tenant))
    assert (caught.value.status, caught.value.code) == (403, "Forbidden")

    expired = Org(org.origin, "not-a-token", org.tenant)
    with pytest.raises(ProviderError) as caught:
        expired.pull("Contacts", start(None, OVERLAP))
    assert caught.value.status == 401

    for fault in (
        {"kind": "error", "status": 503},
        {"kind": "rate_limit", "retry_after_seconds": 5},
    ):
        httpx.post(
            f"{org.origin}/_sandbox/faults",
            json={"provider": "xero", "path_prefix": f"{API}/Invoices", "count": 1, **fault},
        ).raise_for_status()
        with pytest.raises(ProviderError) as caught:
            org.pull("Invoices", start(None, OVERLAP))
        assert caught.value.status == fault.get("status", 429)
        assert caught.value.message

    raise_for_error(httpx.Response(200, json={"Status": "OK"}))
    with pytest.raises(ProviderError, match="Bad gateway") as caught:
        raise_for_error(httpx.Response(502, text="<html>Bad gateway</html>"))
    assert caught.value.status == 502


def test_a_tie_group_larger_than_a_page_is_reread_until_two_reads_agree(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nine invoices share one UpdatedDateUTC, read three at a time; a member already read
    is edited mid-read twice, so paging by page number would skip the one shifted up."""
    monkeypatch.setattr(xero_pull, "TIE_PAGE_SIZE", 3)
    group = [r["InvoiceID"] for r in org.records("Invoices")[:9]]
    for n, invoice_id in enumerate(group):  # first in change order
        org.control("PATCH", f"Invoices/{invoice_id}", {"Reference": f"bulk {n}", "_stamp": 10**12})

    async def go(http: httpx.AsyncClient) -> Run:
        run, edits = Run(cursors=[start(None, OVERLAP)]), 0
        while True:
            page = await fetch_page(http, "Invoices", run.cursor, page_size=3)
            run.pages.append(page.objects)
            run.cursors.append(page.cursor)
            tie = page.cursor.get("tie")
            if tie and tie["count"] and edits < 2:  # mid-read: edit a member counted
                org.control("PATCH", f"Invoices/{group[1 + 3 * edits]}", {"Reference": "x"})
                edits += 1
            if page.done:
                return run
            assert len(run.cursors) < 500, "the run never ends"

    run = org.call(go)
    assert set(run.latest) == {r["InvoiceID"] for r in org.records("Invoices")}
    assert max(c.get("tie", {}).get("reads", 0) for c in run.cursors) >= 3  # twice disagreed
    assert any(c.get("strict") for c in run.cursors), "then moved past the timestamp"
    assert_positions_never_decrease(run.cursors)
