"""Reconciliation runs and schedules on DBOS, through a real ``ledgerbridge up`` process."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import httpx
from tests.conftest import JWT_SECRET
from tests.processes import service

LINES = 8000
SANDBOX_UNUSED = "http://127.0.0.1:9"  # reconciling statements calls no provider


def statements(seed: int) -> tuple[str, str]:
    """A bank statement and the invoices it pays, one line each, in a shuffled order."""
    rng = random.Random(seed)
    bank, invoices = ["date,description,amount,id"], ["date,number,amount,customer,id"]
    for n in range(LINES):
        day = f"2024-{1 + n % 12:02d}-{1 + n % 27:02d}"
        amount = f"{rng.randint(100, 99_999) / 100:.2f}"
        bank.append(f"{day},Payment INV-{n:05d} Customer {n % 97},{amount},b{n}")
        invoices.append(f"{day},INV-{n:05d},{amount},Customer {n % 97},i{n}")
    return "\n".join(bank) + "\n", "\n".join(invoices) + "\n"


def upload(url: str, headers: dict[str, str], content: str, mapping: str) -> str:
    answer = httpx.post(
        f"{url}/v1/statements",
        files={"file": ("s.csv", content.encode())},
        data={"mapping": mapping},
        headers=headers,
        timeout=120,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except httpx.TransportError:
            found = None
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_run_killed_mid_way_finishes_once_and_a_schedule_starts_runs(
    database: str, tmp_path: Path
) -> None:
    from ledgerbridge.security.roles import Role
    from ledgerbridge.security.tokens import issue_development_token
    from ledgerbridge.settings import Settings

    token = issue_development_token(
        Settings(jwt_secret=JWT_SECRET), org_id="org-reconcile", role=Role.admin, subject="ops"
    )
    headers = {"Authorization": f"Bearer {token}"}
    bank, invoices = statements(seed=11)
    # A schedule every minute (the default minimum is 15), so that one fires during the test.
    with service(
        database, SANDBOX_UNUSED, tmp_path, LEDGERBRIDGE_RECONCILE_MIN_SCHEDULE_MINUTES="1"
    ) as lb:
        left = upload(
            lb.url,
            headers,
            bank,
            '{"date_column":"date","amount_column":"amount",'
            '"description_columns":["description"],"id_column":"id","default_currency":"EUR"}',
        )
        right = upload(
            lb.url,
            headers,
            invoices,
            '{"date_column":"date","amount_column":"amount",'
            '"description_columns":["number"],"reference_column":"number",'
            '"counterparty_column":"customer","id_column":"id","default_currency":"EUR"}',
        )
        job = {
            "name": "bank vs invoices",
            "left": {"type": "statement", "statement_id": left},
            "right": {"type": "statement", "statement_id": right},
        }
        made = httpx.post(f"{lb.url}/v1/reconciliation/jobs", json=job, headers=headers)
        scheduled = httpx.post(
            f"{lb.url}/v1/reconciliation/jobs",
            json={**job, "name": "every minute", "schedule": "* * * * *"},
            headers=headers,
        )
        assert made.status_code == scheduled.status_code == 201, (made.text, scheduled.text)
        job_id, scheduled_id = made.json()["id"], scheduled.json()["id"]

        started = httpx.post(f"{lb.url}/v1/reconciliation/jobs/{job_id}/runs", headers=headers)
        assert started.status_code == 202, started.text
        run_url = f"{lb.url}/v1/reconciliation/runs/{started.json()['run_id']}"

        def running() -> bool:
            run = httpx.get(run_url, headers=headers).json()
            return bool(run["status"] == "running" and run["progress"] > 0)

        wait_for(running, 120, "the run to be under way")
        lb.kill()
        lb.start()

        def finished() -> dict[str, Any] | None:
            run: dict[str, Any] = httpx.get(run_url, headers=headers).json()
            return run if run["status"] in ("succeeded", "failed") else None

        run = wait_for(finished, 300, "the run to finish after the restart")
        assert run["status"] == "succeeded", run["error"]
        assert (run["left_count"], run["right_count"]) == (LINES, LINES)
        assert run["counts"]["auto_matched"] == LINES  # each line once, none doubled
        assert run["counts"]["unmatched_left"] == run["counts"]["unmatched_right"] == 0
        events = httpx.get(
            f"{lb.url}/v1/events", params={"type": "reconciliation.completed"}, headers=headers
        ).json()["data"]
        assert [e["data"]["run_id"] for e in events].count(run["id"]) == 1

        def scheduled_run() -> dict[str, Any] | None:
            page = httpx.get(
                f"{lb.url}/v1/reconciliation/jobs/{scheduled_id}/runs", headers=headers
            ).json()["data"]
            done = [r for r in page if r["status"] == "succeeded"]
            return done[0] if done else None

        by_schedule = wait_for(scheduled_run, 150, "a scheduled run")
        assert by_schedule["trigger"] == "schedule"
        assert by_schedule["counts"]["auto_matched"] == LINES
