"""Sync tests: ledgerbridge pointed at the sandbox, and a sync run executed in-process.

``run_sync`` executes exactly the steps of the DBOS workflow (``sync/workflows.py``)
without DBOS, so these tests check the engine on both databases quickly; the DBOS
orchestration itself is tested through real processes in ``test_orchestration.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.connections.models import Connection
from ledgerbridge.providers.budget import BudgetExhausted
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from ledgerbridge.sync import engine, service
from ledgerbridge.sync.models import SyncRun
from tests.conftest import make_settings


@pytest.fixture
def lb_settings(
    request: pytest.FixtureRequest, database_url: str, sandbox_url: str, tmp_path: Path
) -> Settings:
    if request.node.get_closest_marker("whole_pages"):
        # Tests that only need a synced account: whole pages, and no call budgets, which on
        # PostgreSQL the session's tests share per account and a busy run can spend.
        return make_settings(
            database_url,
            tmp_path,
            sandbox_url=sandbox_url,
            sync_page_size=100,
            provider_call_budgets=False,
        )
    return make_settings(database_url, tmp_path, sandbox_url=sandbox_url, sync_page_size=7)


@pytest.fixture
def svc(lb_settings: Settings) -> Iterator[Services]:
    services = Services.build(lb_settings)
    yield services
    services.db.dispose()


@pytest.fixture
def lb(lb_settings: Settings, svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc=svc), raise_server_exceptions=False) as client:
        yield client


RunSync = Callable[..., SyncRun]


@pytest.fixture
def run_sync(svc: Services) -> RunSync:
    def run(
        connection_id: int, object_types: list[str] | None = None, full_resync: bool = False
    ) -> SyncRun:
        with svc.db.system() as session:
            connection = session.get(Connection, connection_id)
            assert connection is not None
            created, _ = service.request_sync(
                session,
                connection,
                wanted=object_types,
                full_resync=full_resync,
                trigger="api",
                requested_by="test",
            )
            run_id = created.id
        return execute(svc, run_id)

    return run


def execute(svc: Services, run_id: int) -> SyncRun:
    """The steps of the sync workflow for ``run_id``; a spent budget defers the run (the
    workflow would queue its continuation: call this again to continue it)."""
    plan = engine.start_run(svc, run_id)
    errors = {}
    try:
        for object_type in plan.object_types:
            if error := engine.pull_object_type(svc, plan, object_type):
                errors[object_type] = error
        if error := engine.pull_tombstones(svc, plan):
            errors["deletions"] = error
    except BudgetExhausted as exc:
        engine.defer_run(svc, run_id, str(exc))
    else:
        engine.finish_run(svc, run_id, errors)
    with svc.db.system() as session:
        finished = session.get(SyncRun, run_id)
        assert finished is not None
        session.expunge(finished)
        return finished
