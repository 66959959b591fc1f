"""Concurrent requests carrying one Idempotency-Key: one operation, the same answer to
each, over real HTTP from real threads (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ledgerbridge.app import create_app
from ledgerbridge.push.models import Operation
from ledgerbridge.services import Services
from tests.push.test_operations import invoice, xero_setup
from tests.support import serve_in_thread

pytestmark = pytest.mark.sandbox(seed=6, size=8, settings={"rate_limits": False})

KEYS = 8
COPIES = 2  # identical requests per key, all sent at once


def test_identical_concurrent_requests_with_one_key_make_one_operation(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    connection, _, contact = xero_setup(lb, sandbox, auth, tenant)
    headers = auth(tenant, "developer")
    start = threading.Barrier(KEYS * COPIES)

    def post(origin: str, n: int) -> tuple[str, httpx.Response]:
        key = f"order-{n % KEYS}"
        start.wait(timeout=30)
        answer = httpx.post(
            f"{origin}/v1/connections/{connection}/invoices",
            json=invoice(contact, reference=key),
            headers={**headers, "Idempotency-Key": key},
            timeout=60,
        )
        return key, answer

    with (
        serve_in_thread(create_app(svc=svc)) as origin,
        ThreadPoolExecutor(KEYS * COPIES) as pool,
    ):
        answers = list(pool.map(lambda n: post(origin, n), range(KEYS * COPIES)))
        other_body = httpx.post(
            f"{origin}/v1/connections/{connection}/invoices",
            json=invoice(contact, reference="something else"),
            headers={**headers, "Idempotency-Key": "order-0"},
            timeout=60,
        )

    statuses = sorted({answer.status_code for _, answer in answers})
    assert statuses == [202], [answer.text for _, answer in answers]
    ids: dict[str, set[str]] = {}
    for key, answer in answers:
        ids.setdefault(key, set()).add(answer.json()["operation_id"])
    assert all(len(found) == 1 for found in ids.values()), ids
    assert len({next(iter(found)) for found in ids.values()}) == KEYS

    assert other_body.status_code == 409, other_body.text
    assert other_body.json()["error"] == "conflict"
    assert other_body.json()["details"]["operation_id"] in ids["order-0"]
    with svc.db.tenant(tenant, read_only=True) as session:
        stored = session.scalar(select(func.count()).select_from(Operation))
    assert stored == KEYS
