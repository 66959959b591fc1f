"""Sync on DBOS: one durable workflow per sync run, on a queue partitioned by connection.

The partition admits one run per connection at a time, so a second trigger waits its
turn. A crash mid-run is recovered by DBOS: finished object types are skipped, and the
interrupted one resumes from its last committed cursor. A scheduler workflow, run every
30 seconds by whichever worker's turn it is, queues the syncs that connections are due.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dbos import DBOS

from ledgerbridge.connections.budget import BudgetExhausted
from ledgerbridge.services import Services
from ledgerbridge.sync import drift, engine, service

TICK_SCHEDULE = "ledgerbridge-sync-scheduler"
AUDIT_SCHEDULE = "ledgerbridge-drift-audit-scheduler"
POLLING_SECONDS = 0.1
_services: Services | None = None


def bind(svc: Services) -> None:
    """Give the workflows this process's services (DBOS arguments must stay serialisable).

    Called before DBOS launches, since launching may resume interrupted workflows."""
    global _services
    _services = svc


def register() -> None:
    """Declare the queue and the scheduler (idempotent; every worker does it)."""
    # Polled every 0.1 s, not DBOS's default second: a sync requested (202) starts at once.
    DBOS.register_queue(
        service.SYNC_QUEUE,
        partition_concurrency=1,
        worker_concurrency=4,
        polling_interval_sec=POLLING_SECONDS,
    )
    DBOS.apply_schedules(
        [
            {
                "schedule_name": TICK_SCHEDULE,
                "workflow_fn": schedule_tick,
                "schedule": "*/30 * * * * *",
            },
            {
                "schedule_name": AUDIT_SCHEDULE,
                "workflow_fn": audit_tick,
                "schedule": "0 */5 * * * *",
            },
        ]
    )


def _svc() -> Services:
    if _services is None:
        raise RuntimeError("sync workflows are not configured in this process")
    return _services


@DBOS.step(name="ledgerbridge.sync.start")
def _start(run_id: int) -> dict[str, Any]:
    plan = engine.start_run(_svc(), run_id)
    return {"object_types": plan.object_types}


@DBOS.step(name="ledgerbridge.sync.pull")
def _pull(run_id: int, object_type: str) -> str | None:
    return engine.pull_object_type(_svc(), engine.plan_of(_svc(), run_id), object_type)


@DBOS.step(name="ledgerbridge.sync.tombstones")
def _tombstones(run_id: int) -> str | None:
    return engine.pull_tombstones(_svc(), engine.plan_of(_svc(), run_id))


@DBOS.step(name="ledgerbridge.sync.finish")
def _finish(run_id: int, errors: dict[str, str]) -> None:
    engine.finish_run(_svc(), run_id, errors)


@DBOS.step(name="ledgerbridge.sync.defer")
def _defer(run_id: int, reason: str, after: float) -> str:
    plan = engine.defer_run(_svc(), run_id, reason)
    return service.continue_later(_svc(), run_id, plan.connection_id, after, plan.trigger)


@DBOS.workflow(name=service.SYNC_WORKFLOW)
def sync_run(run_id: int) -> None:
    """Pull each object type, then deletions. When the account's call budget is spent, the
    run is ``deferred``: this workflow ends (its queue slot goes to another connection's
    sync) and a continuation is queued for when the budget has refilled; finished object
    types cost one call each again, interrupted ones resume from their cursors."""
    object_types: list[str] = _start(run_id)["object_types"]
    errors: dict[str, str] = {}
    try:
        for object_type in object_types:
            error = _pull(run_id, object_type)
            if error:
                errors[object_type] = error
        error = _tombstones(run_id)
    except BudgetExhausted as exc:
        _defer(run_id, str(exc), exc.retry_after)
        return
    if error:
        errors["deletions"] = error
    _finish(run_id, errors)


@DBOS.step(name="ledgerbridge.sync.queue_due")
def _queue_due(scheduled_at: datetime) -> int:
    return service.queue_due_syncs(_svc(), scheduled_at)


@DBOS.workflow(name="ledgerbridge.sync_scheduler")
def schedule_tick(scheduled_at: datetime, _context: Any) -> None:
    _queue_due(scheduled_at)


@DBOS.step(name="ledgerbridge.sync.queue_due_audits")
def _queue_due_audits(scheduled_at: datetime) -> int:
    return drift.queue_due_audits(_svc(), scheduled_at)


@DBOS.workflow(name="ledgerbridge.drift_audit_scheduler")
def audit_tick(scheduled_at: datetime, _context: Any) -> None:
    """Every five minutes: queue the drift audits that have come due (sync/drift.py)."""
    _queue_due_audits(scheduled_at)
