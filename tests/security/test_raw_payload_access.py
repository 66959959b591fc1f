"""Raw provider payloads need the developer role: viewers see unified records only.

The attack: a viewer read the provider's own payloads (names, e-mail and postal
addresses) with ``include_remote_data``, and single-record reads included them by
default. Now a viewer asking for them gets 403, and a viewer's single-record read leaves
them out; developers and above read them as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.connections.models import Connection
from ledgerbridge.services import Services
from ledgerbridge.sync import engine, service
from tests.conftest import make_settings
from tests.connections.conftest import accounts, connect


@pytest.fixture
def svc(database_url: str, sandbox_url: str, tmp_path: Path) -> Iterator[Services]:
    services = Services.build(make_settings(database_url, tmp_path, sandbox_url=sandbox_url))
    yield services
    services.db.dispose()


@pytest.fixture
def lb(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc=svc), raise_server_exceptions=False) as client:
        yield client


def _sync_contacts(svc: Services, connection_id: int) -> None:
    """The sync workflow's steps, in-process, for one object type."""
    with svc.db.system() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        run, _ = service.request_sync(
            session,
            connection,
            wanted=["Contacts"],
            full_resync=False,
            trigger="api",
            requested_by="test",
        )
        run_id = run.id
    plan = engine.start_run(svc, run_id)
    assert engine.pull_object_type(svc, plan, "Contacts") is None
    engine.finish_run(svc, run_id, {})


def test_viewers_get_unified_records_and_never_the_raw_payload(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    org = accounts(sandbox, "xero")[0]["account_id"]
    [made] = connect(lb, auth(tenant), "xero", [org])
    _sync_contacts(svc, int(made["id"]))
    records = f"/v1/connections/{made['id']}/records/contact"
    viewer, developer = auth(tenant, "viewer"), auth(tenant, "developer")

    listed = lb.get(records, headers=viewer)
    assert listed.status_code == 200 and listed.json()["data"]
    assert all(r["remote_data"] is None for r in listed.json()["data"])
    asked = lb.get(records, params={"include_remote_data": "true"}, headers=viewer)
    assert asked.status_code == 403 and asked.json()["error"] == "forbidden"
    assert "developer" in asked.json()["message"]

    one = f"{records}/{listed.json()['data'][0]['id']}"
    read = lb.get(one, headers=viewer)
    assert read.status_code == 200 and read.json()["remote_data"] is None
    assert read.json()["data"]  # the unified record itself is there
    assert lb.get(one, params={"include_remote_data": "true"}, headers=viewer).status_code == 403
    assert lb.get(one, params={"include_remote_data": "false"}, headers=viewer).status_code == 200

    for headers in (developer, auth(tenant, "admin"), auth(tenant, "owner")):
        assert lb.get(one, headers=headers).json()["remote_data"]
        rich = lb.get(records, params={"include_remote_data": "true"}, headers=headers).json()
        assert all(r["remote_data"] for r in rich["data"])
    assert lb.get(records, headers=developer).json()["data"][0]["remote_data"] is None


def test_the_documented_answers_say_so(lb: TestClient) -> None:
    spec = lb.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/connections/{connection_id}/records/{model}",
        "/v1/connections/{connection_id}/records/{model}/{record_id}",
    ):
        get = spec[path]["get"]
        assert "403" in get["responses"]
        [param] = [p for p in get["parameters"] if p["name"] == "include_remote_data"]
        assert "developer" in param["description"]
