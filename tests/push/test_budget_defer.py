"""A push whose account has spent its call budget gives its queue slot back: the operation
reads ``pending`` with ``deferred_until`` (not failed, not running), later operations of
that connection wait behind it in order, and another tenant's pushes complete."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import ORG, Service, connect, service
from tests.push.writes import first, submit, writes_for

XERO_WRITES = 4
OTHER_WRITES = 3


def _operation(lb: Service, operation_id: str, headers: dict[str, str]) -> dict[str, Any]:
    answer = httpx.get(f"{lb.url}/v1/operations/{operation_id}", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


@pytest.mark.slow
@pytest.mark.sandbox(seed=4, size=15, settings={"rate_limits": False})
def test_a_spent_budget_defers_pushes_in_order_and_other_tenants_push(
    database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any
) -> None:
    mine, theirs = auth(ORG, "admin"), auth(ORG + "-other", "admin")
    budget = {
        "LEDGERBRIDGE_XERO_CALLS_PER_DAY": "3",  # fewer than the writes below need
        "LEDGERBRIDGE_BUDGET_WAIT_SECONDS": "1",
    }
    with service(database, sandbox_url, tmp_path, **budget) as lb:
        xero = connect(lb, mine, "xero", first(sandbox, "xero"))
        quickbooks = connect(lb, theirs, "quickbooks", first(sandbox, "quickbooks"))
        xero_body = writes_for(sandbox, "xero", first(sandbox, "xero"), "defer")
        qb_body = writes_for(sandbox, "quickbooks", first(sandbox, "quickbooks"), "other")
        xero_ops = [submit(lb, xero, "invoices", xero_body(n), mine) for n in range(XERO_WRITES)]
        other_ops = [
            submit(lb, quickbooks, "invoices", qb_body(n), theirs) for n in range(OTHER_WRITES)
        ]

        deadline = time.monotonic() + 120
        while True:
            states = {op: _operation(lb, op, mine) for op in xero_ops}
            others = {op: _operation(lb, op, theirs)["status"] for op in other_ops}
            settled = all(
                s["status"] == "synced" or (s["status"] == "pending" and s["deferred_until"])
                for s in states.values()
            )
            if settled and set(others.values()) == {"synced"}:
                break
            failed = [s for s in states.values() if s["status"] == "failed"]
            assert not failed, failed
            assert "failed" not in others.values(), others
            assert time.monotonic() < deadline, (states, others)
            time.sleep(0.5)

    ordered = [states[op] for op in xero_ops]
    deferred = [s for s in ordered if s["status"] == "pending"]
    assert deferred, "the budget of 3 calls a day covered every write"
    # Synced ones come first: a deferred operation is never overtaken by a later one.
    statuses = [s["status"] for s in ordered]
    assert statuses == sorted(statuses, key=lambda status: status != "synced"), statuses
    leader, *behind = deferred
    assert leader["error_code"] == "budget_deferred" and "budget" in leader["error"], leader
    for operation in behind:
        assert f"behind operation {leader['id']}" in operation["error"], operation
        assert operation["deferred_until"] > leader["deferred_until"], (operation, leader)
