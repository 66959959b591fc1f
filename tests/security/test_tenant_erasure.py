"""A tenant can erase its data: ``DELETE /v1/tenant-data`` (owner), durable, reported.

Two tenants each connect an account, sync it and import a statement, over a real
``ledgerbridge up`` (DBOS workers) on SQLite and PostgreSQL. The first erases its data:
the report counts what went, its tables hold none of its rows, its tokens are wiped and
refused by the provider, and every row of the other tenant is exactly as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ledgerbridge import runtime
from ledgerbridge.app import create_app
from ledgerbridge.connections.models import OAuthGrant
from ledgerbridge.erasure.service import TABLES
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from ledgerbridge.tables import metadata
from tests.conftest import make_settings
from tests.connections.conftest import accounts
from tests.processes import Service, service
from tests.processes import connect as connect_over_http
from tests.support import REPO

STATEMENT = REPO / "tests" / "reconcile" / "fixtures" / "statement.ofx"
FINISHED = ("succeeded", "failed")


def _rows(svc: Services, tenant: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    with svc.db.system() as session:
        for name in (*TABLES, "connections", "oauth_grants"):
            table = metadata.tables[name]
            counts[name] = (
                session.scalar(
                    select(func.count()).select_from(table).where(table.c.tenant_id == tenant)
                )
                or 0
            )
    return counts


def _until(check: Any, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"not done after {seconds}s")


def _populate(lb: Service, headers: dict[str, str], realm: str) -> str:
    connection_id = connect_over_http(lb, headers, "quickbooks", realm)
    run = httpx.post(f"{lb.url}/v1/connections/{connection_id}/syncs", json={}, headers=headers)
    assert run.status_code == 202, run.text
    run_url = f"{lb.url}/v1/sync-runs/{run.json()['sync_run_id']}"
    status = _until(
        lambda: (s := httpx.get(run_url, headers=headers).json()["status"]) in FINISHED and s
    )
    assert status == "succeeded"
    with STATEMENT.open("rb") as file:
        imported = httpx.post(
            f"{lb.url}/v1/statements", files={"file": (STATEMENT.name, file)}, headers=headers
        )
    assert imported.status_code == 201, imported.text
    return connection_id


def test_erasure_removes_one_tenant_and_leaves_the_other_as_it_was(
    database: str, sandbox_url: str, tmp_path: Path, auth: Any
) -> None:
    sandbox = httpx.Client(base_url=sandbox_url, timeout=30)
    realms = [a["account_id"] for a in accounts(sandbox, "quickbooks")][:2]
    gone, kept = "org-erased", "org-kept"
    # Webhooks to a loopback port where nothing listens: deliveries and failed attempts.
    private = {"LEDGERBRIDGE_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true"}
    with service(database, sandbox_url, tmp_path, **private) as lb:
        hook = httpx.post(
            f"{lb.url}/v1/webhook-endpoints",
            json={"url": "http://127.0.0.1:9/hook", "event_types": ["connection.created"]},
            headers=auth(gone, "admin"),
        )
        assert hook.status_code == 201, hook.text
        connection_id = _populate(lb, auth(gone), realms[0])
        _populate(lb, auth(kept), realms[1])
        svc = Services.build(make_settings(database, tmp_path / "data", sandbox_url=sandbox_url))
        _until(lambda: _rows(svc, gone)["webhook_attempts"] > 0)
        before, others_before = _rows(svc, gone), _rows(svc, kept)
        held = ("records", "raw_objects", "statement_lines", "events", "webhook_deliveries")
        assert all(before[t] > 0 for t in held), before

        refused = httpx.delete(f"{lb.url}/v1/tenant-data", headers=auth(gone, "admin"))
        assert refused.status_code == 403
        accepted = httpx.delete(f"{lb.url}/v1/tenant-data", headers=auth(gone, "owner"))
        assert accepted.status_code == 202, accepted.text
        report_url = f"{lb.url}{accepted.headers['location']}"
        report = _until(
            lambda: (
                (r := httpx.get(report_url, headers=auth(gone, "owner")).json())["status"]
                in FINISHED
                and r
            )
        )
        assert report["status"] == "succeeded", report
        assert report["started_at"] and report["finished_at"]
        assert report["counts"]["connections_disconnected"] == 1
        for table in ("records", "raw_objects", "sync_states", "statements", "statement_lines"):
            assert report["counts"][table] == before[table], (table, report["counts"])
        assert httpx.get(report_url, headers=auth(kept, "owner")).status_code == 404

        after = _rows(svc, gone)
        assert all(after[t] == 0 for t in TABLES if t != "events"), after
        assert after["events"] == 1  # the one saying the data was erased
        assert after["connections"] == 1  # kept as history, disconnected, without tokens
        with svc.db.system() as session:
            grants = session.scalars(select(OAuthGrant).where(OAuthGrant.tenant_id == gone))
            assert all(g.access_token is None and g.refresh_token is None for g in grants)
        records = httpx.get(
            f"{lb.url}/v1/connections/{connection_id}/records/invoice", headers=auth(gone)
        )
        assert records.status_code == 200 and records.json()["data"] == []
        assert _rows(svc, kept) == others_before
        svc.db.dispose()


@pytest.fixture
def lb_settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def lb(lb_settings: Settings) -> Iterator[TestClient]:
    runtime.migrate(lb_settings)  # DBOS's tables: the erasure is queued for real
    with TestClient(create_app(lb_settings), raise_server_exceptions=False) as client:
        yield client


def test_a_second_request_joins_the_erasure_under_way(
    lb: TestClient, auth: Any, tenant: str
) -> None:
    """No worker runs here: the first erasure stays queued, and every request returns it."""
    first = lb.delete("/v1/tenant-data", headers=auth(tenant, "owner"))
    second = lb.delete("/v1/tenant-data", headers=auth(tenant, "owner"))
    assert first.status_code == second.status_code == 202, first.text
    assert first.json()["id"] == second.json()["id"]
    assert first.json()["status"] == "queued"
    other = lb.delete("/v1/tenant-data", headers=auth(tenant + "-b", "owner"))
    assert other.json()["id"] != first.json()["id"]
    for role in ("viewer", "developer", "admin"):
        assert lb.delete("/v1/tenant-data", headers=auth(tenant, role)).status_code == 403
    report = lb.get(first.headers["location"], headers=auth(tenant, "owner"))
    assert report.status_code == 200 and report.json()["counts"] == {}
