"""Backfill and incremental sync of every provider against the sandbox, on both databases."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledgerbridge.mirror.encoding import loads
from ledgerbridge.providers import Provider
from ledgerbridge.services import Services
from ledgerbridge.sync.catalog import object_types
from ledgerbridge.sync.models import RawObject, SyncState
from tests.connections.conftest import accounts, connect
from tests.sync.conftest import RunSync
from tests.sync.mirroring import stored

pytestmark = pytest.mark.sandbox(seed=3, size=20, settings={"rate_limits": False})

ID_KEYS = {
    "xero": {
        "Contacts": "ContactID",
        "Invoices": "InvoiceID",
        "Payments": "PaymentID",
        "Items": "ItemID",
        "Accounts": "AccountID",
        "BankTransactions": "BankTransactionID",
        "CreditNotes": "CreditNoteID",
        "PurchaseOrders": "PurchaseOrderID",
    },
    "quickbooks": {
        t: "Id"
        for t in (
            "Customer",
            "Vendor",
            "Invoice",
            "Bill",
            "Payment",
            "Item",
            "Account",
            "PurchaseOrder",
        )
    },
    "lightspeed": {t: "id" for t in ("customers", "products", "sales", "outlets")},
}
INVOICE_TOTALS = {
    "xero": ("Invoices", lambda raw: Decimal(str(raw["Total"]))),
    "quickbooks": ("Invoice", lambda raw: Decimal(str(raw["TotalAmt"]))),
    "lightspeed": (
        "sales",
        lambda raw: Decimal(str(raw["total_price"])) + Decimal(str(raw["total_tax"])),
    ),
}


def control_ids(sandbox: httpx.Client, provider: str, account: str, object_type: str) -> set[str]:
    key = ID_KEYS[provider][object_type]
    listing = sandbox.get(f"/_sandbox/{provider}/{account}/{object_type}").json()
    return {str(record[key]) for record in listing}


@pytest.mark.parametrize("provider", ["xero", "quickbooks", "lightspeed"])
def test_backfill_mirrors_every_record_with_exact_money(
    provider: str,
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    account = accounts(sandbox, provider)[0]["account_id"]
    [connection] = connect(lb, auth(tenant), provider, [account])
    run = run_sync(int(connection["id"]))
    assert run.status == "succeeded", run.error
    for object_type in ID_KEYS[provider]:
        expected = control_ids(sandbox, provider, account, object_type)
        mirrored = stored(svc, int(connection["id"]), object_type)
        assert set(mirrored) == expected, object_type  # nothing missing, nothing extra
    invoices, total_of = INVOICE_TOTALS[provider]
    key = ID_KEYS[provider][invoices]
    raw_listing = sandbox.get(f"/_sandbox/{provider}/{account}/{invoices}").content
    for raw in json.loads(raw_listing, parse_float=Decimal):
        record = stored(svc, int(connection["id"]), invoices)[str(raw[key])]
        assert Decimal(json.loads(record.data)["total"]) == total_of(raw)
    assert run.created == sum(
        len(control_ids(sandbox, provider, account, t)) for t in ID_KEYS[provider]
    )
    # A first backfill is announced once, with counts per model, not record by record.
    flood = lb.get("/v1/events?type=record.created&limit=100", headers=auth(tenant)).json()
    assert flood["data"] == []
    [completed] = lb.get("/v1/events?type=sync.completed", headers=auth(tenant)).json()["data"]
    assert completed["data"]["sync_run_id"] == str(run.id)
    models = completed["data"]["models"]
    assert sum(m["created"] for m in models.values()) == run.created
    types = object_types(Provider(provider))
    for model, counts in models.items():
        of_model = [t for t in ID_KEYS[provider] if types[t].model.value == model]
        assert counts["created"] == sum(
            len(control_ids(sandbox, provider, account, t)) for t in of_model
        ), model


def test_incremental_sync_finds_exactly_the_changes_and_nothing_else(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    store = accounts(sandbox, "lightspeed")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "lightspeed", [store])
    connection_id = int(connection["id"])
    assert run_sync(connection_id).status == "succeeded"

    base = f"/_sandbox/lightspeed/{store}/customers"
    customers = sandbox.get(base).json()
    live = [c for c in customers if not c.get("deleted_at")]
    sandbox.patch(f"{base}/{live[0]['id']}", json={"first_name": "Zoë-Changed"}).raise_for_status()
    sandbox.delete(f"{base}/{live[1]['id']}").raise_for_status()
    made = sandbox.post(base, json={"first_name": "Ngaio", "last_name": "Marsh"}).json()
    # Two records sharing one version, so they straddle a page boundary (pages of 7).
    stamp = max(c["version"] for c in customers) + 1000
    for customer in live[2:4]:
        sandbox.patch(f"{base}/{customer['id']}", json={"note": "same", "_stamp": stamp})

    run = run_sync(connection_id, ["customers"])
    assert run.status == "succeeded", run.error
    assert (run.created, run.deleted) == (1, 1)
    assert run.updated == 3
    mirrored = stored(svc, connection_id, "customers")
    assert json.loads(mirrored[live[0]["id"]].data)["name"].startswith("Zoë-Changed")
    assert mirrored[live[1]["id"]].remote_was_deleted is True
    assert made["id"] in mirrored

    sandbox.delete("/_sandbox/ledger")
    quiet = run_sync(connection_id)
    assert (quiet.created, quiet.updated, quiet.deleted) == (0, 0, 0)
    calls = [
        e for e in sandbox.get("/_sandbox/ledger").json()["entries"] if "/api/2.0/" in e["path"]
    ]
    assert len(calls) == 4  # one request per object type, nothing more


def test_a_backfill_is_announced_once_and_each_later_change_by_its_own_event(
    lb: TestClient,
    sandbox: httpx.Client,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    store = accounts(sandbox, "lightspeed")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "lightspeed", [store])
    connection_id = int(connection["id"])
    first = run_sync(connection_id, ["customers"])
    assert first.status == "succeeded" and first.created > 0

    def events(kind: str) -> list[dict[str, Any]]:
        page = lb.get(f"/v1/events?type={kind}&limit=100", headers=auth(tenant)).json()
        return list(page["data"])

    assert [e["type"] for e in events("sync.completed")] == ["sync.completed"]
    assert events("sync.completed")[0]["data"]["models"]["contact"]["created"] == first.created
    assert events("record.created") == events("record.updated") == []

    base = f"/_sandbox/lightspeed/{store}/customers"
    live = [c for c in sandbox.get(base).json() if not c.get("deleted_at")]
    sandbox.patch(f"{base}/{live[0]['id']}", json={"first_name": "Changed"}).raise_for_status()
    sandbox.delete(f"{base}/{live[1]['id']}").raise_for_status()
    made = sandbox.post(base, json={"first_name": "Ngaio", "last_name": "Marsh"}).json()
    again = run_sync(connection_id, ["customers"])

    assert (again.created, again.updated, again.deleted) == (1, 1, 1)
    assert [e["data"]["remote_id"] for e in events("record.created")] == [made["id"]]
    assert [e["data"]["remote_id"] for e in events("record.updated")] == [live[0]["id"]]
    assert [e["data"]["remote_id"] for e in events("record.deleted")] == [live[1]["id"]]
    completed = events("sync.completed")  # one per run; the backfill announced once
    assert [bool(e["data"].get("backfill")) for e in completed].count(True) == 1
    assert len(completed) == 2


def test_raw_payloads_are_kept_exactly_and_unchanged_objects_are_not_rewritten(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "quickbooks", [realm])
    connection_id = int(connection["id"])
    run_sync(connection_id, ["Invoice"])
    with svc.db.system() as session:
        before = {
            r.external_id: (r.payload, r.changed_at)
            for r in session.scalars(
                select(RawObject).where(RawObject.connection_id == connection_id)
            )
        }
    again = run_sync(connection_id, ["Invoice"], full_resync=True)
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    assert again.fetched >= len(before)  # pages overlap where records share a timestamp
    with svc.db.system() as session:
        after = {
            r.external_id: (r.payload, r.changed_at)
            for r in session.scalars(
                select(RawObject).where(RawObject.connection_id == connection_id)
            )
        }
        state = session.scalars(
            select(SyncState).where(SyncState.connection_id == connection_id)
        ).one()
        assert state.resync_cursor is None and state.cursor is not None
    assert after == before
    raw = sandbox.get(f"/_sandbox/quickbooks/{realm}/Invoice").content
    first = json.loads(raw, parse_float=Decimal)[0]
    assert loads(before[first["Id"]][0]) == first


def test_sync_status_and_records_api(
    lb: TestClient,
    sandbox: httpx.Client,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    org = accounts(sandbox, "xero")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "xero", [org])
    run = run_sync(int(connection["id"]))
    headers = auth(tenant, "viewer")
    got = lb.get(f"/v1/sync-runs/{run.id}", headers=headers).json()
    assert got["status"] == "succeeded" and got["counts"]["created"] == run.created
    status = lb.get(f"/v1/connections/{connection['id']}/sync-status", headers=headers).json()
    assert {s["object_type"] for s in status["object_types"]} >= {"Invoices", "Contacts"}
    assert all(s["status"] == "succeeded" for s in status["object_types"])
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 9, "include_remote_data": "true"}
        if cursor:
            params["cursor"] = cursor
        page = lb.get(
            f"/v1/connections/{connection['id']}/records/invoice",
            params=params,
            headers=auth(tenant, "developer"),  # the raw payloads need the developer role
        ).json()
        seen += page["data"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen and all(r["model"] == "invoice" and r["remote_data"] for r in seen)
    assert all(isinstance(r["data"]["total"], str) for r in seen)
    one = lb.get(
        f"/v1/connections/{connection['id']}/records/invoice/{seen[0]['id']}", headers=headers
    )
    assert one.status_code == 200 and one.json()["remote_id"] == seen[0]["remote_id"]
    other = auth(tenant + "-other", "owner")
    assert lb.get(f"/v1/sync-runs/{run.id}", headers=other).status_code == 404
    assert (
        lb.get(f"/v1/connections/{connection['id']}/records/invoice", headers=other).status_code
        == 404
    )


def test_hard_deleted_and_cdc_deleted_objects_become_tombstones(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    org = accounts(sandbox, "xero")[0]["account_id"]
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    [xero] = connect(lb, auth(tenant), "xero", [org])
    [qbo] = connect(lb, auth(tenant), "quickbooks", [realm])
    assert run_sync(int(xero["id"]), ["Items"]).status == "succeeded"
    assert run_sync(int(qbo["id"]), ["Invoice"]).status == "succeeded"

    item = sandbox.get(f"/_sandbox/xero/{org}/Items").json()[0]["ItemID"]
    sandbox.delete(f"/_sandbox/xero/{org}/Items/{item}").raise_for_status()  # no tombstone
    invoice = sandbox.get(f"/_sandbox/quickbooks/{realm}/Invoice").json()[0]["Id"]
    sandbox.delete(f"/_sandbox/quickbooks/{realm}/Invoice/{invoice}").raise_for_status()

    swept = run_sync(int(xero["id"]), ["Items"], full_resync=True)
    assert swept.deleted == 1, swept.error
    cdc = run_sync(int(qbo["id"]), ["Invoice"])
    assert cdc.status == "succeeded", cdc.error
    assert stored(svc, int(xero["id"]), "Items")[item].remote_was_deleted
    gone = stored(svc, int(qbo["id"]), "Invoice")[invoice]
    assert gone.remote_was_deleted
    assert json.loads(gone.data)["total"] != "0"  # the last full payload is kept
    kinds = {
        e["data"]["remote_id"]
        for e in lb.get("/v1/events?type=record.deleted", headers=auth(tenant)).json()["data"]
    }
    assert {item, invoice} <= kinds
