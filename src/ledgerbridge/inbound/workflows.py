"""Incoming provider webhooks on DBOS: the delayed coalescing workflow (one per burst of a
connection's notices) and a sweep every 30 seconds for notices a crash left pending."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dbos import DBOS

from ledgerbridge.inbound import service
from ledgerbridge.services import Services

SWEEP_SCHEDULE = "ledgerbridge-provider-webhooks-sweep"
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


@DBOS.workflow(name=service.COALESCE_WORKFLOW)
def coalesce(connection_id: int) -> None:
    run_id = _claim(connection_id)
    if run_id is not None:
        _start_sync(run_id)


@DBOS.step(name="ledgerbridge.provider_webhooks.sweep")
def _sweep(scheduled_at: datetime) -> int:
    return service.sweep(_svc(), scheduled_at)


@DBOS.workflow(name="ledgerbridge.provider_webhooks_sweeper")
def sweep_tick(scheduled_at: datetime, _context: Any) -> None:
    _sweep(scheduled_at)
