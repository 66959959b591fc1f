"""Rejecting a group match through the service rejects that group, not its pairs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from tests.reconcile.test_service import (
    BANK_MAPPING,
    INVOICE_MAPPING,
    all_matches,
    start,
    statement,
    texts,
)

DEPOSIT = """date,description,amount,id
2024-03-20,GAMMA TRADING BATCH,300.00,d1
"""
GAMMA_INVOICES = """date,number,amount,customer,id
2024-03-01,INV-1,100.00,Gamma Trading,i1
2024-03-02,INV-2,200.00,Gamma Trading,i2
2024-03-03,INV-5,200.00,Gamma Trading,i5
"""


def test_rejecting_a_group_rejects_only_that_group(
    rc: TestClient, run_job: Callable[[str], None], auth: Any, tenant: str
) -> None:
    headers = auth(tenant, "developer")
    body = {
        "name": "deposits vs invoices",
        "left": {
            "type": "statement",
            "statement_id": statement(rc, headers, DEPOSIT, BANK_MAPPING),
        },
        "right": {
            "type": "statement",
            "statement_id": statement(rc, headers, GAMMA_INVOICES, INVOICE_MAPPING),
        },
    }
    answer = rc.post("/v1/reconciliation/jobs", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    job = answer.json()
    first = start(rc, headers, job["id"])
    run_job(first)
    (group,) = all_matches(rc, headers, first)
    deposit, paid = texts(group)
    assert deposit == ["GAMMA TRADING BATCH"]
    assert set(paid) in ({"INV-1", "INV-2"}, {"INV-1", "INV-5"})  # two combinations fit
    rejected = rc.post(f"/v1/reconciliation/matches/{group['id']}/reject", headers=headers)
    assert rejected.status_code == 200, rejected.text

    second = start(rc, headers, job["id"])
    run_job(second)
    # INV-1 was in the rejected group, yet it may join another combination.
    (other,) = all_matches(rc, headers, second)
    assert set(texts(other)[1]) == {"INV-1", "INV-2", "INV-5"} - (set(paid) - {"INV-1"})
    assert other["status"] == "suggested"
    assert "a reviewer rejected another combination" in other["explanation"]
