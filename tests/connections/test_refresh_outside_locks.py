"""A token refresh holds no database lock while it waits for the provider: with the token
endpoint stalled for 10 s, another tenant's reads and writes answer at once."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from fastapi.testclient import TestClient

from ledgerbridge.connections.models import Connection, OAuthGrant
from ledgerbridge.connections.tokens import AccessToken, access_token
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from tests.connections.conftest import accounts, connect

STALL_MS = 10_000


def _lease_taken(svc: Services, connection_id: int) -> bool:
    with svc.db.system(read_only=True) as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        grant = session.get(OAuthGrant, connection.grant_id)
        return grant is not None and grant.refresh_lease_holder is not None


def test_a_stalled_refresh_holds_up_no_other_tenant(
    lb: TestClient, lb_settings: Settings, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    svc = Services.build(lb_settings)
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "quickbooks", [realm])
    connection_id = int(connection["id"])
    old = access_token(svc.db, svc.vault, svc.settings, connection_id)
    stall = {"provider": "quickbooks", "kind": "slow_token", "latency_ms": STALL_MS, "count": 1}
    assert sandbox.post("/_sandbox/faults", json=stall).status_code == 201

    refreshed: list[AccessToken] = []
    refresher = threading.Thread(
        target=lambda: refreshed.append(
            access_token(svc.db, svc.vault, svc.settings, connection_id, rejected=old.token)
        )
    )
    started = time.monotonic()
    refresher.start()
    while not _lease_taken(svc, connection_id):
        assert time.monotonic() - started < 5, "the refresh never started"
        time.sleep(0.02)

    other = auth(f"{tenant}-other")
    slowest: dict[str, float] = {}
    calls = (
        ("read", lambda: lb.get("/v1/connections", headers=other)),
        ("write", lambda: lb.post("/v1/api-keys", json={"name": "k"}, headers=other)),
        ("read keys", lambda: lb.get("/v1/api-keys", headers=other)),
    )
    for _ in range(5):
        for name, call in calls:
            began = time.monotonic()
            answer = call()
            assert answer.status_code < 300, answer.text
            slowest[name] = max(slowest.get(name, 0.0), time.monotonic() - began)
    assert refresher.is_alive(), "the refresh should still be waiting for the provider"
    assert all(seconds < 0.5 for seconds in slowest.values()), slowest

    refresher.join(timeout=STALL_MS / 1000 + 30)
    assert time.monotonic() - started >= STALL_MS / 1000
    assert refreshed and refreshed[0].token != old.token
    # Everyone else now gets the refreshed token, and the lease is over.
    assert access_token(svc.db, svc.vault, svc.settings, connection_id) == refreshed[0]
    assert not _lease_taken(svc, connection_id)
    svc.db.dispose()
