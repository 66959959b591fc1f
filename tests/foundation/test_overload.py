"""Graceful overload: a crowd of clients gets answers or quick 503s, never a 500, and
/health answers throughout; a database connection not had in time is a 503 too."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.services import Services
from tests.conftest import make_settings
from tests.foundation.test_http import assert_error_shape
from tests.support import serve_in_thread

CLIENTS, SECONDS = 100, 3.0


async def _crowd(origin: str, headers: dict[str, str]) -> Counter[int]:
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + SECONDS
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=origin, timeout=60, limits=limits) as http:

        async def client() -> None:
            while time.monotonic() < deadline:
                answer = await http.get("/v1/connections", headers=headers)
                statuses[answer.status_code] += 1

        await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return statuses


def test_a_crowd_gets_answers_and_health_stays_live(
    database_url: str, tmp_path: Path, auth: Any, tenant: str
) -> None:
    settings = make_settings(database_url, tmp_path, db_pool_size=2, api_queue_seconds=30)
    health: list[float] = []
    with serve_in_thread(create_app(settings)) as origin:
        stop = threading.Event()

        def probe() -> None:
            with httpx.Client(base_url=origin, timeout=60) as http:
                while not stop.is_set():
                    began = time.monotonic()
                    assert http.get("/health").status_code == 200
                    health.append(time.monotonic() - began)
                    time.sleep(0.05)

        prober = threading.Thread(target=probe)
        prober.start()
        try:
            statuses = asyncio.run(_crowd(origin, auth(tenant)))
        finally:
            stop.set()
            prober.join()
    assert statuses[200] > 0, statuses
    assert set(statuses) <= {200, 503}, statuses  # never a 500
    assert len(health) >= 5 and max(health) < 10, health  # generous: a shared machine


def test_past_the_queue_requests_are_shed_with_503_and_retry_after(
    database_url: str, tmp_path: Path, auth: Any, tenant: str
) -> None:
    settings = make_settings(
        database_url, tmp_path, api_concurrency=1, api_queue_seconds=0.2, api_queue_limit=0
    )
    with serve_in_thread(create_app(settings)) as origin:

        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=origin, timeout=60) as http:
                calls = [http.get("/v1/connections", headers=auth(tenant)) for _ in range(20)]
                return list(await asyncio.gather(*calls, http.get("/health")))

        answers = asyncio.run(burst())
    assert answers[-1].status_code == 200  # liveness never queues
    shed = [a for a in answers if a.status_code == 503]
    assert shed and {a.status_code for a in answers} <= {200, 503}
    assert shed[0].headers["retry-after"].isdigit()
    assert_error_shape(shed[0].json(), "overloaded")


def test_no_free_connection_in_time_is_a_503(
    database_url: str, tmp_path: Path, auth: Any, tenant: str
) -> None:
    settings = make_settings(database_url, tmp_path, db_pool_size=1, db_pool_timeout=0.3)
    svc = Services.build(settings)
    held = [svc.db.engine.connect() for _ in range(2)]  # the pool and its overflow
    try:
        with TestClient(create_app(svc=svc), raise_server_exceptions=False) as client:
            answer = client.get("/v1/connections", headers=auth(tenant))
            assert client.get("/health").status_code == 200
    finally:
        for connection in held:
            connection.close()
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"].isdigit()
    assert_error_shape(answer.json(), "overloaded")
