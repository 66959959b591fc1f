"""Provider answers are checked, not trusted, and every change a run makes is counted.

A 200 without the collection asked for, a body that is not JSON, a body over the size
cap or one that drips past the call's deadline is a provider error: asked again, then the
object type fails, and nothing in the mirror changes (above all, nothing is marked
deleted). An id sweep that would mark most of a type deleted reads the ids again first.
Deletions from tombstone feeds count in the run's totals. All through the sandbox's
faults over real HTTP (SQLite only: none of this depends on the database).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stamina
from fastapi.testclient import TestClient

from ledgerbridge.connections.http import AnswerTooLarge, RetryingTransport
from ledgerbridge.providers import Provider
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from tests.conftest import make_settings
from tests.connections.conftest import accounts, connect
from tests.support import serve_in_thread
from tests.sync.conftest import RunSync
from tests.sync.mirroring import connected, stored, synced

pytestmark = pytest.mark.sandbox(seed=5, size=30, settings={"rate_limits": False})
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
XERO = "/xero/api.xro/2.0"
MAX_BODY = 1024 * 1024


@pytest.fixture
def lb_settings(database_url: str, sandbox_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        sandbox_url=sandbox_url,
        provider_call_deadline_seconds=2.0,
        provider_max_body_bytes=MAX_BODY,
    )


@pytest.fixture(autouse=True)
def _no_backoff() -> Iterator[None]:
    """Retries happen (two attempts each), without their waits."""
    with stamina.set_testing(True, attempts=2, cap=True):
        yield


def _fault(sandbox: httpx.Client, provider: str, path: str, kind: str, **extra: Any) -> None:
    rule = {"provider": provider, "kind": kind, "path_prefix": path, **extra}
    sandbox.post("/_sandbox/faults", json=rule).raise_for_status()


def _calls(sandbox: httpx.Client, path: str, at_least: int = 0) -> list[dict[str, Any]]:
    """The ledger's calls to ``path`` (a call is logged once its answer ends: a dripping one
    when the client hangs up, so wait a moment for ``at_least`` of them)."""
    deadline = time.monotonic() + 10
    while True:
        entries: list[dict[str, Any]] = sandbox.get("/_sandbox/ledger").json()["entries"]
        calls = [e for e in entries if e["path"] == path]
        if len(calls) >= at_least or time.monotonic() > deadline:
            return calls
        time.sleep(0.1)


def _xero_items(
    lb: TestClient, sandbox: httpx.Client, run_sync: RunSync, auth: Any, tenant: str
) -> tuple[str, int]:
    account = connected(lb, sandbox, auth(tenant), "xero")
    assert synced(run_sync, account, ["Items"]).created > 10
    return account.account_id, account.connection_id


@sqlite_only
@pytest.mark.parametrize("kind", ["missing_collection", "not_json", "drip_body", "oversize_body"])
def test_a_bad_answer_fails_the_type_and_changes_nothing(
    kind: str,
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    _, connection_id = _xero_items(lb, sandbox, run_sync, auth, tenant)
    before = stored(svc, connection_id, "Items")
    sandbox.delete("/_sandbox/ledger")
    extra = {"latency_ms": 200} if kind == "drip_body" else {"size_bytes": 2 * MAX_BODY}
    _fault(sandbox, "xero", f"{XERO}/Items", kind, **extra)

    run = run_sync(connection_id, ["Items"], full_resync=True)

    assert run.status == "failed"
    assert run.error and "Items" in run.error
    assert (run.created, run.updated, run.deleted) == (0, 0, 0)
    after = stored(svc, connection_id, "Items")
    assert {k: r.data for k, r in after.items()} == {k: r.data for k, r in before.items()}
    assert not any(r.remote_was_deleted for r in after.values())
    assert len(_calls(sandbox, f"{XERO}/Items", at_least=2)) >= 2  # asked again, then failed
    deleted = lb.get("/v1/events?type=record.deleted", headers=auth(tenant)).json()["data"]
    assert deleted == []


@sqlite_only
@pytest.mark.parametrize(
    ("provider", "object_type", "path"),
    [
        ("quickbooks", "Invoice", "/quickbooks/v3/company/{account}/query"),
        ("lightspeed", "customers", "/lightspeed/{account}/api/2.0/customers"),
    ],
)
def test_other_providers_refuse_an_answer_without_its_collection(
    provider: str,
    object_type: str,
    path: str,
    lb: TestClient,
    sandbox: httpx.Client,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    account = accounts(sandbox, provider)[0]["account_id"]
    [connection] = connect(lb, auth(tenant), provider, [account])
    _fault(sandbox, provider, path.format(account=account), "missing_collection")
    run = run_sync(int(connection["id"]), [object_type])
    assert run.status == "failed"
    assert run.error and "answer has no" in run.error
    assert run.created == 0


@sqlite_only
def test_a_bad_answer_once_is_asked_again_and_the_run_succeeds(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    _, connection_id = _xero_items(lb, sandbox, run_sync, auth, tenant)
    _fault(sandbox, "xero", f"{XERO}/Items", "missing_collection", count=1)
    run = run_sync(connection_id, ["Items"], full_resync=True)
    assert run.status == "succeeded", run.error
    assert run.deleted == 0


@sqlite_only
def test_a_sweep_that_would_delete_most_of_a_type_is_confirmed_first(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    org, connection_id = _xero_items(lb, sandbox, run_sync, auth, tenant)
    items = f"{XERO}/Items"
    # The listing and then the sweep answer with an empty collection, once each: the
    # confirming read has them all, so nothing is deleted.
    _fault(sandbox, "xero", items, "empty_collection", count=2)
    sandbox.delete("/_sandbox/ledger")
    run = run_sync(connection_id, ["Items"], full_resync=True)
    assert run.status == "succeeded", run.error
    assert run.deleted == 0
    assert len(_calls(sandbox, items)) == 3  # listing, sweep, confirming sweep
    assert not any(r.remote_was_deleted for r in stored(svc, connection_id, "Items").values())

    # A real mass deletion is confirmed by the second read, and applied.
    alive = sandbox.get(f"/_sandbox/xero/{org}/Items").json()
    gone = [item["ItemID"] for item in alive[: len(alive) - 2]]
    for item in gone:
        sandbox.delete(f"/_sandbox/xero/{org}/Items/{item}").raise_for_status()
    sandbox.delete("/_sandbox/ledger")
    run = run_sync(connection_id, ["Items"], full_resync=True)
    assert run.status == "succeeded", run.error
    assert run.deleted == len(gone)
    assert len(_calls(sandbox, items)) == 3
    mirrored = stored(svc, connection_id, "Items")
    assert {k for k, r in mirrored.items() if r.remote_was_deleted} == set(gone)


@sqlite_only
def test_deletions_from_tombstone_feeds_are_counted(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    org = accounts(sandbox, "xero")[0]["account_id"]
    store = accounts(sandbox, "lightspeed")[0]["account_id"]
    [qbo] = connect(lb, auth(tenant), "quickbooks", [realm])
    [xero] = connect(lb, auth(tenant), "xero", [org])
    [shop] = connect(lb, auth(tenant), "lightspeed", [store])
    # A deleted QuickBooks bill shows only in change data capture; a deleted Xero draft
    # invoice turns DELETED; a deleted Lightspeed customer gets its deleted_at.
    kinds = {"quickbooks": "Bill", "xero": "Invoices", "lightspeed": "customers"}
    ids = {"quickbooks": "Id", "xero": "InvoiceID", "lightspeed": "id"}
    for connection, account in ((qbo, realm), (xero, org), (shop, store)):
        provider = connection["provider"]
        kind = kinds[provider]
        assert run_sync(int(connection["id"]), [kind]).status == "succeeded"
        listing = sandbox.get(f"/_sandbox/{provider}/{account}/{kind}").json()
        live = [
            r
            for r in listing
            if not r.get("deleted_at") and r.get("Status") in (None, "DRAFT", "SUBMITTED")
        ]
        victim = str(live[0][ids[provider]])
        sandbox.delete(f"/_sandbox/{provider}/{account}/{kind}/{victim}").raise_for_status()

        run = run_sync(int(connection["id"]), [kind])

        assert run.status == "succeeded", run.error
        assert run.deleted == 1, (provider, run.deleted)
        assert stored(svc, int(connection["id"]), kind)[victim].remote_was_deleted


def test_the_transport_caps_a_declared_length_and_bounds_a_dripping_body() -> None:
    """Straight against the transport, with a server of its own on 127.0.0.1."""
    hits: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        hits.append(scope["path"])
        if scope["path"] == "/large":
            body = b"[" + b" " * 4096 + b"]"
            headers = [(b"content-type", b"application/json"), (b"content-length", b"4098")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(100):  # a byte every 50 ms: each read is quick, the whole is not
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
            await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b"[]"})

    async def spend() -> None:
        return None

    async def audit(*_: Any) -> None:
        return None

    async def call(path: str) -> None:
        transport = RetryingTransport(
            httpx.AsyncHTTPTransport(), Provider.xero, spend, audit, max_body=1024, deadline=0.5
        )
        async with httpx.AsyncClient(base_url=origin, transport=transport) as client:
            await client.get(path)

    with serve_in_thread(app) as origin:
        with pytest.raises(AnswerTooLarge):
            asyncio.run(call("/large"))
        assert hits.count("/large") == 2  # tried again, then given up
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout, match="not complete within"):
            asyncio.run(call("/drip"))
        assert hits.count("/drip") == 2
        assert time.monotonic() - started < 4.5  # two half-second attempts, not 5 s each
