"""Push through the real service (``ledgerbridge up``, DBOS for real): hundreds of writes
land exactly once, and SIGKILLs during a faulty run leave nothing stuck or doubled."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import ORG, Service, connect, service
from tests.push.writes import bodies, first, landed, settle, submit, writes_for

FAST = {"LEDGERBRIDGE_PROVIDER_CALL_BUDGETS": "false"}


@pytest.mark.sandbox(seed=12, size=10, settings={"rate_limits": False})
def test_two_hundred_writes_across_three_providers_each_land_exactly_once(
    database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any
) -> None:
    headers = auth(ORG, "developer")
    make = bodies(sandbox, "bulk")
    collections = {"xero": "invoices", "quickbooks": "invoices", "lightspeed": "contacts"}
    with service(database, sandbox_url, tmp_path, **FAST) as lb:
        connections = {
            p: connect(lb, auth(ORG, "admin"), p, first(sandbox, p)) for p in collections
        }
        ids: list[str] = []
        for n in range(200):
            provider = list(collections)[n % 3]
            ids.append(
                submit(lb, connections[provider], collections[provider], make[provider](n), headers)
            )
        statuses = settle(lb, ids, headers, timeout=240)
    unsynced = {i: statuses.get(i) for i in ids if statuses.get(i) != "synced"}
    assert all(statuses.get(i) == "synced" for i in ids), unsynced
    for index, provider in enumerate(collections):
        keys = landed(sandbox, provider, "bulk")
        expected = {f"bulk-{n}" for n in range(index, 200, 3)}
        assert sorted(keys) == sorted(expected), provider  # every one, exactly once


@pytest.mark.slow
@pytest.mark.sandbox(seed=13, size=10, settings={"rate_limits": False})
def test_sigkill_during_a_faulty_run_leaves_nothing_stuck_and_nothing_doubled(
    database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any
) -> None:
    headers = auth(ORG, "developer")
    make = bodies(sandbox, "chaos")
    rng = random.Random(3)
    with service(database, sandbox_url, tmp_path, **FAST) as lb:
        connections = {
            p: connect(lb, auth(ORG, "admin"), p, first(sandbox, p)) for p in ("xero", "quickbooks")
        }
        # QuickBooks' 429s carry no Retry-After, so they are honoured with Intuit's minute:
        # 429s go to Xero (Retry-After in seconds), 5xx to both.
        faults = [
            {"provider": "xero", "kind": "rate_limit", "rate": 0.1, "retry_after_seconds": 1},
            {"provider": "xero", "kind": "error", "status": 503, "rate": 0.15},
            {"provider": "quickbooks", "kind": "error", "status": 503, "rate": 0.15},
        ]
        for fault in faults:
            sandbox.post("/_sandbox/faults", json=fault).raise_for_status()
        ids = [
            submit(lb, connections[p], "invoices", make[p](n), headers)
            for n in range(50)
            for p in ("xero", "quickbooks")
        ]
        for _ in range(3):
            time.sleep(rng.uniform(0.5, 2.5))
            lb.kill()
            lb.start()
        statuses = settle(lb, ids, headers, timeout=300)
    assert all(statuses.get(i) in ("synced", "failed") for i in ids), statuses
    for provider in ("xero", "quickbooks"):
        keys = landed(sandbox, provider, "chaos")
        assert len(keys) == len(set(keys)), f"{provider} holds a duplicate"
        synced = sum(
            1
            for i, p in zip(ids, ["xero", "quickbooks"] * 50, strict=True)
            if p == provider and statuses[i] == "synced"
        )
        assert len(keys) == synced


@pytest.mark.sandbox(seed=14, size=10, settings={"rate_limits": False})
def test_updates_accepted_right_behind_their_creates_land_after_them(
    database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any
) -> None:
    """A connection's operations are pushed in batches, several calls in flight: an
    update accepted right behind its create still waits for the create to land, then
    changes that very record."""
    headers = auth(ORG, "developer")
    account = first(sandbox, "xero")
    make = writes_for(sandbox, "xero", account, "order")
    with service(database, sandbox_url, tmp_path, **FAST) as lb:
        xero = connect(lb, auth(ORG, "admin"), "xero", account)
        creates = [_accept(lb, f"{xero}/invoices", "POST", make(n), headers) for n in range(8)]
        updates = [
            _accept(
                lb,
                f"{xero}/invoices/{record_id}",
                "PATCH",
                {**make(n), "reference": f"order-{n}-changed"},
                headers,
            )
            for n, (_, record_id) in enumerate(creates)
        ]
        ids = [operation_id for operation_id, _ in creates + updates]
        statuses = settle(lb, ids, headers, timeout=120)
    assert all(statuses.get(i) == "synced" for i in ids), statuses
    changed = sorted(f"order-{n}-changed" for n in range(8))
    assert sorted(landed(sandbox, "xero", "order", account)) == changed


def _accept(
    lb: Service, path: str, method: str, body: dict[str, Any], headers: dict[str, str]
) -> tuple[str, str]:
    """The operation and record ids of a write answered 202."""
    answer = httpx.request(
        method, f"{lb.url}/v1/connections/{path}", json=body, headers=headers, timeout=30
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["operation_id"], answer.json()["record_id"]
