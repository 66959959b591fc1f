"""Derived fields that move without a timestamp, and a deleted-object feed that lapses.

QuickBooks keeps a customer's ``Balance``/``BalanceWithJobs`` the sum of its open
invoices without moving the customer's ``LastUpdatedTime`` or ``SyncToken``: an
incremental listing never shows the customer again. The run that sees the invoice (or
payment) change, or its deletion, re-reads the customer.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from ledgerbridge.db.base import utcnow
from ledgerbridge.services import Services
from ledgerbridge.sync.models import RawObject, SyncRun, SyncState
from tests.sync.conftest import RunSync
from tests.sync.mirroring import Account, connected, synced_equal

pytestmark = pytest.mark.sandbox(seed=6, size=25, settings={"rate_limits": False})
TYPES = ["Customer", "Invoice", "Payment"]


def open_invoice(account: Account) -> tuple[dict[str, Any], dict[str, Any]]:
    """An unpaid invoice with an amount, and its customer, as QuickBooks holds them."""
    customers = {c["Id"]: c for c in account.records("Customer")}
    for invoice in account.records("Invoice"):
        if Decimal(invoice["Balance"]) > 0 and not invoice.get("LinkedTxn"):
            customer = customers[invoice["CustomerRef"]["value"]]
            if customer.get("Active", True):
                return invoice, customer
    raise AssertionError("the seed has an open invoice")


def customer_unseen(account: Account, before: dict[str, Any]) -> dict[str, Any]:
    """The customer now; its balance moved, its timestamp and SyncToken did not."""
    now = next(c for c in account.records("Customer") if c["Id"] == before["Id"])
    assert now["Balance"] != before["Balance"]
    assert now["SyncToken"] == before["SyncToken"]
    assert now["MetaData"]["LastUpdatedTime"] == before["MetaData"]["LastUpdatedTime"]
    return now


def test_paying_or_deleting_an_invoice_refreshes_its_customers_balance(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    account = connected(lb, sandbox, auth(tenant), "quickbooks")
    assert run_sync(account.connection_id, TYPES).status == "succeeded"

    invoice, customer = open_invoice(account)
    paid = sandbox.post(
        f"/_sandbox/quickbooks/{account.account_id}/Payment",
        json={
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": str(invoice["Balance"]),
            "Line": [
                {
                    "Amount": str(invoice["Balance"]),
                    "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}],
                }
            ],
        },
    )
    assert paid.status_code == 201, paid.text
    customer_unseen(account, customer)
    synced_equal(svc, run_sync, account, TYPES)

    invoice, customer = open_invoice(account)
    gone = sandbox.delete(f"/_sandbox/quickbooks/{account.account_id}/Invoice/{invoice['Id']}")
    assert gone.status_code == 200, gone.text
    customer_unseen(account, customer)
    run = run_sync(account.connection_id, TYPES)
    assert run.status == "succeeded", run.error
    # Both changes counted: the deletion from the feed, and the balance it moved.
    assert (run.created, run.updated, run.deleted) == (0, 1, 1)
    for object_type in TYPES:
        assert account.compare(svc, object_type).mismatches == [], object_type


def test_a_lapsed_deletion_window_queues_a_full_pass_that_says_why(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    account = connected(lb, sandbox, auth(tenant), "quickbooks")
    headers = auth(tenant)
    assert run_sync(account.connection_id, TYPES).status == "succeeded"

    # The connection is paused for 31 days; meanwhile an invoice is deleted for good.
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 31 * 86_400}).raise_for_status()
    invoice, _ = open_invoice(account)
    deleted = sandbox.delete(f"/_sandbox/quickbooks/{account.account_id}/Invoice/{invoice['Id']}")
    assert deleted.status_code == 200, deleted.text

    run = run_sync(account.connection_id, TYPES)
    assert run.status == "succeeded", run.error  # the feed's refusal is handled, not an error
    with svc.db.system() as session:
        queued = session.scalars(
            select(SyncRun).where(
                SyncRun.connection_id == account.connection_id, SyncRun.status == "queued"
            )
        ).one()
        assert (queued.full_resync, queued.trigger) == (True, "window")
    shown = lb.get(f"/v1/sync-runs/{queued.id}", headers=headers).json()
    assert "deleted-object feed" in shown["reason"]

    full = run_sync(account.connection_id, TYPES, full_resync=True)  # joins the queued pass
    assert full.id == queued.id and full.status == "succeeded", full.error
    assert full.deleted == 1
    with svc.db.system() as session:
        raw = session.scalars(
            select(RawObject).where(
                RawObject.connection_id == account.connection_id,
                RawObject.object_type == "Invoice",
                RawObject.external_id == invoice["Id"],
            )
        ).one()
        assert raw.deleted
    for object_type in TYPES:
        assert account.compare(svc, object_type).mismatches == [], object_type


def test_a_connection_paused_past_the_window_by_our_clock_asks_nothing_of_the_feed(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    account = connected(lb, sandbox, auth(tenant), "quickbooks")
    assert run_sync(account.connection_id, TYPES).status == "succeeded"
    with svc.db.system() as session:  # deletions were last read 31 days ago
        session.execute(
            update(SyncState)
            .where(SyncState.connection_id == account.connection_id)
            .values(last_tombstones_at=utcnow() - timedelta(days=31))
        )
    sandbox.delete("/_sandbox/ledger").raise_for_status()

    assert run_sync(account.connection_id, TYPES).status == "succeeded"
    cdc = sandbox.get("/_sandbox/ledger", params={"path_prefix": "/quickbooks/v3/company"})
    assert not [e for e in cdc.json()["entries"] if e["path"].endswith("/cdc")]
    full = run_sync(account.connection_id, TYPES, full_resync=True)
    assert (full.trigger, full.status) == ("window", "succeeded"), full.error

    after = run_sync(account.connection_id, TYPES)  # the feed reads on from the full pass
    assert after.status == "succeeded", after.error
    with svc.db.system() as session:
        waiting = session.scalars(
            select(SyncRun).where(
                SyncRun.connection_id == account.connection_id, SyncRun.status == "queued"
            )
        ).all()
        assert waiting == []
