"""Operations: 202 before any provider call, exactly once at the provider, clear failures."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.connections.models import Connection
from ledgerbridge.services import Services
from ledgerbridge.sync import engine, service
from tests.connections.conftest import accounts, connect
from tests.push.conftest import RunOperation

pytestmark = pytest.mark.sandbox(seed=6, size=8, settings={"rate_limits": False})


def invoice(contact: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "type": "sales",
        "contact_remote_id": contact,
        "issue_date": "2026-11-01",
        "due_date": "2026-11-30",
        "currency": "NZD",
        "reference": "PO-7781",
        "lines": [
            {
                "description": "Kūmara crisps",
                "quantity": "3",
                "unit_amount": "4.35",
                "account_code": "200",
            },
            {
                "description": "Delivery",
                "quantity": "1",
                "unit_amount": "12.50",
                "account_code": "200",
            },
        ],
    }
    body.update(overrides)
    return body


def xero_setup(
    lb: TestClient, sandbox: httpx.Client, auth: Any, tenant: str
) -> tuple[str, str, str]:
    org = accounts(sandbox, "xero")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "xero", [org])
    contacts = sandbox.get(f"/_sandbox/xero/{org}/Contacts").json()
    contact = next(c["ContactID"] for c in contacts if c.get("ContactStatus") == "ACTIVE")
    return connection["id"], org, contact


def pull(svc: Services, connection_id: int, object_type: str) -> Any:
    with svc.db.system() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        run, _ = service.request_sync(
            session,
            connection,
            wanted=[object_type],
            full_resync=False,
            trigger="api",
            requested_by="test",
        )
        run_id = run.id
    plan = engine.start_run(svc, run_id)
    assert engine.pull_object_type(svc, plan, object_type) is None
    engine.finish_run(svc, run_id, {})
    with svc.db.system() as session:
        from ledgerbridge.sync.models import SyncRun

        done = session.get(SyncRun, run_id)
        assert done is not None
        session.expunge(done)
        return done


def test_an_invoice_is_accepted_before_any_call_and_lands_exactly_once(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_operation: RunOperation,
    auth: Any,
    tenant: str,
) -> None:
    connection_id, org, contact = xero_setup(lb, sandbox, auth, tenant)
    sandbox.delete("/_sandbox/ledger")
    accepted = lb.post(
        f"/v1/connections/{connection_id}/invoices",
        json=invoice(contact),
        headers=auth(tenant, "developer"),
    )
    assert accepted.status_code == 202, accepted.text
    operation_id = accepted.json()["operation_id"]
    assert accepted.headers["location"] == f"/v1/operations/{operation_id}"
    assert accepted.json()["status"] == "pending"
    assert sandbox.get("/_sandbox/ledger").json()["entries"] == []  # no provider call yet
    pending = lb.get(
        f"/v1/connections/{connection_id}/records/invoice/{accepted.json()['record_id']}",
        headers=auth(tenant),
    )
    assert pending.status_code == 200, pending.text  # readable before the provider's id
    assert pending.json()["remote_id"] is None

    run_operation(operation_id, lost_answers=2)  # answered twice, committed never: no matter
    done = lb.get(f"/v1/operations/{operation_id}", headers=auth(tenant)).json()
    assert done["status"] == "synced", done
    assert done["remote_id"] and done["remote_number"]
    made = [
        i
        for i in sandbox.get(f"/_sandbox/xero/{org}/Invoices").json()
        if i["Reference"] == "PO-7781"
    ]
    assert len(made) == 1 and made[0]["InvoiceID"] == done["remote_id"]
    assert Decimal(str(made[0]["SubTotal"])) == Decimal("25.55")
    record = lb.get(
        f"/v1/connections/{connection_id}/records/invoice/{accepted.json()['record_id']}",
        headers=auth(tenant),
    ).json()
    assert record["remote_id"] == done["remote_id"]
    assert Decimal(record["data"]["subtotal"]) == Decimal("25.55")
    assert pull(svc, int(connection_id), "Invoices").updated == 0  # no false change
    events = lb.get("/v1/events?type=operation.succeeded", headers=auth(tenant)).json()["data"]
    assert [e["data"]["operation_id"] for e in events] == [operation_id]


def test_idempotency_key_replays_the_operation_and_refuses_another_body(
    lb: TestClient, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    connection_id, _, contact = xero_setup(lb, sandbox, auth, tenant)
    url = f"/v1/connections/{connection_id}/invoices"
    headers = {**auth(tenant, "developer"), "Idempotency-Key": "order-981"}
    first = lb.post(url, json=invoice(contact), headers=headers)
    again = lb.post(url, json=invoice(contact), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json()["operation_id"] == first.json()["operation_id"]
    other = lb.post(url, json=invoice(contact, reference="changed"), headers=headers)
    assert other.status_code == 409 and other.json()["error"] == "conflict"
    listed = lb.get("/v1/operations", headers=auth(tenant)).json()["data"]
    assert len(listed) == 1


def test_a_provider_validation_error_fails_at_once_with_the_providers_words(
    lb: TestClient, sandbox: httpx.Client, run_operation: RunOperation, auth: Any, tenant: str
) -> None:
    connection_id, _, _ = xero_setup(lb, sandbox, auth, tenant)
    accepted = lb.post(
        f"/v1/connections/{connection_id}/invoices",
        json=invoice("00000000-0000-0000-0000-000000000000"),
        headers=auth(tenant, "developer"),
    ).json()
    run_operation(accepted["operation_id"])
    failed = lb.get(f"/v1/operations/{accepted['operation_id']}", headers=auth(tenant)).json()
    assert failed["status"] == "failed"
    assert failed["error"] and failed["error_details"], failed
    calls = lb.get(
        f"/v1/audit-log?operation_id={accepted['operation_id']}", headers=auth(tenant, "admin")
    ).json()["data"]
    assert len(calls) == 1  # a validation error is not retried
    assert calls[0]["status"] == 400 and calls[0]["response_body"]
    audit = lb.get("/v1/audit-log?limit=100", headers=auth(tenant, "admin")).json()["data"]
    # The code exchange, the accounts it covers, then the push.
    assert [c["entity_type"] for c in audit] == ["token", "account", "invoice"]
    assert "Bearer" not in json.dumps(audit)
    for call in audit:
        for body in (call["request_body"], call["response_body"]):
            fields = json.loads(body) if body and body.startswith("{") else dict(parse_qsl(body))
            assert fields.get("refresh_token", "[REDACTED]") == "[REDACTED]", body
    assert lb.get("/v1/audit-log", headers=auth(tenant, "developer")).status_code == 403

    retried = lb.post(
        f"/v1/operations/{accepted['operation_id']}/retry", headers=auth(tenant, "developer")
    )
    assert retried.status_code == 202 and retried.json()["status"] == "pending"
    assert retried.json()["retries"] == 1


def test_capabilities_cancel_and_bad_input(
    lb: TestClient, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    store = accounts(sandbox, "lightspeed")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "lightspeed", [store])
    refused = lb.post(
        f"/v1/connections/{connection['id']}/invoices",
        json=invoice("someone"),
        headers=auth(tenant, "developer"),
    )
    assert refused.status_code == 422
    assert refused.json()["error"] == "unsupported_by_provider"
    accepted = lb.post(
        f"/v1/connections/{connection['id']}/contacts",
        json={"name": "Ngaio Marsh", "code": "NM-1"},
        headers=auth(tenant, "developer"),
    ).json()
    cancelled = lb.post(
        f"/v1/operations/{accepted['operation_id']}/cancel", headers=auth(tenant, "developer")
    )
    assert cancelled.json()["status"] == "cancelled"
    assert (
        lb.post(
            f"/v1/operations/{accepted['operation_id']}/cancel", headers=auth(tenant, "developer")
        ).status_code
        == 409
    )
    bad = lb.post(
        f"/v1/connections/{connection['id']}/contacts",
        json={"name": ""},
        headers=auth(tenant, "developer"),
    )
    assert bad.status_code == 422
    viewer = lb.post(
        f"/v1/connections/{connection['id']}/contacts",
        json={"name": "x"},
        headers=auth(tenant, "viewer"),
    )
    assert viewer.status_code == 403


def test_a_pull_that_mirrors_the_new_record_first_does_not_double_it(
    lb: TestClient, sandbox: httpx.Client, svc: Services, auth: Any, tenant: str
) -> None:
    from ledgerbridge.push import service as push

    store = accounts(sandbox, "lightspeed")[0]["account_id"]
    [connection] = connect(lb, auth(tenant), "lightspeed", [store])
    pull(svc, int(connection["id"]), "customers")
    accepted = lb.post(
        f"/v1/connections/{connection['id']}/contacts",
        json={"name": "Katherine Mansfield", "code": "KM-1888"},
        headers=auth(tenant, "developer"),
    ).json()
    jobs = push.claim(svc, int(accepted["operation_id"]))
    assert isinstance(jobs, list)
    outcomes = push.execute_batch(svc, jobs)
    pull(svc, int(connection["id"]), "customers")  # a scheduled sync gets there first
    push.finish_batch(svc, jobs, outcomes)
    done = lb.get(f"/v1/operations/{accepted['operation_id']}", headers=auth(tenant)).json()
    assert done["status"] == "synced" and done["record_id"] == accepted["record_id"]
    contacts = lb.get(
        f"/v1/connections/{connection['id']}/records/contact?limit=100", headers=auth(tenant)
    ).json()["data"]
    mine = [c for c in contacts if c["remote_id"] == done["remote_id"]]
    assert [c["id"] for c in mine] == [accepted["record_id"]]
