"""Test helpers shared across capabilities: real databases, free ports, servers in threads."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
import uvicorn

PG_ADMIN_URL = os.environ.get(
    "LEDGERBRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database owned by a fresh non-superuser role (so row-level security applies)."""
    name = f"lb_test_{secrets.token_hex(6)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN NOSUPERUSER NOBYPASSRLS")
        admin.execute(f"CREATE DATABASE {name} OWNER {name}")
    try:
        yield f"postgresql+psycopg://{name}@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.execute(f"DROP ROLE IF EXISTS {name}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app over real HTTP on a free loopback port; yields its origin."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def pg_bin(name: str) -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return found[-1] if found else None


def _as_postgres_user() -> list[str]:
    # initdb and postgres refuse to run as root; run them as the cluster's own user.
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


class PrivatePostgres:
    """A PostgreSQL server of the test's own, on a free port, that the test may kill."""

    def __init__(self) -> None:
        import tempfile

        # Its own top-level directory: the server's user must be able to reach it.
        self.directory = Path(tempfile.mkdtemp(prefix="lb-pg-"))
        self.directory.chmod(0o755)
        self.port = free_port()
        self.data = self.directory / "pgdata"
        self.process: Any = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        import shutil
        import subprocess

        initdb = pg_bin("initdb")
        assert initdb is not None
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        subprocess.run(
            [
                *_as_postgres_user(),
                str(initdb),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        import subprocess

        postgres = pg_bin("postgres")
        assert postgres is not None
        self.process = subprocess.Popen(
            [
                *_as_postgres_user(),
                str(postgres),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-k",
                str(self.directory),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "server.log").open("ab"),
        )
        wait_for_port(self.port)
        self._wait_until_accepting()

    def _wait_until_accepting(self, timeout: float = 30.0) -> None:
        """The port opens before recovery ends ("the database system is starting up")."""
        import time

        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(
                    f"postgresql://postgres@127.0.0.1:{self.port}/postgres", connect_timeout=2
                ).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def kill(self) -> None:
        import signal
        import subprocess

        # SIGKILL the postmaster and every backend, as a crash would.
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            pid = int(pid_file.read_text().split()[0])
            subprocess.run(["pkill", "-KILL", "-P", str(pid)], check=False)
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None
        # A killed server leaves its lock files behind; a restart would refuse to run.
        pid_file.unlink(missing_ok=True)
        for leftover in self.directory.glob(f".s.PGSQL.{self.port}*"):
            leftover.unlink(missing_ok=True)

    def remove(self) -> None:
        import shutil

        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)
