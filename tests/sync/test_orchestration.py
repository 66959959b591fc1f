"""Sync through the real service: ``ledgerbridge up`` in its own process, DBOS for real.

The kill test SIGKILLs the process at random moments of a 20,000-record backfill and
starts it again each time: DBOS resumes the run, the cursor never moves backwards, and
the mirror ends with every record exactly once.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import ORG, Service, connect, service


def wait_for(lb: Service, run_id: str, headers: dict[str, str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = httpx.get(f"{lb.url}/v1/sync-runs/{run_id}", headers=headers).json()
        if run["status"] in ("succeeded", "failed"):
            return run
        time.sleep(0.3)
    raise AssertionError(f"sync run {run_id} did not finish in {timeout}s")


@pytest.mark.sandbox(seed=4, size=15, settings={"rate_limits": False})
def test_trigger_answers_202_and_the_worker_syncs(
    database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any
) -> None:
    headers = auth(ORG, "admin")
    realm = sandbox.get("/_sandbox/accounts").json()[2]["account_id"]
    with service(database, sandbox_url, tmp_path) as lb:
        connection_id = connect(lb, headers, "quickbooks", realm)
        first = httpx.post(
            f"{lb.url}/v1/connections/{connection_id}/syncs", json={}, headers=headers
        )
        assert first.status_code == 202
        assert first.headers["location"] == f"/v1/sync-runs/{first.json()['sync_run_id']}"
        second = httpx.post(
            f"{lb.url}/v1/connections/{connection_id}/syncs",
            json={"object_types": ["Invoice"]},
            headers=headers,
        )
        assert second.status_code == 202
        done = wait_for(lb, first.json()["sync_run_id"], headers, 60)
        assert done["status"] == "succeeded", done
        assert done["counts"]["created"] > 0
        assert wait_for(lb, second.json()["sync_run_id"], headers, 60)["status"] == "succeeded"
        bad = httpx.post(
            f"{lb.url}/v1/connections/{connection_id}/syncs",
            json={"object_types": ["Nonsense"]},
            headers=headers,
        )
        assert bad.status_code == 422 and "Nonsense" in bad.json()["message"]
        viewer = httpx.post(
            f"{lb.url}/v1/connections/{connection_id}/syncs", json={}, headers=auth(ORG, "viewer")
        )
        assert viewer.status_code == 403


@pytest.mark.slow
@pytest.mark.sandbox(seed=9, size=20_000, settings={"rate_limits": False})
def test_backfill_survives_sigkill_at_random_moments(
    database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any
) -> None:
    headers = auth(ORG, "admin")
    store = next(
        a for a in sandbox.get("/_sandbox/accounts").json() if a["provider"] == "lightspeed"
    )
    expected = {
        c["id"] for c in sandbox.get(f"/_sandbox/lightspeed/{store['account_id']}/customers").json()
    }
    assert len(expected) >= 20_000
    rng = random.Random(5)
    positions: list[int] = []
    with service(database, sandbox_url, tmp_path, LEDGERBRIDGE_SYNC_PAGE_SIZE="250") as lb:
        connection_id = connect(lb, headers, "lightspeed", store["account_id"])
        run_id = httpx.post(
            f"{lb.url}/v1/connections/{connection_id}/syncs",
            json={"object_types": ["customers"]},
            headers=headers,
        ).json()["sync_run_id"]
        for _ in range(5):
            deadline = time.monotonic() + rng.uniform(1.0, 4.0)
            while time.monotonic() < deadline:
                positions += cursor_positions(lb, connection_id, headers)
                time.sleep(0.1)
            lb.kill()
            lb.start()
        run = wait_for(lb, run_id, headers, 300)
        assert run["status"] == "succeeded", run
        positions += cursor_positions(lb, connection_id, headers)
        mirrored = all_remote_ids(lb, connection_id, headers)
    assert positions == sorted(positions), "a cursor moved backwards"
    assert len(mirrored) == len(set(mirrored)), "a record was mirrored twice"
    assert set(mirrored) == expected, "records are missing or extra"


def cursor_positions(lb: Service, connection_id: str, headers: dict[str, str]) -> list[int]:
    try:
        status = httpx.get(
            f"{lb.url}/v1/connections/{connection_id}/sync-status", headers=headers, timeout=5
        ).json()
    except httpx.HTTPError:
        return []
    return [s["cursor"]["after"] for s in status["object_types"] if s["cursor"]]


def all_remote_ids(lb: Service, connection_id: str, headers: dict[str, str]) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100, "include_deleted": "true"}
        if cursor:
            params["cursor"] = cursor
        page = httpx.get(
            f"{lb.url}/v1/connections/{connection_id}/records/contact",
            params=params,
            headers=headers,
            timeout=30,
        ).json()
        ids += [r["remote_id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            return ids
