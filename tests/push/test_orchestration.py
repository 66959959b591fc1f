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

FAST = {"LEDGERBRIDGE_PROVIDER_CALL_BUDGETS": "false"}


def first(sandbox: httpx.Client, provider: str) -> str:
    return next(a for a in sandbox.get("/_sandbox/accounts").json() if a["provider"] == provider)[
        "account_id"
    ]


def bodies(sandbox: httpx.Client, tag: str) -> dict[str, Any]:
    """Per provider: a function from n to a body that provider takes, and where it lands."""
    org, realm = first(sandbox, "xero"), first(sandbox, "quickbooks")
    xero_contact = next(
        c["ContactID"]
        for c in sandbox.get(f"/_sandbox/xero/{org}/Contacts").json()
        if c.get("ContactStatus") == "ACTIVE"
    )
    customer = next(
        c for c in sandbox.get(f"/_sandbox/quickbooks/{realm}/Customer").json() if c.get("Active")
    )
    item = next(i["Id"] for i in sandbox.get(f"/_sandbox/quickbooks/{realm}/Item").json())
    currency = customer.get("CurrencyRef", {}).get("value", "USD")

    def xero(n: int) -> dict[str, Any]:
        return {
            "contact_remote_id": xero_contact,
            "issue_date": "2026-11-02",
            "currency": "NZD",
            "reference": f"{tag}-{n}",
            "lines": [
                {"description": f"Order {n}", "unit_amount": f"{n}.25", "account_code": "200"}
            ],
        }

    def quickbooks(n: int) -> dict[str, Any]:
        return {
            "contact_remote_id": customer["Id"],
            "issue_date": "2026-11-02",
            "currency": currency,
            "number": f"{tag}-{n}",
            "lines": [{"description": f"Order {n}", "unit_amount": f"{n}.50", "item_code": item}],
        }

    def lightspeed(n: int) -> dict[str, Any]:
        return {"name": f"Customer {tag} {n}", "code": f"{tag}-{n}"}

    return {"xero": xero, "quickbooks": quickbooks, "lightspeed": lightspeed}


def landed(sandbox: httpx.Client, provider: str, tag: str) -> list[str]:
    """The keys of the records carrying ``tag`` that the provider holds (one per write)."""
    account = first(sandbox, provider)
    kind, key = {
        "xero": ("Invoices", "Reference"),
        "quickbooks": ("Invoice", "DocNumber"),
        "lightspeed": ("customers", "customer_code"),
    }[provider]
    listing = sandbox.get(f"/_sandbox/{provider}/{account}/{kind}").json()
    return [str(r.get(key)) for r in listing if str(r.get(key) or "").startswith(f"{tag}-")]


def settle(lb: Service, ids: list[str], headers: dict[str, str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        for operation_id in ids:
            if statuses.get(operation_id) in ("synced", "failed"):
                continue
            try:
                got = httpx.get(
                    f"{lb.url}/v1/operations/{operation_id}", headers=headers, timeout=5
                )
                statuses[operation_id] = got.json()["status"]
            except httpx.HTTPError:
                pass
        if all(statuses.get(i) in ("synced", "failed") for i in ids):
            return statuses
        time.sleep(0.5)
    return statuses


def submit(
    lb: Service, connection_id: str, collection: str, body: dict[str, Any], headers: dict[str, str]
) -> str:
    answer = httpx.post(
        f"{lb.url}/v1/connections/{connection_id}/{collection}",
        json=body,
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    operation_id: str = answer.json()["operation_id"]
    return operation_id


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
    assert all(statuses.get(i) == "synced" for i in ids), statuses
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
