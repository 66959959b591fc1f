"""A 401 from a data call triggers one refresh and one retry, never a loop."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.connections.http import connection_client
from ledgerbridge.providers import Provider
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from tests.connections.conftest import accounts, connect


def _get(svc: Services, connection_id: int, realm: str) -> httpx.Response:
    async def call() -> httpx.Response:
        async with connection_client(svc, connection_id, Provider.quickbooks, realm) as http:
            return await http.get(f"/companyinfo/{realm}")

    return asyncio.run(call())


def _refreshes(sandbox: httpx.Client) -> int:
    entries = sandbox.get("/_sandbox/ledger").json()["entries"]
    return sum(1 for e in entries if e["grant_type"] == "refresh_token")


@pytest.mark.sandbox(settings={"rate_limits": False})
def test_an_unexpectedly_expired_token_is_refreshed_once_and_the_call_retried(
    lb: TestClient, sandbox: httpx.Client, lb_settings: Settings, auth: Any, tenant: str
) -> None:
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "quickbooks", [realm])
    svc = Services.build(lb_settings)
    # The provider's clock moves on: our stored token looks valid but the provider says 401.
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 7200}).raise_for_status()
    sandbox.delete("/_sandbox/ledger")
    answer = _get(svc, int(connection["id"]), realm)
    assert answer.status_code == 200
    assert _refreshes(sandbox) == 1
    statuses = [e["status"] for e in sandbox.get("/_sandbox/ledger").json()["entries"]]
    assert statuses.count(401) == 1

    # A grant revoked at the provider: one refresh attempt, refused, and no loop.
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 7200}).raise_for_status()
    grants = sandbox.post(
        "/_sandbox/grants/revoke", json={"provider": "quickbooks", "account_id": realm}
    )
    assert grants.status_code < 300, grants.text
    sandbox.delete("/_sandbox/ledger")
    from ledgerbridge.connections.tokens import NeedsReauth

    with pytest.raises(NeedsReauth):
        _get(svc, int(connection["id"]), realm)
    assert _refreshes(sandbox) == 1
    status = lb.get(f"/v1/connections/{connection['id']}", headers=auth(tenant)).json()
    assert status["status"] == "needs_reauth"
    events = lb.get("/v1/events?type=connection.needs_reauth", headers=auth(tenant)).json()
    assert len(events["data"]) == 1
    svc.db.dispose()
