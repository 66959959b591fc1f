"""Each process keeps the decrypted access token until shortly before it expires: a hit
reads nothing from the database, a refresh replaces it, and a token another process
refreshed is picked up at the 401 the cached one draws."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.connections.http import connection_client
from ledgerbridge.connections.tokens import access_token
from ledgerbridge.providers import Provider
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from tests.connections.conftest import accounts, connect
from tests.connections.tokens_support import job_settings, refresh_in_another_process, statements


def _ledger(sandbox: httpx.Client) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = sandbox.get("/_sandbox/ledger").json()["entries"]
    return entries


def _refreshes(sandbox: httpx.Client) -> int:
    return sum(1 for e in _ledger(sandbox) if e["grant_type"] == "refresh_token")


@pytest.mark.sandbox(settings={"rate_limits": False})
def test_hits_read_nothing_refreshes_replace_and_another_process_is_heard_at_a_401(
    lb: TestClient, sandbox: httpx.Client, lb_settings: Settings, auth: Any, tenant: str
) -> None:
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "quickbooks", [realm])
    connection_id = int(connection["id"])
    svc = Services.build(lb_settings)
    sandbox.delete("/_sandbox/ledger")

    with statements(svc.db) as first_reads:
        first = access_token(svc.db, svc.vault, lb_settings, connection_id)
    assert first_reads, "the first ask reads the grant"
    with statements(svc.db) as hit_reads:
        again = access_token(svc.db, svc.vault, lb_settings, connection_id)
    assert again == first
    assert hit_reads == []

    # A 401 with the cached token: refreshed once, and the new token is what is cached.
    refreshed = access_token(svc.db, svc.vault, lb_settings, connection_id, rejected=first.token)
    assert refreshed.token != first.token
    assert _refreshes(sandbox) == 1
    with statements(svc.db) as after_refresh:
        assert access_token(svc.db, svc.vault, lb_settings, connection_id) == refreshed
    assert after_refresh == []

    # The provider's clock moves on (our token has expired there), and another process
    # refreshes meanwhile. This one still holds the old token: its next call draws a 401,
    # it reads the grant again and uses the other process's token, refreshing nothing.
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 7200}).raise_for_status()
    job = {"settings": job_settings(lb_settings), "connection_id": connection_id}
    elsewhere = refresh_in_another_process({**job, "rejected": refreshed.token})
    assert _refreshes(sandbox) == 2
    with statements(svc.db) as stale_reads:
        assert access_token(svc.db, svc.vault, lb_settings, connection_id) == refreshed
    assert stale_reads == [], "the cache serves until a provider refuses the token"

    async def call() -> httpx.Response:
        async with connection_client(svc, connection_id, Provider.quickbooks, realm) as http:
            return await http.get(f"/companyinfo/{realm}")

    sandbox.delete("/_sandbox/ledger")
    answer = asyncio.run(call())
    assert answer.status_code == 200
    assert answer.request.headers["Authorization"] == f"Bearer {elsewhere}"
    statuses = [e["status"] for e in _ledger(sandbox)]
    assert statuses.count(401) == 1
    assert _refreshes(sandbox) == 0
    with statements(svc.db) as picked_up:
        assert access_token(svc.db, svc.vault, lb_settings, connection_id).token == elsewhere
    assert picked_up == []


@pytest.mark.sandbox(settings={"rate_limits": False})
def test_disconnecting_forgets_the_token_in_this_process(
    lb: TestClient, sandbox: httpx.Client, lb_settings: Settings, auth: Any, tenant: str
) -> None:
    from ledgerbridge.connections.service import disconnect
    from ledgerbridge.connections.tokens import NeedsReauth

    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "quickbooks", [realm])
    connection_id = int(connection["id"])
    svc = Services.build(lb_settings)
    access_token(svc.db, svc.vault, lb_settings, connection_id)
    assert disconnect(svc.db, tenant_id=tenant, connection_id=connection_id) is not None
    with pytest.raises(NeedsReauth):
        access_token(svc.db, svc.vault, lb_settings, connection_id)
