"""No request can reach another tenant's data: the ORM filter and PostgreSQL's RLS."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from ledgerbridge.connections.models import Connection
from ledgerbridge.db.engine import Database
from ledgerbridge.erasure.models import ErasureStatus, TenantErasure
from ledgerbridge.push.models import Operation
from ledgerbridge.reconcile.models import (
    ReconciliationJob,
    ReconciliationRun,
    RunMatch,
    Statement,
)
from ledgerbridge.security.models import ApiKey
from ledgerbridge.security.tokens import TokenVerifier
from ledgerbridge.settings import Settings
from ledgerbridge.sync.models import RawObject, Record, SyncRun
from ledgerbridge.webhooks.models import WebhookDelivery, WebhookEndpoint

# How to make a resource of tenant A for each path parameter the API has. A new route with
# a new path parameter must add its maker here, or the test below fails and says so.
Maker = Callable[[TestClient, dict[str, str], Settings], str]


def _connection(settings: Settings, tenant: str) -> str:
    db = Database.connect(settings)
    with db.tenant(tenant) as session:
        row = Connection(
            provider="xero",
            external_account_id=secrets.token_hex(8),
            external_account_name="A's books",
            connected_by="test",
        )
        session.add(row)
        session.flush()
        made = str(row.id)
    db.dispose()
    return made


def _sync_run(settings: Settings, tenant: str) -> str:
    connection_id = int(_connection(settings, tenant))
    db = Database.connect(settings)
    with db.tenant(tenant) as session:
        run = SyncRun(
            connection_id=connection_id, object_types=["Invoices"], trigger="api", requested_by="t"
        )
        session.add(run)
        session.flush()
        made = str(run.id)
    db.dispose()
    return made


def _record(settings: Settings, tenant: str) -> str:
    connection_id = int(_connection(settings, tenant))
    db = Database.connect(settings)
    with db.tenant(tenant) as session:
        raw = RawObject(
            connection_id=connection_id,
            object_type="Invoices",
            external_id="x",
            payload="{}",
            content_hash="0" * 64,
        )
        session.add(raw)
        session.flush()
        record = Record(
            connection_id=connection_id,
            model="invoice",
            object_type="Invoices",
            remote_id="x",
            data="{}",
            raw_object_id=raw.id,
        )
        session.add(record)
        session.flush()
        made = str(record.id)
    db.dispose()
    return made


def _erasure(settings: Settings, tenant: str) -> str:
    """A finished erasure report (running one would erase the tenant's other rows)."""
    with Database.connect(settings).tenant(tenant) as session:
        erasure = TenantErasure(requested_by="t", status=ErasureStatus.succeeded.value)
        session.add(erasure)
        session.flush()
        return str(erasure.id)


def _operation(settings: Settings, tenant: str) -> str:
    connection_id = int(_connection(settings, tenant))
    db = Database.connect(settings)
    with db.tenant(tenant) as session:
        operation = Operation(
            uid=secrets.token_hex(16),
            connection_id=connection_id,
            model="contact",
            action="create",
            body={"name": "x"},
            request_hash="0" * 64,
            requested_by="t",
            status="failed",
        )
        session.add(operation)
        session.flush()
        made = str(operation.id)
    db.dispose()
    return made


def _reconciliation(settings: Settings, tenant: str) -> dict[str, str]:
    """A statement, a job reading it, a finished run of that job and one match."""
    db = Database.connect(settings)
    with db.tenant(tenant) as session:
        statement = Statement(
            name="s",
            format="csv",
            content_hash=secrets.token_hex(32),
            line_count=0,
            currencies=[],
            imported_by="t",
        )
        session.add(statement)
        session.flush()
        source = {"type": "statement", "statement_id": str(statement.id)}
        job = ReconciliationJob(
            name="j", left_source=source, right_source=source, config={}, created_by="t"
        )
        session.add(job)
        session.flush()
        run = ReconciliationRun(
            job_id=job.id, config={}, trigger="api", requested_by="t", status="succeeded"
        )
        session.add(run)
        session.flush()
        match = RunMatch(
            run_id=run.id,
            position=0,
            status="suggested",
            score=0.7,
            rule="amount",
            left_ids=["line:1"],
            right_ids=["line:2"],
            evidence=[],
            explanation="",
        )
        session.add(match)
        session.flush()
        made = {
            "statement_id": str(statement.id),
            "job_id": str(job.id),
            "run_id": str(run.id),
            "match_id": str(match.id),
        }
    db.dispose()
    return made


def _webhook(settings: Settings, tenant: str) -> dict[str, str]:
    """An endpoint and one finished delivery to it (made directly: registering one through
    the API resolves its URL)."""
    db = Database.connect(settings)
    with db.tenant(tenant) as session:
        endpoint = WebhookEndpoint(
            url="https://hooks.example.com/x", secret="v1.x.y", created_by="t"
        )
        session.add(endpoint)
        session.flush()
        delivery = WebhookDelivery(
            endpoint_id=endpoint.id,
            message_id=f"msg_{secrets.token_hex(16)}",
            event_type="webhook.test",
            payload="{}",
            status="failed",
        )
        session.add(delivery)
        session.flush()
        made = {"endpoint_id": str(endpoint.id), "delivery_id": str(delivery.id)}
    db.dispose()
    return made


def _tenant_of(headers: dict[str, str], settings: Settings) -> str:
    return TokenVerifier(settings).verify(headers["Authorization"].split()[1]).tenant_id


def _mapping(kind: str) -> Maker:
    def make(client: TestClient, headers: dict[str, str], settings: Settings) -> str:
        external_id = f"ext-{secrets.token_hex(4)}"
        connection_id = _connection(settings, _tenant_of(headers, settings))
        response = client.put(
            f"/v1/{kind}-mappings/{external_id}",
            json={"connection_id": connection_id},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        return external_id

    return make


MAKERS: dict[str, Maker] = {
    "key_id": lambda client, headers, _settings: client.post(
        "/v1/api-keys", json={"name": "a"}, headers=headers
    ).json()["id"],
    "connection_id": lambda _client, headers, settings: _connection(
        settings, _tenant_of(headers, settings)
    ),
    "sync_run_id": lambda _client, headers, settings: _sync_run(
        settings, _tenant_of(headers, settings)
    ),
    "record_id": lambda _client, headers, settings: _record(
        settings, _tenant_of(headers, settings)
    ),
    "operation_id": lambda _client, headers, settings: _operation(
        settings, _tenant_of(headers, settings)
    ),
    **{
        name: lambda _client, headers, settings, name=name: _reconciliation(
            settings, _tenant_of(headers, settings)
        )[name]
        for name in ("statement_id", "job_id", "run_id", "match_id")
    },
    "erasure_id": lambda _client, headers, settings: _erasure(
        settings, _tenant_of(headers, settings)
    ),
    **{
        name: lambda _client, headers, settings, name=name: _webhook(
            settings, _tenant_of(headers, settings)
        )[name]
        for name in ("endpoint_id", "delivery_id")
    },
    "model": lambda _client, _headers, _settings: "invoice",
    "external_org_id": _mapping("organisation"),
    "external_location_id": _mapping("location"),
}
# Path parameters that name no tenant's resource (the same for everyone).
NOT_IDS = {"provider", "model"}


# A valid body for each request schema, so a route answers for its ids, not for the body.
BODIES: dict[str, dict[str, object]] = {
    "InvoiceWrite": {
        "contact_remote_id": "c-1",
        "issue_date": "2026-11-01",
        "currency": "NZD",
        "lines": [{"description": "x", "unit_amount": "1.00"}],
    },
    "PurchaseOrderWrite": {
        "contact_remote_id": "c-1",
        "issue_date": "2026-11-01",
        "currency": "NZD",
        "lines": [{"description": "x", "unit_amount": "1.00"}],
    },
    "ContactWrite": {"name": "Someone"},
    "ManualMatchIn": {"left_ids": ["line:1"], "right_ids": ["line:2"]},
}


def _valid_body(app: FastAPI, method: str, path: str) -> dict[str, object]:
    operation = app.openapi()["paths"][path][method.lower()]
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return {}
    name = content["schema"].get("$ref", "").rsplit("/", 1)[-1]
    return BODIES.get(name, {})


def _operations_with_ids(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if "{" in path
        for method in operations
    ]


def test_every_route_answers_404_for_another_tenants_ids(
    app: FastAPI, client: TestClient, auth, tenant: str, settings: Settings
) -> None:
    owner_a, owner_b = auth(tenant, "owner"), auth(tenant + "-b", "owner")
    operations = _operations_with_ids(app)
    assert operations, "expected routes with path ids"
    for method, path in operations:
        params = re.findall(r"{(\w+)}", path)
        if set(params) <= NOT_IDS or method == "PUT":
            # PUT upserts by the caller's own key, in the caller's tenant: see the mapping
            # tests for what another tenant's PUT may (not) touch.
            continue
        missing = [p for p in params if p not in MAKERS]
        assert not missing, f"add a maker for {missing} ({path}) to MAKERS"
        ids = {p: MAKERS[p](client, owner_a, settings) for p in params}
        url = path.format(**ids)
        response = client.request(method, url, headers=owner_b, json=_valid_body(app, method, path))
        assert response.status_code == 404, f"{method} {url} gave {response.status_code}"


def test_lists_show_only_the_callers_tenant(client: TestClient, auth, tenant: str) -> None:
    client.post("/v1/api-keys", json={"name": "mine"}, headers=auth(tenant))
    client.post("/v1/api-keys", json={"name": "theirs"}, headers=auth(tenant + "-x"))
    names = [k["name"] for k in client.get("/v1/api-keys", headers=auth(tenant)).json()["data"]]
    assert names == ["mine"]


def test_tenant_sessions_filter_raw_orm_queries_and_refuse_foreign_writes(
    settings: Settings, tenant: str
) -> None:
    db = Database.connect(settings)
    with db.tenant(tenant + "-other") as session:
        session.add(
            ApiKey(
                name="x",
                prefix=tenant[-8:],
                secret_hash="0" * 64,
                role="viewer",
                scopes=[],
                created_by="t",
            )
        )
    with db.tenant(tenant) as session:
        assert session.query(ApiKey).filter(ApiKey.prefix == tenant[-8:]).all() == []
    with pytest.raises(Exception, match="another tenant"), db.tenant(tenant) as session:
        session.add(
            ApiKey(
                tenant_id="someone-else",
                name="y",
                prefix="p" + tenant[-7:],
                secret_hash="0" * 64,
                role="viewer",
                scopes=[],
                created_by="t",
            )
        )
    db.dispose()


def test_postgres_row_level_security_hides_other_tenants_from_plain_sql(
    settings: Settings, tenant: str
) -> None:
    if settings.is_sqlite:
        pytest.skip("row-level security is a PostgreSQL feature")
    db = Database.connect(settings)
    with db.tenant(tenant) as session:
        session.add(
            ApiKey(
                name="rls",
                prefix="r" + tenant[-7:],
                secret_hash="0" * 64,
                role="viewer",
                scopes=[],
                created_by="t",
            )
        )
    with db.tenant(tenant + "-spy") as session:
        # Plain SQL skips the ORM filter: only the database's policy stands in the way.
        seen = session.execute(text("SELECT tenant_id FROM api_keys")).scalars().all()
        assert tenant not in seen
        assert all(t == tenant + "-spy" for t in seen)
    with db.system() as session:
        assert tenant in session.execute(text("SELECT tenant_id FROM api_keys")).scalars().all()
    with db.engine.connect() as raw:  # no tenant set at all: nothing visible
        assert raw.execute(text("SELECT count(*) FROM api_keys")).scalar_one() == 0
    db.dispose()
