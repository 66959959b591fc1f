"""Every worker is a DBOS executor of its own, with an id that survives its restarts: a
restarted worker recovers only the workflows it was running, never a live one's; the
workflows of a worker that does not come back are recovered once, by a live one."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from ledgerbridge import runtime
from ledgerbridge.settings import load_settings
from tests.conftest import JWT_SECRET, SECRET_KEY, TOKEN_KEY, _require_postgres
from tests.processes import ORG, Service, connect, service
from tests.support import postgres_database

RESTARTED = "restarted-worker"  # the executor id of the worker the test kills
Rows = dict[str, tuple[str, str, int]]  # workflow id -> (executor, status, recovery attempts)


def test_the_default_executor_id_is_per_host_and_slot_not_per_process(tmp_path: Path) -> None:
    settings = load_settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", data_dir=tmp_path)
    first, first_slot = runtime.executor(settings)
    second, second_slot = runtime.executor(settings)
    assert first != second and first.endswith("-0") and second.endswith("-1")
    assert first_slot is not None and second_slot is not None
    first_slot.close()
    again, again_slot = runtime.executor(settings)  # a restart gets its own id back
    assert again == first
    for slot in (second_slot, again_slot):
        assert slot is not None
        slot.close()
    named = load_settings(database_url=settings.database_url, executor_id="eu-worker-7")
    assert runtime.executor(named) == ("eu-worker-7", None)


def _workflows(url: str) -> Rows:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute(
            "SELECT workflow_uuid, executor_id, status, recovery_attempts"
            " FROM dbos.workflow_status WHERE workflow_uuid LIKE 'sync-run-%'"
        ).fetchall()
    return {row[0]: (row[1], row[2], int(row[3] or 0)) for row in rows}


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.sandbox(seed=4, size=15, settings={"rate_limits": False})
def test_a_restarted_worker_recovers_only_its_own_workflows(
    sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any
) -> None:
    _require_postgres()
    headers = auth(ORG, "admin")
    with postgres_database() as url:
        runtime.migrate(
            load_settings(
                env="development",
                database_url=url,
                data_dir=tmp_path / "m",
                jwt_secret=JWT_SECRET,
                secret_key=SECRET_KEY,
                token_encryption_keys=TOKEN_KEY,
            )
        )
        extra = {"LEDGERBRIDGE_EXECUTOR_TIMEOUT_SECONDS": "6"}
        (tmp_path / "a").mkdir()
        with service(url, sandbox_url, tmp_path / "a", **extra) as lb:
            worker = _worker(lb, tmp_path / "b")
            try:
                _run(lb, worker, url, sandbox, headers)
            finally:
                worker.stop()


def _worker(lb: Service, folder: Path) -> Service:
    folder.mkdir(parents=True, exist_ok=True)
    # The same data dir (the same dev secrets), under an id of its own: `up`'s own worker
    # starts in its own time, so which of the two registered first says nothing.
    worker = Service({**lb.env, "LEDGERBRIDGE_EXECUTOR_ID": RESTARTED}, lb.port, folder)
    worker.process = _start_worker(worker)
    return worker


def _start_worker(worker: Service) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ledgerbridge", "worker"],
        env=worker.env,
        cwd=worker.cwd,
        stdout=subprocess.DEVNULL,
        stderr=(worker.cwd / "worker.log").open("ab"),
    )


def _run(
    lb: Service, worker: Service, url: str, sandbox: httpx.Client, headers: dict[str, str]
) -> None:
    accounts = [(a["provider"], a["account_id"]) for a in sandbox.get("/_sandbox/accounts").json()]
    connections = [connect(lb, headers, provider, account) for provider, account in accounts]
    for provider in ("xero", "quickbooks", "lightspeed"):  # every data call takes a while
        rule = {"provider": provider, "kind": "latency", "latency_ms": 250, "path_prefix": "/"}
        assert sandbox.post("/_sandbox/faults", json=rule).status_code == 201
    runs = [
        httpx.post(f"{lb.url}/v1/connections/{c}/syncs", json={}, headers=headers).json()
        for c in connections
    ]
    ids = {f"sync-run-{run['sync_run_id']}" for run in runs}

    def running_on_both() -> bool:
        pending = {e for e, status, _ in _workflows(url).values() if status == "PENDING"}
        return len(pending) >= 2

    _wait(running_on_both, 60, "the two workers never both ran a sync")
    before = _workflows(url)
    executors = {executor for executor, status, _ in before.values() if status == "PENDING"}
    assert len(executors) == 2, before
    live = _live_executor(url)
    worker.kill()
    worker.process = _start_worker(worker)
    _wait(lambda: _done(url, ids), 120, "the syncs did not finish")
    after = _workflows(url)
    assert {e for e, _, _ in after.values()} <= executors, "a worker came back under a new id"
    for workflow, (executor, status, _) in before.items():
        if status == "PENDING" and executor == live:
            assert after[workflow][2] == 1, f"{workflow} of the live worker was run again"

    # Now a worker that does not come back: its pending syncs are recovered by the live one.
    more = [
        httpx.post(f"{lb.url}/v1/connections/{c}/syncs", json={}, headers=headers).json()
        for c in connections
    ]
    more_ids = {f"sync-run-{run['sync_run_id']}" for run in more}
    _wait(
        lambda: any(
            e != live and status == "PENDING"
            for w, (e, status, _) in _workflows(url).items()
            if w in more_ids
        ),
        60,
        "the worker never took a sync",
    )
    orphans = {
        w
        for w, (e, status, _) in _workflows(url).items()
        if w in more_ids and e != live and status == "PENDING"
    }
    worker.kill()
    _wait(lambda: _done(url, more_ids), 120, "the gone worker's syncs were not recovered")
    final = _workflows(url)
    for workflow in orphans:
        executor, status, attempts = final[workflow]
        assert (executor, status) == (live, "SUCCESS") and attempts == 2, final[workflow]


def _done(url: str, ids: set[str]) -> bool:
    rows = _workflows(url)
    return all(rows.get(w, ("", "", 0))[1] in ("SUCCESS", "ERROR") for w in ids)


def _live_executor(url: str) -> str:
    """The executor of the worker `up` started, which is never restarted."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute("SELECT id FROM executors WHERE id <> %s", (RESTARTED,)).fetchall()
    [(live,)] = rows
    return str(live)
