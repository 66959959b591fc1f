"""Sync on DBOS: one durable workflow per sync run, on a queue partitioned by connection.

The partition admits one run per connection at a time, so a second trigger waits its
turn. A crash mid-run is recovered by DBOS: finished object types are skipped, and the
interrupted one resumes from its last committed cursor. A scheduler workflow, run every
30 seconds by whichever worker's turn it is, queues the syncs that connections are due.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from ledgerbridge import durable
from ledgerbridge.providers.budget import BudgetExhausted
from ledgerbridge.sync import drift, engine, service

TICK_SCHEDULE = "ledgerbridge-sync-scheduler"
AUDIT_SCHEDULE = "ledgerbridge-drift-audit-scheduler"
POLLING_SECONDS = 0.1  # not DBOS's default second: a sync requested (202) starts at once


@DBOS.step(name="ledgerbridge.sync.start")
def _start(run_id: int) -> dict[str, Any]:
    plan = engine.start_run(durable.services(), run_id)
    return {"object_types": plan.object_types}


@DBOS.step(name="ledgerbridge.sync.pull")
def _pull(run_id: int, object_type: str) -> str | None:
    svc = durable.services()
    return engine.pull_object_type(svc, engine.plan_of(svc, run_id), object_type)


@DBOS.step(name="ledgerbridge.sync.tombstones")
def _tombstones(run_id: int) -> str | None:
    svc = durable.services()
    return engine.pull_tombstones(svc, engine.plan_of(svc, run_id))


@DBOS.step(name="ledgerbridge.sync.finish")
def _finish(run_id: int, errors: dict[str, str]) -> None:
    engine.finish_run(durable.services(), run_id, errors)


@DBOS.step(name="ledgerbridge.sync.defer")
def _defer(run_id: int, reason: str, after: float) -> str:
    svc = durable.services()
    plan = engine.defer_run(svc, run_id, reason)
    return service.continue_later(svc, run_id, plan.connection_id, after, plan.trigger)


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


schedule_tick = durable.scheduled_job(
    "ledgerbridge.sync_scheduler", "ledgerbridge.sync.queue_due", service.queue_due_syncs
)


# Every five minutes: queue the drift audits that have come due (sync/drift.py).
audit_tick = durable.scheduled_job(
    "ledgerbridge.drift_audit_scheduler",
    "ledgerbridge.sync.queue_due_audits",
    drift.queue_due_audits,
)


DECLARED = durable.Declaration(
    queues=(
        durable.Queue(
            service.SYNC_QUEUE,
            worker_concurrency=4,
            partition_concurrency=1,
            polling_interval_sec=POLLING_SECONDS,
        ),
    ),
    schedules=(
        durable.Schedule(TICK_SCHEDULE, "*/30 * * * * *", schedule_tick),
        durable.Schedule(AUDIT_SCHEDULE, "0 */5 * * * *", audit_tick),
    ),
)
