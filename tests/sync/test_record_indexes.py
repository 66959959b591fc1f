"""Each records filter is answered through an index (PostgreSQL's plans, read with EXPLAIN
for the very statements the API runs, over enough rows, analysed, to make a scan costly)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from ledgerbridge.app import create_app
from ledgerbridge.connections.models import Connection
from ledgerbridge.services import Services
from ledgerbridge.sync.models import RECORD_FILTER_INDEXES
from tests.conftest import TokenFactory, make_settings

ROWS_PER_CONNECTION = 12_000
MODELS = ("invoice", "payment", "contact", "item")
STATUSES = ("draft", "submitted", "open", "paid", "void", "deleted")
CURRENCIES = ("NZD", "AUD", "USD", "GBP", "JPY", "EUR", "CAD", "SGD")


@pytest.fixture
def svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    if not database_url.startswith("postgresql"):
        pytest.skip("reads PostgreSQL's plans")
    services = Services.build(make_settings(database_url, tmp_path))
    yield services
    services.db.dispose()


def _connections(svc: Services, tenant: str, count: int) -> list[int]:
    made = []
    with svc.db.tenant(tenant) as session:
        for provider in ("xero", "quickbooks", "lightspeed")[:count]:
            connection = Connection(
                provider=provider,
                external_account_id=secrets.token_hex(8),
                external_account_name="books",
                connected_by="test",
            )
            session.add(connection)
            session.flush()
            made.append(connection.id)
    return made


def _fill(svc: Services, tenant: str, connection_id: int) -> None:
    """Records spread over models, statuses, contacts, two years of dates and currencies."""
    with svc.db.system() as session:
        session.execute(
            text(
                "INSERT INTO records (tenant_id, connection_id, model, object_type, remote_id,"
                " remote_was_deleted, data, status, contact_remote_id, business_date, currency,"
                " created_at, updated_at)"
                " SELECT :tenant, :connection, (CAST(:models AS text[]))[1 + i % 4],"
                " 'T' || (i % 4), 'r-' || i, false, '{}',"
                " (CAST(:statuses AS text[]))[1 + (i / 4) % 6], 'c-' || (i % 900),"
                " DATE '2025-01-01' + (i % 730), (CAST(:currencies AS text[]))[1 + (i / 24) % 8],"
                " now(), now()"
                " FROM generate_series(1, :rows) AS i"
            ),
            {
                "tenant": tenant,
                "connection": connection_id,
                "models": list(MODELS),
                "statuses": list(STATUSES),
                "currencies": list(CURRENCIES),
                "rows": ROWS_PER_CONNECTION,
            },
        )


# filter column → query parameters selecting a few of the tenant's invoices
FILTERS: dict[str, dict[str, str]] = {
    "status": {"status": "draft"},
    "contact_remote_id": {"contact_remote_id": "c-16"},
    "business_date": {"date_from": "2025-06-01", "date_to": "2025-06-03"},
    "currency": {"currency": "JPY"},
    "remote_id": {"remote_id": "r-4000"},
}


def _statements(
    svc: Services, client: TestClient, url: str, params: dict[str, str], headers: dict[str, str]
) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM records" in statement and "ORDER BY records.id" in statement:
            seen.append((statement, parameters))

    event.listen(svc.db.engine, "before_cursor_execute", capture)
    try:
        answer = client.get(url, params={**params, "limit": 20}, headers=headers)
    finally:
        event.remove(svc.db.engine, "before_cursor_execute", capture)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"], (url, params)  # the filter finds rows: the plan is real
    assert len(seen) == 1, seen
    return seen


def _plan(svc: Services, tenant: str, statement: str, parameters: Any) -> str:
    with svc.db.engine.connect() as connection, connection.begin():
        connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant})
        rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
    return "\n".join(row[0] for row in rows)


def test_every_filter_reads_an_index(svc: Services, auth: TokenFactory, tenant: str) -> None:
    mine = _connections(svc, tenant, 3)
    theirs = _connections(svc, tenant + "-other", 2)
    for connection_id in mine:
        _fill(svc, tenant, connection_id)
    for connection_id in theirs:
        _fill(svc, tenant + "-other", connection_id)
    with svc.db.engine.connect() as connection, connection.begin():
        connection.execute(text("ANALYZE records"))

    headers = auth(tenant, "viewer")
    with TestClient(create_app(svc=svc), raise_server_exceptions=False) as client:
        for column, params in FILTERS.items():
            [(statement, parameters)] = _statements(
                svc, client, "/v1/records/invoice", params, headers
            )
            plan = _plan(svc, tenant, statement, parameters)
            assert RECORD_FILTER_INDEXES[column] in plan, (column, plan)
            assert "Seq Scan on records" not in plan, (column, plan)

            url = f"/v1/connections/{mine[1]}/records/invoice"
            [(statement, parameters)] = _statements(svc, client, url, params, headers)
            plan = _plan(svc, tenant, statement, parameters)
            assert RECORD_FILTER_INDEXES[column] in plan, (column, plan)
            assert "Seq Scan on records" not in plan, (column, plan)
