"""A ``ledgerbridge up`` process for tests that need the real service (a pytest plugin: the
``database`` fixture gives it a fresh SQLite file or PostgreSQL database)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from ledgerbridge.sandbox.consent import approve_consent
from tests.conftest import JWT_SECRET, SECRET_KEY, TOKEN_KEY
from tests.support import free_port, postgres_database, wait_for_port

ORG = "org-orchestration"


class Service:
    """A ``ledgerbridge up`` process that the test can kill and start again."""

    def __init__(self, env: dict[str, str], port: int, cwd: Path) -> None:
        self.env, self.port, self.cwd = env, port, cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ledgerbridge", "up", "--port", str(self.port)],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.DEVNULL,
            stderr=(self.cwd / "service.log").open("ab"),
        )
        wait_for_port(self.port, timeout=60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def service(database_url: str, sandbox_url: str, tmp_path: Path, **extra: str) -> Iterator[Service]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERBRIDGE_")}
    env.update(
        LEDGERBRIDGE_DATABASE_URL=database_url,
        LEDGERBRIDGE_DATA_DIR=str(tmp_path / "data"),
        LEDGERBRIDGE_SANDBOX_URL=sandbox_url,
        LEDGERBRIDGE_PUBLIC_URL=f"http://127.0.0.1:{port}",
        LEDGERBRIDGE_ENV="development",
        LEDGERBRIDGE_JWT_SECRET=JWT_SECRET,
        LEDGERBRIDGE_SECRET_KEY=SECRET_KEY,
        LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS=TOKEN_KEY,
        **extra,
    )
    svc = Service(env, port, tmp_path)
    svc.start()
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledgerbridge.db'}"
        return
    from tests.conftest import _require_postgres

    _require_postgres()
    with postgres_database() as url:
        from ledgerbridge.db.migrate import upgrade

        upgrade(url)
        yield url


def connect(lb: Service, headers: dict[str, str], provider: str, account: str) -> str:
    started = httpx.post(
        f"{lb.url}/v1/connections/{provider}/authorize", json={}, headers=headers
    ).json()
    with httpx.Client(timeout=60) as browser:  # keeps the cookie the start link sets
        opened = browser.get(started["authorize_url"])
        assert opened.status_code == 302, opened.text
        callback = approve_consent(opened.headers["location"], [account])
        answer = browser.get(callback)
    assert answer.status_code == 200, answer.text
    connection_id: str = answer.json()["connections"][0]["id"]
    return connection_id
