"""Refresh exactly once: 4 processes x 10 threads share one connection whose tokens expire
every few seconds. The provider sees one refresh per expiry and no caller is ever refused."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections import Counter

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.settings import Settings
from tests.connections.conftest import accounts, connect

LIFETIME = 4  # seconds an access token lives in this sandbox
PROCESSES, THREADS, SECONDS = 4, 10, 11


@pytest.mark.sandbox(settings={"quickbooks_access_token_seconds": LIFETIME, "rate_limits": False})
def test_many_processes_refresh_each_expiry_exactly_once(
    lb: TestClient, sandbox: httpx.Client, lb_settings: Settings, auth, tenant: str
) -> None:
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "quickbooks", [realm])
    sandbox.delete("/_sandbox/ledger")
    job = {
        "settings": {
            "env": "development",
            "database_url": lb_settings.resolved_database_url,
            "data_dir": str(lb_settings.data_dir),
            "jwt_secret": lb_settings.jwt_secret.get_secret_value(),  # type: ignore[union-attr]
            "secret_key": lb_settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
            "token_encryption_keys": ",".join(
                k.get_secret_value() for k in lb_settings.token_encryption_keys
            ),
            "sandbox_url": lb_settings.sandbox_url,
            "token_refresh_skew_seconds": lb_settings.token_refresh_skew_seconds,
        },
        "connection_id": int(connection["id"]),
        "probe_url": f"{lb_settings.sandbox_url}/quickbooks/v3/company/{realm}/companyinfo/{realm}",
        "threads": THREADS,
        "seconds": SECONDS,
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.connections.refresh_worker", json.dumps(job)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    tally: Counter[str] = Counter()
    for worker in workers:
        out, err = worker.communicate(timeout=SECONDS + 60)
        assert worker.returncode == 0, err
        tally.update(json.loads(out))

    assert set(tally) == {"200"}, f"some callers were refused: {tally}"
    assert tally["200"] > PROCESSES * THREADS * 5
    refreshes = [
        entry["at_ms"]
        for entry in sandbox.get("/_sandbox/ledger").json()["entries"]
        if entry["grant_type"] == "refresh_token"
    ]
    # One refresh per expiry: at least two expiries happened, and no two refreshes fall
    # within one token's usable life (lifetime less the refresh skew).
    assert len(refreshes) >= 2
    usable_ms = (LIFETIME - lb_settings.token_refresh_skew_seconds) * 1000
    gaps = [later - earlier for earlier, later in itertools.pairwise(refreshes)]
    assert all(gap >= usable_ms - 250 for gap in gaps), gaps
    status = lb.get(f"/v1/connections/{connection['id']}", headers=auth(tenant)).json()
    assert status["status"] == "active"
