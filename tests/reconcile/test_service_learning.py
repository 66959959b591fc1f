"""A reviewer's decisions teach a job: a hand-made match changes the next run's result
and explanation; a rejection unlearns it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.reconcile.test_service import (
    BANK_MAPPING,
    INVOICE_MAPPING,
    all_matches,
    by_texts,
    get,
    start,
    statement,
)

# The payer's bank prints a trading name that no invoice carries.
BANK = """date,description,amount,id
2024-03-03,ZX TRADING 4471,100.00,b1
2024-04-12,ZX TRADING 5520,230.00,b2
"""
INVOICES = """date,number,amount,customer,id
2024-02-28,INV-1,100.00,Harbour Joinery Ltd,i1
2024-02-28,INV-2,100.00,Sun Foods,i2
2024-04-08,INV-3,230.00,Harbour Joinery Ltd,i3
2024-04-08,INV-4,230.00,Sun Foods,i4
"""


def b2_match(rc: TestClient, headers: dict[str, str], run_id: str) -> dict[str, Any]:
    return next(
        m for m in all_matches(rc, headers, run_id) if m["left"][0]["text"] == "ZX TRADING 5520"
    )


@pytest.mark.parametrize("how", ["confirmed", "by hand"])
def test_a_decision_teaches_an_alias_that_the_next_run_uses_until_rejected(
    rc: TestClient, run_job: Callable[[str], None], auth: Any, tenant: str, how: str
) -> None:
    headers, reviewer = auth(tenant, "developer"), auth(tenant, "developer", sub="reviewer-3")
    left = statement(rc, headers, BANK, BANK_MAPPING)
    right = statement(rc, headers, INVOICES, INVOICE_MAPPING)
    job = rc.post(
        "/v1/reconciliation/jobs",
        json={
            "name": "learning",
            "left": {"type": "statement", "statement_id": left},
            "right": {"type": "statement", "statement_id": right},
        },
        headers=headers,
    ).json()
    first = start(rc, headers, job["id"])
    run_job(first)
    # Amount and date alone: each line is only suggested, against either customer.
    assert {m["status"] for m in all_matches(rc, headers, first)} == {"suggested"}
    b1 = next(
        m for m in all_matches(rc, headers, first) if m["left"][0]["text"] == "ZX TRADING 4471"
    )
    if how == "confirmed":
        # Equal scores are broken by ids: the earlier invoice line, INV-1, is suggested.
        assert [i["text"] for i in b1["right"]] == ["INV-1"]
        confirmed = rc.post(f"/v1/reconciliation/matches/{b1['id']}/confirm", headers=reviewer)
        assert confirmed.status_code == 200, confirmed.text
        taught_by = b1["id"]
    else:
        undone = rc.post(f"/v1/reconciliation/matches/{b1['id']}/unreconcile", headers=reviewer)
        assert undone.status_code == 200, undone.text
        items = get(rc, headers, f"/v1/reconciliation/runs/{first}/unmatched")["data"]
        ids = {i["text"]: i["item_id"] for i in items}
        manual = rc.post(
            f"/v1/reconciliation/jobs/{job['id']}/matches",
            json={"left_ids": [ids["ZX TRADING 4471"]], "right_ids": [ids["INV-1"]]},
            headers=reviewer,
        )
        assert manual.status_code == 201, manual.text
        taught_by = manual.json()["id"]

    second = start(rc, headers, job["id"])
    run_job(second)
    later = by_texts(all_matches(rc, headers, second))
    assert later["ZX TRADING 4471", "INV-1"]["status"] == "confirmed"
    learned = later["ZX TRADING 5520", "INV-3"]
    assert learned["status"] == "auto_matched"
    assert f"alias learned from match {taught_by} on " in learned["explanation"]
    assert "memo words 'zx trading' name 'Harbour Joinery Ltd'" in learned["explanation"]

    # The alias was wrong after all: rejecting a match it made unlearns it.
    rejected = rc.post(f"/v1/reconciliation/matches/{learned['id']}/reject", headers=reviewer)
    assert rejected.status_code == 200, rejected.text
    third = start(rc, headers, job["id"])
    run_job(third)
    again = b2_match(rc, headers, third)
    assert again["status"] == "suggested" and "alias" not in again["explanation"]
    assert [i["text"] for i in again["right"]] == ["INV-4"]  # the rejected pair stays rejected
