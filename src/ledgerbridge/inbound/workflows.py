"""Incoming provider webhooks on DBOS: the delayed coalescing workflow (one per burst of a
connection's notices) and a sweep every 30 seconds for notices a crash left pending."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dbos import DBOS

from ledgerbridge.db.base import utcnow
from ledgerbridge.inbound import service
from ledgerbridge.services import Services

SWEEP_SCHEDULE = "ledgerbridge-provider-webhooks-sweep"
MAX_AGAIN = 100  # a bound on re-queueing, whatever the clock does (max wait bounds it first)
_services: Services | None = None


def bind(svc: Services) -> None:
    global _services
    _services = svc


def register() -> None:
    DBOS.register_queue(service.COALESCE_QUEUE, worker_concurrency=4)
    DBOS.apply_schedules(
        [
            {
                "schedule_name": SWEEP_SCHEDULE,
                "workflow_fn": sweep_tick,
                "schedule": "*/30 * * * * *",
            }
        ]
    )


def _svc() -> Services:
    if _services is None:
        raise RuntimeError("provider webhook workflows are not configured in this process")
    return _services


@DBOS.step(name="ledgerbridge.provider_webhooks.claim")
def _claim(connection_id: int) -> int | None:
    return service.claim(_svc(), connection_id)


@DBOS.step(name="ledgerbridge.provider_webhooks.start_sync")
def _start_sync(run_id: int) -> None:
    service.start_sync(_svc(), run_id)


@DBOS.step(name="ledgerbridge.provider_webhooks.wait")
def _wait(connection_id: int, again: int) -> bool:
    """Whether the burst goes on: then this coalescing is queued again for later."""
    going_on = service.unsettled(_svc(), connection_id, utcnow())
    if going_on is None or again >= MAX_AGAIN:
        return False
    first, wait = going_on
    service.hand_over(_svc(), connection_id, first, wait, again + 1)
    return True


@DBOS.workflow(name=service.COALESCE_WORKFLOW)
def coalesce(connection_id: int, again: int = 0) -> None:
    """Once the connection's burst has settled, one sync for all of its pending notices."""
    if _wait(connection_id, again):
        return
    run_id = _claim(connection_id)
    if run_id is not None:
        _start_sync(run_id)


@DBOS.step(name="ledgerbridge.provider_webhooks.sweep")
def _sweep(scheduled_at: datetime) -> int:
    return service.sweep(_svc(), scheduled_at)


@DBOS.workflow(name="ledgerbridge.provider_webhooks_sweeper")
def sweep_tick(scheduled_at: datetime, _context: Any) -> None:
    _sweep(scheduled_at)
