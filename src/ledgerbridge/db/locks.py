"""Serialise one kind of write (per tenant, per key) across requests and processes.

``lock(session, name)`` holds until the session's transaction ends. On PostgreSQL it is a
transaction-level advisory lock, so a second transaction taking the same name waits for
the first to commit and then sees what the first wrote (READ COMMITTED). On SQLite every
writing transaction already holds the database's write lock from its start
(``BEGIN IMMEDIATE``, see ``db/engine.py``), which serialises them all.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.orm import Session


def lock_id(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (the same in every process)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock(session: Session, name: str) -> None:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_id(name)})
