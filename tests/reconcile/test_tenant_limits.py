"""Fair shares between tenants: limits on jobs, schedules and waiting runs; and a queue
partitioned by tenant, shown with one tenant flooding a real ``ledgerbridge up``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from dbos import DBOSClient
from fastapi.testclient import TestClient
from tests.conftest import JWT_SECRET, make_settings
from tests.processes import service
from tests.reconcile.test_processes import statements, upload, wait_for
from tests.reconcile.test_service import make_job

from ledgerbridge import runtime
from ledgerbridge.app import create_app
from ledgerbridge.reconcile.limits import shortest_interval
from ledgerbridge.reconcile.runs import workflow_id
from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.services import DBOS_SCHEMA, Services
from ledgerbridge.settings import Settings

FIFTEEN = timedelta(minutes=15)


def test_the_shortest_interval_of_a_schedule() -> None:
    assert shortest_interval("*/15 * * * *", FIFTEEN) == FIFTEEN
    assert shortest_interval("0 6 * * 1", FIFTEEN) == timedelta(days=7)
    assert shortest_interval("0 * * * *", FIFTEEN) == timedelta(hours=1)
    assert shortest_interval("0,5 * * * *", FIFTEEN) == timedelta(minutes=5)
    assert shortest_interval("* * * * *", FIFTEEN) == timedelta(minutes=1)
    # across midnight: 23:59 then 00:00
    assert shortest_interval("0,59 0,23 * * *", FIFTEEN) == timedelta(minutes=1)
    assert shortest_interval("0 0 29 2 *", FIFTEEN) >= timedelta(days=365)


@pytest.fixture
def limited(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = make_settings(
        database_url, tmp_path / "data", reconcile_max_jobs=2, reconcile_max_queued_runs=3
    )
    runtime.migrate(settings)
    svc = Services.build(settings)
    with TestClient(create_app(svc=svc), raise_server_exceptions=False) as client:
        yield client


def test_jobs_schedules_and_waiting_runs_are_limited_per_tenant(
    limited: TestClient, auth: Any, tenant: str
) -> None:
    headers = auth(tenant, "developer")
    job = make_job(limited, headers)
    base = {"name": "j", "left": job["left"], "right": job["right"]}

    for cron in ("* * * * *", "0,10 * * * *", "*/5 * * * *"):
        answer = limited.post(
            "/v1/reconciliation/jobs", json={**base, "schedule": cron}, headers=headers
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"] == "schedule_too_frequent"
        assert answer.json()["details"] == {"minimum_minutes": 15}
    never = limited.post(
        "/v1/reconciliation/jobs", json={**base, "schedule": "0 0 31 2 *"}, headers=headers
    )
    assert (never.status_code, never.json()["error"]) == (422, "invalid_schedule")
    too_often = limited.patch(
        f"/v1/reconciliation/jobs/{job['id']}", json={"schedule": "*/10 * * * *"}, headers=headers
    )
    assert too_often.status_code == 422
    second = limited.post(
        "/v1/reconciliation/jobs", json={**base, "schedule": "*/15 * * * *"}, headers=headers
    )
    assert second.status_code == 201, second.text

    third = limited.post("/v1/reconciliation/jobs", json=base, headers=headers)
    assert third.status_code == 429, third.text
    assert third.json()["error"] == "too_many_jobs"
    assert third.json()["details"] == {"limit": 2}
    assert limited.delete(f"/v1/reconciliation/jobs/{second.json()['id']}", headers=headers)
    assert limited.post("/v1/reconciliation/jobs", json=base, headers=headers).status_code == 201

    # No worker runs here: every run stays queued.
    runs_url = f"/v1/reconciliation/jobs/{job['id']}/runs"
    for _ in range(3):
        assert limited.post(runs_url, headers=headers).status_code == 202
    refused = limited.post(runs_url, headers=headers)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "too_many_queued_runs"
    assert refused.headers["Retry-After"] == "30"
    assert len(limited.get(runs_url, headers=headers).json()["data"]) == 3

    other = auth(tenant + "-other", "developer")
    theirs = make_job(limited, other)
    answer = limited.post(f"/v1/reconciliation/jobs/{theirs['id']}/runs", headers=other)
    assert answer.status_code == 202, answer.text


# --- one tenant floods a real service; another's first run starts at once -------------

LINES = 400
FLOOD_JOBS = 6
RUNS_PER_JOB = 3
# Generous: on a busy machine a request may wait seconds for SQLite's write lock while a
# flooding run stores its results; what is measured below does not depend on it.
TIMEOUT = 60


def _headers(org: str) -> dict[str, str]:
    token = issue_development_token(
        Settings(jwt_secret=JWT_SECRET), org_id=org, role=Role.admin, subject="ops"
    )
    return {"Authorization": f"Bearer {token}"}


def _statements(url: str, headers: dict[str, str]) -> tuple[str, str]:
    bank, invoices = statements(seed=3)
    mapping = (
        '{"date_column":"date","amount_column":"amount","description_columns":["%s"],'
        '"id_column":"id","default_currency":"EUR"}'
    )
    left = upload(url, headers, _head(bank), mapping % "description")
    return left, upload(url, headers, _head(invoices), mapping % "number")


def _job(url: str, headers: dict[str, str], name: str, sides: tuple[str, str]) -> str:
    left, right = sides
    job = {
        "name": name,
        "left": {"type": "statement", "statement_id": left},
        "right": {"type": "statement", "statement_id": right},
    }
    made = httpx.post(f"{url}/v1/reconciliation/jobs", json=job, headers=headers, timeout=TIMEOUT)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _head(csv: str) -> str:
    return "\n".join(csv.splitlines()[: LINES + 1]) + "\n"


def _runs(url: str, headers: dict[str, str], job_id: str) -> list[dict[str, Any]]:
    page = httpx.get(
        f"{url}/v1/reconciliation/jobs/{job_id}/runs",
        params={"limit": 100},
        headers=headers,
        timeout=TIMEOUT,
    )
    found: list[dict[str, Any]] = page.json()["data"]
    return found


def _queue_times(database: str, tmp_path: Path, run_ids: list[str]) -> dict[str, _Queued]:
    """When DBOS took each run's workflow into its queue and when it dequeued it (ms)."""
    settings = make_settings(database, tmp_path / "data")
    client = DBOSClient(
        system_database_url=settings.dbos_system_database_url, dbos_system_schema=DBOS_SCHEMA
    )
    try:
        found = client.list_workflows(
            workflow_ids=[workflow_id(int(run)) for run in run_ids],
            load_input=False,
            load_output=False,
        )
    finally:
        client.destroy()
    by_id = {w.workflow_id: w for w in found}
    times = {}
    for run in run_ids:
        status = by_id[workflow_id(int(run))]
        assert status.created_at is not None
        times[run] = _Queued(status.created_at, status.dequeued_at)
    return times


@dataclass(frozen=True)
class _Queued:
    enqueued: int
    dequeued: int | None


def _at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


def test_a_flooding_tenant_does_not_delay_another_tenants_first_run(
    database: str, tmp_path: Path
) -> None:
    flooder, other = _headers("org-flood"), _headers("org-quiet")
    with service(database, "http://127.0.0.1:9", tmp_path) as lb:
        sides = _statements(lb.url, flooder)
        jobs = [_job(lb.url, flooder, f"flood {n}", sides) for n in range(FLOOD_JOBS)]
        quiet_job = _job(lb.url, other, "quiet", _statements(lb.url, other))
        began = time.monotonic()
        for _ in range(RUNS_PER_JOB):
            for job_id in jobs:
                runs_url = f"{lb.url}/v1/reconciliation/jobs/{job_id}/runs"
                answer = httpx.post(runs_url, headers=flooder, timeout=TIMEOUT)
                assert answer.status_code == 202, answer.text
        flooded = time.monotonic() - began
        answer = httpx.post(
            f"{lb.url}/v1/reconciliation/jobs/{quiet_job}/runs", headers=other, timeout=TIMEOUT
        )
        assert answer.status_code == 202, answer.text
        quiet_id = str(answer.json()["run_id"])
        run_url = f"{lb.url}/v1/reconciliation/runs/{quiet_id}"

        def done() -> dict[str, Any] | None:
            run: dict[str, Any] = httpx.get(run_url, headers=other, timeout=TIMEOUT).json()
            return run if run["status"] in ("succeeded", "failed") else None

        quiet = wait_for(done, 300, "the quiet tenant's run")
        assert quiet["status"] == "succeeded", quiet["error"]
        flood = [run for job_id in jobs for run in _runs(lb.url, flooder, job_id)]
        assert len(flood) == len(jobs) * RUNS_PER_JOB
        queued = _queue_times(database, tmp_path, [quiet_id] + [str(r["id"]) for r in flood])

    # Read from the queue itself (when DBOS took each run in and when it handed it to a
    # worker), not from the runs' own timestamps, which a busy machine skews: a flooding
    # run dequeued just before the quiet one was requested may stamp its start after it.
    # The flooder's runs take turns: while the quiet tenant's run waited in the queue,
    # at most one of them (dequeued in the same poll) could be handed out. Strictly
    # between: on SQLite DBOS keeps these times to the second, so a run dequeued in the
    # second the quiet one was enqueued (maybe just before it) cannot be placed.
    waited = queued[quiet_id]
    assert waited.dequeued is not None
    overtaking = [
        run
        for run, at in queued.items()
        if run != quiet_id
        and at.dequeued is not None
        and waited.enqueued < at.dequeued < waited.dequeued
    ]
    assert len(overtaking) <= 1, (waited, {run: queued[run] for run in overtaking})
    requested, started = _at(quiet["created_at"]), _at(quiet["started_at"])
    ran = [r for r in flood if r["started_at"] and r["finished_at"]]
    lengths = sorted((_at(r["finished_at"]) - _at(r["started_at"])).total_seconds() for r in ran)
    print(
        f"\n{len(jobs) * RUNS_PER_JOB} runs queued by one tenant in {flooded:.2f} s; "
        f"the other tenant's run waited {(waited.dequeued - waited.enqueued) / 1000:.2f} s "
        f"in the queue and {(started - requested).total_seconds():.2f} s to start "
        f"(a flooding run takes {lengths[len(lengths) // 2] if lengths else 0:.2f} s, median; "
        f"{len(ran)} of them finished by the time it had)"
    )
