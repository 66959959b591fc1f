"""Push on DBOS: one durable workflow per operation, on a queue partitioned by connection.

The partition runs a connection's operations one at a time, in the order they were
accepted, so an update never overtakes its create. A crash between the provider's answer
and our commit replays the call with the same idempotency key: the provider hands back
the record it already made, never a second one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dbos import DBOS
from dbos._error import DBOSMaxStepRetriesExceeded

from ledgerbridge import durable
from ledgerbridge.db.base import utcnow
from ledgerbridge.push import service

REQUEUE_SCHEDULE = "ledgerbridge-push-requeue"


# A partition takes its next operation only when the queue is next polled: at DBOS's
# default second, a connection could never push faster than one operation a second
# (QuickBooks allows ten calls a second).
POLLING_SECONDS = 0.1


requeue = durable.scheduled_job(
    "ledgerbridge.push_requeue", "ledgerbridge.push.requeue", service.requeue_stale
)


@DBOS.step(name="ledgerbridge.push.begin")
def _begin(operation_id: int) -> service.Job | service.Deferral | None:
    return service.begin(durable.services(), operation_id)


@DBOS.step(name="ledgerbridge.push.defer")
def _defer(operation_id: int, deferral: service.Deferral) -> str:
    current = DBOS.workflow_id
    assert current is not None
    return service.defer(durable.services(), operation_id, current, deferral)


@DBOS.step(
    name="ledgerbridge.push.execute",
    retries_allowed=True,
    max_attempts=4,
    interval_seconds=5.0,
    backoff_rate=3.0,
)
def _execute(job: service.Job) -> dict[str, Any]:
    return service.execute(durable.services(), job)


# Idempotent (a recorded outcome is not recorded again): a database hiccup is retried
# rather than leaving the operation running for ever.
@DBOS.step(name="ledgerbridge.push.finish", retries_allowed=True, max_attempts=3)
def _finish(job: service.Job, outcome: dict[str, Any]) -> None:
    service.finish(durable.services(), job, outcome)


@DBOS.workflow(name=service.PUSH_WORKFLOW)
def push_operation(operation_id: int) -> None:
    """Run the operation. When its account's call budget is spent (or an earlier
    operation of its connection waits for it), the operation stays ``pending``: this
    workflow ends, giving its queue slot to other connections' operations, and a
    continuation is queued for when the budget has refilled."""
    job = _begin(operation_id)
    if job is None:
        return
    if isinstance(job, service.Deferral):
        _defer(operation_id, job)
        return
    try:
        outcome = _execute(job)
    except DBOSMaxStepRetriesExceeded as exc:
        outcome = service.transient_failure(str(exc)[:500])
    if outcome.get("deferred") is not None:
        until = utcnow() + timedelta(seconds=outcome["deferred"])
        _defer(operation_id, service.Deferral(until, outcome["error"]))
        return
    _finish(job, outcome)


DECLARED = durable.Declaration(
    queues=(
        durable.Queue(
            service.PUSH_QUEUE,
            worker_concurrency=8,
            partition_concurrency=1,
            polling_interval_sec=POLLING_SECONDS,
        ),
    ),
    schedules=(durable.Schedule(REQUEUE_SCHEDULE, "0 * * * * *", requeue),),
)
