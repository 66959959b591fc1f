"""Push tests: the API accepts; ``run_operation`` executes exactly the workflow's steps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.push import service
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def lb_settings(database_url: str, sandbox_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, sandbox_url=sandbox_url)


@pytest.fixture
def svc(lb_settings: Settings) -> Iterator[Services]:
    services = Services.build(lb_settings)
    yield services
    services.db.dispose()


class NoEnqueue:
    """Operations are run by the test (``run_operation``), not by a DBOS worker."""

    def enqueue(self, *_args: Any, **_kwargs: Any) -> None:
        return None

    def destroy(self) -> None:
        return None


@pytest.fixture
def lb(svc: Services) -> Iterator[TestClient]:
    svc._dbos_client = NoEnqueue()  # type: ignore[assignment]
    with TestClient(create_app(svc=svc), raise_server_exceptions=False) as client:
        yield client


RunOperation = Callable[..., None]


@pytest.fixture
def run_operation(svc: Services) -> RunOperation:
    """Run an operation; ``lost_answers`` provider calls whose answer never got committed
    (a crash after the provider answered) happen first, as a recovered workflow would."""

    def run(operation_id: int | str, lost_answers: int = 0) -> None:
        jobs = service.claim(svc, int(operation_id))
        assert isinstance(jobs, list) and jobs[0].operation_id == int(operation_id)
        for _ in range(lost_answers):
            service.execute_batch(svc, jobs)
        service.finish_batch(svc, jobs, service.execute_batch(svc, jobs))

    return run
