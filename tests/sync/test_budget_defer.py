"""A sync whose account has spent its call budget gives its queue slot back: the run reads
``deferred`` (not failed) and continues later, while other accounts' syncs complete."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import ORG, Service, connect, service


def _status(lb: Service, run_id: str, headers: dict[str, str]) -> dict[str, Any]:
    run: dict[str, Any] = httpx.get(f"{lb.url}/v1/sync-runs/{run_id}", headers=headers).json()
    return run


@pytest.mark.slow
@pytest.mark.sandbox(seed=4, size=15, settings={"rate_limits": False})
def test_a_spent_budget_defers_its_run_and_others_complete(
    database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any
) -> None:
    headers = auth(ORG, "admin")
    accounts = {a["provider"]: a["account_id"] for a in sandbox.get("/_sandbox/accounts").json()}
    budget = {
        "LEDGERBRIDGE_XERO_CALLS_PER_DAY": "3",  # a Xero sync needs more than that
        "LEDGERBRIDGE_BUDGET_WAIT_SECONDS": "1",
    }
    with service(database, sandbox_url, tmp_path, **budget) as lb:
        runs = {}
        for provider, account in accounts.items():
            connection_id = connect(lb, headers, provider, account)
            answer = httpx.post(
                f"{lb.url}/v1/connections/{connection_id}/syncs", json={}, headers=headers
            )
            assert answer.status_code == 202, answer.text
            runs[provider] = answer.json()["sync_run_id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = {p: _status(lb, run, headers)["status"] for p, run in runs.items()}
            if states == {"xero": "deferred", "quickbooks": "succeeded", "lightspeed": "succeeded"}:
                break
            assert "failed" not in states.values(), [
                str(_status(lb, run, headers)["error"]) for run in runs.values()
            ]
            time.sleep(0.5)
        else:
            raise AssertionError(f"runs ended as {states}")
        xero = _status(lb, runs["xero"], headers)
        assert "budget" in (xero["error"] or ""), xero
        # Asked again meanwhile, the deferred run is joined rather than a new one made.
        again = httpx.post(
            f"{lb.url}/v1/connections/{xero['connection_id']}/syncs", json={}, headers=headers
        )
        assert again.json()["sync_run_id"] == runs["xero"]
