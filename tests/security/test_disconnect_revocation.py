"""Disconnect revokes and wipes; reconnect supersedes; no transaction waits on a provider.

The attack: a disconnected (or reconnected) account's old tokens kept working at the
provider, and stayed in our database, for as long as the provider let them live. Now
every token a connection let go of is refused by the sandbox and gone from our rows; a
revocation that fails is logged and retried durably until the provider has it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.connections import revocation
from ledgerbridge.connections.models import Connection, OAuthGrant
from ledgerbridge.connections.tokens import read_token
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from tests.conftest import make_settings
from tests.connections.conftest import accounts, connect
from tests.processes import ORG, service
from tests.processes import connect as connect_over_http

REVOKE_PATH = "/quickbooks/oauth2/v1/tokens/revoke"


@pytest.fixture
def lb_settings(database_url: str, sandbox_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, sandbox_url=sandbox_url)


@pytest.fixture
def svc(lb_settings: Settings) -> Iterator[Services]:
    services = Services.build(lb_settings)
    yield services
    services.db.dispose()


@pytest.fixture
def lb(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc=svc), raise_server_exceptions=False) as client:
        yield client


def _grant_of(svc: Services, connection_id: str) -> OAuthGrant:
    with svc.db.system() as session:
        connection = session.get(Connection, int(connection_id))
        assert connection is not None and connection.grant_id is not None
        grant = session.get(OAuthGrant, connection.grant_id)
        assert grant is not None
        session.expunge(grant)
        return grant


def _tokens(svc: Services, grant: OAuthGrant) -> tuple[str, str]:
    access, refresh = (
        read_token(svc.vault, grant, "access"),
        read_token(svc.vault, grant, "refresh"),
    )
    assert access and refresh
    return access, refresh


def _reload(svc: Services, grant_id: int) -> OAuthGrant:
    with svc.db.system() as session:
        grant = session.get(OAuthGrant, grant_id)
        assert grant is not None
        session.expunge(grant)
        return grant


def _provider_accepts(
    settings: Settings, sandbox_url: str, realm: str, access: str, refresh: str
) -> tuple[bool, bool]:
    """Whether the sandbox still takes the access token for data, the refresh token for a
    new one (a refused refresh leaves the grant's other tokens as they were)."""
    data = httpx.get(
        f"{sandbox_url}/quickbooks/v3/company/{realm}/companyinfo/{realm}",
        headers={"Authorization": f"Bearer {access}", "Accept": "application/json"},
    )
    client_id, secret = settings.oauth_client("quickbooks") or ("", "")
    renewed = httpx.post(
        f"{sandbox_url}/quickbooks/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
        auth=(client_id, secret),
    )
    assert data.status_code in (200, 401) and renewed.status_code in (200, 400), renewed.text
    return data.status_code == 200, renewed.status_code == 200


def test_disconnect_revokes_and_wipes_the_grant(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    [made] = connect(lb, auth(tenant), "quickbooks", [realm])
    grant = _grant_of(svc, made["id"])
    access, refresh = _tokens(svc, grant)

    gone = lb.delete(f"/v1/connections/{made['id']}", headers=auth(tenant))
    assert gone.status_code == 200 and gone.json()["status"] == "disconnected"
    wiped = _reload(svc, grant.id)
    assert wiped.access_token is None and wiped.refresh_token is None and wiped.revoked_at
    url = str(sandbox.base_url).rstrip("/")
    assert _provider_accepts(svc.settings, url, realm, access, refresh) == (False, False)
    again = lb.delete(f"/v1/connections/{made['id']}", headers=auth(tenant))
    assert again.status_code == 200  # disconnecting twice is harmless


def test_reconnect_supersedes_revokes_and_wipes_the_old_grant(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    url = str(sandbox.base_url).rstrip("/")
    [first] = connect(lb, auth(tenant), "quickbooks", [realm])
    old = _grant_of(svc, first["id"])
    old_access, old_refresh = _tokens(svc, old)

    [again] = connect(lb, auth(tenant), "quickbooks", [realm])
    assert again["id"] == first["id"]
    new = _grant_of(svc, again["id"])
    assert new.id != old.id
    superseded = _reload(svc, old.id)
    assert superseded.access_token is None and superseded.refresh_token is None
    assert _provider_accepts(svc.settings, url, realm, old_access, old_refresh) == (False, False)
    new_access, _ = _tokens(svc, new)
    data = httpx.get(
        f"{url}/quickbooks/v3/company/{realm}/companyinfo/{realm}",
        headers={"Authorization": f"Bearer {new_access}", "Accept": "application/json"},
    )
    assert data.status_code == 200  # the new consent is untouched


def test_lightspeed_has_no_revocation_and_is_wiped(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    store = accounts(sandbox, "lightspeed")[0]["account_id"]
    [made] = connect(lb, auth(tenant), "lightspeed", [store])
    grant = _grant_of(svc, made["id"])
    sandbox.delete("/_sandbox/ledger")
    assert lb.delete(f"/v1/connections/{made['id']}", headers=auth(tenant)).status_code == 200
    wiped = _reload(svc, grant.id)
    assert wiped.access_token is None and wiped.refresh_token is None
    assert sandbox.get("/_sandbox/ledger").json()["entries"] == []


def test_xero_keeps_the_consent_for_the_other_organisation_until_it_goes_too(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    orgs = [o["account_id"] for o in accounts(sandbox, "xero")]
    first, second = connect(lb, auth(tenant), "xero", orgs)
    grant = _grant_of(svc, second["id"])
    assert lb.delete(f"/v1/connections/{first['id']}", headers=auth(tenant)).status_code == 200
    assert _reload(svc, grant.id).refresh_token is not None  # the second one still uses it
    paths = [(e["method"], e["path"]) for e in sandbox.get("/_sandbox/ledger").json()["entries"]]
    assert any(m == "DELETE" and p.startswith("/xero/connections/") for m, p in paths)
    assert lb.delete(f"/v1/connections/{second['id']}", headers=auth(tenant)).status_code == 200
    assert _reload(svc, grant.id).refresh_token is None


def test_the_sweep_finds_grants_left_holding_tokens_and_revokes_them(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    """What an earlier version left behind (a reconnect kept the old grant's tokens): the
    hourly sweep's query finds exactly such grants, and revoking one wipes it."""
    realms = [a["account_id"] for a in accounts(sandbox, "quickbooks")][:2]
    url = str(sandbox.base_url).rstrip("/")
    [left] = connect(lb, auth(tenant), "quickbooks", [realms[0]])
    [used] = connect(lb, auth(tenant), "quickbooks", [realms[1]])
    legacy, in_use = _grant_of(svc, left["id"]), _grant_of(svc, used["id"])
    access, refresh = _tokens(svc, legacy)
    with svc.db.system() as session:  # the old behaviour: the grant let go of, tokens kept
        row = session.get(Connection, int(left["id"]))
        assert row is not None
        row.grant_id = None
    pending = revocation.unrevoked(svc.db)
    assert legacy.id in pending and in_use.id not in pending

    revocation.revoke(svc.db, svc.vault, svc.settings, revocation.Pending(legacy.id))
    assert legacy.id not in revocation.unrevoked(svc.db)
    assert _reload(svc, legacy.id).refresh_token is None
    assert _provider_accepts(svc.settings, url, realms[0], access, refresh) == (False, False)


def test_no_request_waits_on_a_slow_revocation(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    """Issue 23: the revocation runs with no transaction or row lock open. While the
    provider takes 8 s to answer, a write to the same connection row and another
    tenant's write both finish before the disconnect does."""
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    [made] = connect(lb, auth(tenant), "quickbooks", [realm])
    rule = {"provider": "quickbooks", "kind": "latency", "latency_ms": 8000}
    assert sandbox.post("/_sandbox/faults", json={**rule, "path_prefix": REVOKE_PATH}).is_success
    finished: list[str] = []

    def disconnect() -> None:
        assert lb.delete(f"/v1/connections/{made['id']}", headers=auth(tenant)).status_code == 200
        finished.append("disconnect")

    slow = threading.Thread(target=disconnect)
    slow.start()
    # The status is committed before the provider is called: from then on, it is waiting.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _disconnected(lb, auth(tenant), made["id"]):
        time.sleep(0.05)
    same_row = lb.patch(
        f"/v1/connections/{made['id']}/sync-schedule",
        json={"sync_paused": True},
        headers=auth(tenant),
    )
    other = lb.post("/v1/connections/xero/authorize", json={}, headers=auth(tenant + "-b"))
    finished.append("others")
    slow.join(timeout=60)
    assert same_row.status_code == 200 and other.status_code == 200
    assert finished == ["others", "disconnect"]


def _disconnected(lb: TestClient, headers: dict[str, str], connection_id: str) -> bool:
    row = lb.get(f"/v1/connections/{connection_id}", headers=headers).json()
    return bool(row["status"] == "disconnected")


def test_a_failed_revocation_is_logged_and_retried_until_it_lands(
    database: str, sandbox_url: str, tmp_path: Path, auth: Any
) -> None:
    """A real ``ledgerbridge up`` (DBOS workers): the provider fails the first two
    revocations; the disconnect answers at once, logs the failure without a token, and a
    durable retry lands the revocation."""
    sandbox = httpx.Client(base_url=sandbox_url, timeout=30)
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    with service(database, sandbox_url, tmp_path) as lb:
        connection_id = connect_over_http(lb, auth(ORG), "quickbooks", realm)
        settings = make_settings(database, tmp_path / "data", sandbox_url=sandbox_url)
        svc = Services.build(settings)
        grant = _grant_of(svc, connection_id)
        access, refresh = _tokens(svc, grant)
        fault = {"provider": "quickbooks", "kind": "error", "status": 503, "count": 2}
        assert sandbox.post("/_sandbox/faults", json={**fault, "path_prefix": REVOKE_PATH})
        gone = httpx.delete(f"{lb.url}/v1/connections/{connection_id}", headers=auth(ORG))
        assert gone.status_code == 200, gone.text
        deadline = time.monotonic() + 60
        while _reload(svc, grant.id).refresh_token is not None and time.monotonic() < deadline:
            time.sleep(0.25)
        assert _reload(svc, grant.id).refresh_token is None, "the retry never landed"
        svc.db.dispose()
    attempts = sandbox.get("/_sandbox/ledger", params={"path_prefix": REVOKE_PATH}).json()
    assert [e["fault"] for e in attempts["entries"]] == ["error", "error", None]
    assert _provider_accepts(settings, sandbox_url, realm, access, refresh) == (False, False)
    lines = [_json(x) for x in (tmp_path / "service.log").read_text().splitlines()]
    failures = [x for x in lines if x.get("event") == "provider_revocation_failed"]
    assert failures and all(x["grant_id"] == grant.id for x in failures)
    text = (tmp_path / "service.log").read_text()
    assert access not in text and refresh not in text


def _json(line: str) -> dict[str, Any]:
    try:
        found = json.loads(line)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
