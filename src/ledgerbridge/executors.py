"""Which DBOS executor a worker is, and who recovers the work of one that died.

DBOS tags every workflow with the executor running it, and an executor that starts
recovers only the pending workflows tagged with its own id. So each worker runs under an
id of its own that survives its restarts (``LEDGERBRIDGE_EXECUTOR_ID``, or by default the
host name and the first free worker slot on that host, never the process id): a
restarted worker picks up only what it was running itself. Every worker records a
heartbeat in the ``executors`` table; one whose heartbeat is older than
``LEDGERBRIDGE_EXECUTOR_TIMEOUT_SECONDS`` is taken as gone, and the first live worker to
claim its row (a conditional delete, so only one does) hands its pending workflows back
to their queues through DBOS's own recovery.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import re
import socket
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

from sqlalchemy import String, delete, select, update
from sqlalchemy.orm import Mapped, mapped_column

from ledgerbridge.db.base import Base, utcnow
from ledgerbridge.db.engine import Database

SLOTS = 64
log = logging.getLogger(__name__)


class Executor(Base):
    __tablename__ = "executors"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime]


def host_name() -> str:
    return re.sub(r"[^\w.-]", "-", socket.gethostname())[:100] or "host"


def take_slot(scope: str) -> tuple[int, IO[str]]:
    """The lowest worker slot free on this host among processes sharing ``scope`` (the
    system database). The slot is held by an open, locked file: the operating system frees
    it when the process ends, however it ends, so a restarted worker gets it back."""
    folder = Path(tempfile.gettempdir()) / "ledgerbridge-executors"
    folder = folder / hashlib.sha256(scope.encode()).hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    for slot in range(SLOTS):
        handle = (folder / f"slot-{slot}.lock").open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return slot, handle
    raise RuntimeError(f"all {SLOTS} worker slots on this host are taken: set an executor id")


def beat(db: Database, executor_id: str, *, starting: bool = False) -> None:
    """Record that ``executor_id`` is alive."""
    now = utcnow()
    with db.system() as session:
        values: dict[str, object] = {"seen_at": now}
        if starting:
            values.update(started_at=now, host=host_name())
        found = session.execute(update(Executor).where(Executor.id == executor_id).values(**values))
        if found.rowcount == 0:  # type: ignore[attr-defined]
            session.add(Executor(id=executor_id, host=host_name(), started_at=now, seen_at=now))


def claim_gone(db: Database, executor_id: str, timeout: timedelta) -> list[str]:
    """The executors silent for longer than ``timeout`` whose recovery this one claimed."""
    cutoff = utcnow() - timeout
    with db.system(read_only=True) as session:
        silent = session.scalars(
            select(Executor.id).where(Executor.seen_at < cutoff, Executor.id != executor_id)
        ).all()
    claimed: list[str] = []
    for gone in silent:
        with db.system() as session:
            taken = session.execute(
                delete(Executor).where(Executor.id == gone, Executor.seen_at < cutoff)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                claimed.append(gone)
    return claimed


def keep_alive(
    db: Database, executor_id: str, timeout: timedelta, recover: Callable[[str], int]
) -> threading.Event:
    """Beat every sixth of ``timeout`` and recover the executors that went silent, in a
    background thread until the returned event is set."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(timeout.total_seconds() / 6):
            try:
                beat(db, executor_id)
                for gone in claim_gone(db, executor_id, timeout):
                    count = recover(gone)
                    log.warning(
                        "executor %s went silent: %d pending workflows recovered", gone, count
                    )
            except Exception:
                log.exception("executor heartbeat failed")

    threading.Thread(target=run, name="ledgerbridge-executor-heartbeat", daemon=True).start()
    return stop
