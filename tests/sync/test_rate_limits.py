"""Rate limits: the shared call budget keeps syncs under the provider's limit, a 429 that
happens anyway is honoured (its Retry-After waited out), and faults are retried."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.connections.conftest import accounts, connect
from tests.sync.conftest import RunSync

PER_SECOND = 4


@pytest.fixture
def lb_settings(database_url: str, sandbox_url: str, tmp_path: Any) -> Any:
    from tests.conftest import make_settings

    return make_settings(
        database_url,
        tmp_path,
        sandbox_url=sandbox_url,
        sync_page_size=5,
        quickbooks_calls_per_second=PER_SECOND - 1,
    )


@pytest.mark.sandbox(
    seed=2,
    size=20,
    settings={"rate_limits": True, "quickbooks_realm_app_per_second": PER_SECOND},
)
def test_syncs_of_many_connections_stay_within_the_providers_limit(
    lb: TestClient, sandbox: httpx.Client, run_sync: RunSync, auth: Any, tenant: str
) -> None:
    realms = [a["account_id"] for a in accounts(sandbox, "quickbooks")]
    ids = [int(connect(lb, auth(tenant), "quickbooks", [realm])[0]["id"]) for realm in realms]
    sandbox.delete("/_sandbox/ledger")
    results: dict[int, Any] = {}

    def sync(connection_id: int) -> None:
        results[connection_id] = run_sync(connection_id)

    threads = [threading.Thread(target=sync, args=(i,)) for i in ids]  # one per connection
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(run.status == "succeeded" for run in results.values()), [
        r.error for r in results.values()
    ]
    entries = sandbox.get("/_sandbox/ledger").json()["entries"]
    data_calls = [e for e in entries if "/v3/company/" in e["path"]]
    assert len(data_calls) > 3 * PER_SECOND
    assert [e for e in data_calls if e["status"] == 429] == []


@pytest.mark.sandbox(seed=2, size=5, settings={"rate_limits": False})
def test_a_429_is_honoured_and_5xx_and_dropped_connections_are_retried(
    lb: TestClient, sandbox: httpx.Client, run_sync: RunSync, auth: Any, tenant: str
) -> None:
    store = accounts(sandbox, "lightspeed")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "lightspeed", [store])
    for fault in (
        {"provider": "lightspeed", "kind": "rate_limit", "count": 1, "retry_after_seconds": 2},
        {"provider": "lightspeed", "kind": "error", "status": 503, "count": 1},
        {"provider": "lightspeed", "kind": "drop", "count": 1},
    ):
        sandbox.post("/_sandbox/faults", json=fault).raise_for_status()
    sandbox.delete("/_sandbox/ledger")
    started = time.monotonic()
    run = run_sync(int(connection["id"]), ["customers"])
    assert run.status == "succeeded", run.error
    assert time.monotonic() - started >= 2  # the Retry-After was waited out
    statuses = [e["status"] for e in sandbox.get("/_sandbox/ledger").json()["entries"]]
    assert 429 in statuses and 503 in statuses
