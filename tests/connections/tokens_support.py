"""What the token tests share: a process's settings as a job for another process, and
counting what a piece of code asks the database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from ledgerbridge.db.engine import Database
from ledgerbridge.settings import Settings


def job_settings(settings: Settings, **overrides: object) -> dict[str, object]:
    """``settings`` as another process loads them (secrets included: a test's own)."""
    return {
        "env": "development",
        "database_url": settings.resolved_database_url,
        "data_dir": str(settings.data_dir),
        "jwt_secret": settings.jwt_secret.get_secret_value(),  # type: ignore[union-attr]
        "secret_key": settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
        "token_encryption_keys": ",".join(
            k.get_secret_value() for k in settings.token_encryption_keys
        ),
        "sandbox_url": settings.sandbox_url,
        "token_refresh_skew_seconds": settings.token_refresh_skew_seconds,
        **overrides,
    }


def refresh_once_command(job: dict[str, Any]) -> list[str]:
    return [sys.executable, "-m", "tests.connections.refresh_once", json.dumps(job)]


def refresh_in_another_process(job: dict[str, Any]) -> str:
    done = subprocess.run(refresh_once_command(job), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    token: str = json.loads(done.stdout.strip().splitlines()[-1])["token"]
    return token


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every SQL statement ``db`` sends while the block runs."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
