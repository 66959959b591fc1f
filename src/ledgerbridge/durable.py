"""What the capabilities' DBOS workflows share, and how each declares what it needs.

A capability declares its queues and schedules in its ``workflows.py`` as a
:class:`Declaration`; the composition root (``runtime.py``) collects them, binds this
process's services and registers them all when it launches DBOS. A step reaches the
services through :func:`services`: DBOS arguments must stay serialisable, so they cannot
carry a database or a vault.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dbos import DBOS, ScheduleInput
from fastapi import Response
from sqlalchemy.orm import Session

from ledgerbridge.services import Services
from ledgerbridge.settings import Settings


@dataclass(frozen=True)
class Queue:
    name: str
    worker_concurrency: int
    partition_concurrency: int | None = None  # at most this many at once per partition key
    polling_interval_sec: float = 1.0


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str | Callable[[Settings], str]  # DBOS crons start with seconds
    workflow: Callable[[datetime, Any], None]


@dataclass(frozen=True)
class Declaration:
    queues: tuple[Queue, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    retired: tuple[str, ...] = ()  # schedules an earlier release applied: deleted


_bound: Services | None = None


def bind(svc: Services) -> None:
    """Give the workflows this process's services: before DBOS launches, since launching
    may resume interrupted workflows."""
    global _bound
    _bound = svc


def services() -> Services:
    if _bound is None:
        raise RuntimeError("durable workflows are not configured in this process")
    return _bound


def scheduled_job(
    workflow: str, step: str, job: Callable[[Services, datetime], int]
) -> Callable[[datetime, Any], None]:
    """The workflow a schedule fires: one step doing ``job`` with this process's services
    at the scheduled time (the step records how many things it did)."""

    @DBOS.step(name=step)
    def run(now: datetime) -> int:
        return job(services(), now)

    @DBOS.workflow(name=workflow)
    def fired(scheduled_at: datetime, _context: Any) -> None:
        run(scheduled_at)

    return fired


def register(declarations: Iterable[Declaration]) -> None:
    """Declare every queue and schedule (idempotent: every worker does it at launch)."""
    schedules: list[ScheduleInput] = []
    for declaration in declarations:
        for queue in declaration.queues:
            DBOS.register_queue(
                queue.name,
                worker_concurrency=queue.worker_concurrency,
                partition_concurrency=queue.partition_concurrency,
                polling_interval_sec=queue.polling_interval_sec,
            )
        for retired in declaration.retired:
            DBOS.delete_schedule(retired)
        schedules += [
            {"schedule_name": s.name, "workflow_fn": s.workflow, "schedule": _cron(s)}
            for s in declaration.schedules
        ]
    DBOS.apply_schedules(schedules)


def _cron(schedule: Schedule) -> str:
    return schedule.cron if isinstance(schedule.cron, str) else schedule.cron(services().settings)


def accept(
    response: Response,
    location: str,
    enqueue: Callable[[], object] | None,
    session: Session | None = None,
) -> None:
    """Answer ``202 Accepted`` for durable work: what was asked is committed first (a worker
    may pick it up at once), then queued (``None``: it was already); ``Location`` is where
    to follow it."""
    if session is not None:
        session.commit()
    if enqueue is not None:
        enqueue()
    response.headers["Location"] = location
