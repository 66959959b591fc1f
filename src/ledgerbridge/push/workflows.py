"""Push on DBOS: a durable workflow per accepted operation, on a queue partitioned by
connection, and whichever of a connection's workflows runs pushes all its open operations.

The partition runs one workflow of a connection at a time, so a connection's operations
are claimed in batches in the order they were accepted, an update never overtakes its
create (a batch stops before a record's second write), and the calls of a batch take the
call budget in that order, as many in flight as the provider allows. The workflows of
operations an earlier one already pushed end at once. A crash between the provider's
answer and our commit replays the calls with the same idempotency keys: the provider
hands back the records it already made, never second ones.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS
from dbos._error import DBOSMaxStepRetriesExceeded

from ledgerbridge import durable
from ledgerbridge.push import service

REQUEUE_SCHEDULE = "ledgerbridge-push-requeue"


# A connection's next batch is claimed in the running workflow, so polling only bounds how
# soon an idle connection's first operation starts.
POLLING_SECONDS = 0.5


requeue = durable.scheduled_job(
    "ledgerbridge.push_requeue", "ledgerbridge.push.requeue", service.requeue_stale
)


@DBOS.step(name="ledgerbridge.push.claim")
def _claim(operation_id: int) -> list[service.Job] | service.Deferral | None:
    return service.claim(durable.services(), operation_id)


@DBOS.step(name="ledgerbridge.push.defer")
def _defer(operation_id: int, deferral: service.Deferral) -> str:
    current = DBOS.workflow_id
    assert current is not None
    return service.defer(durable.services(), operation_id, current, deferral)


# Transient provider trouble is retried inside, per operation; this retries the rest (a
# database hiccup while auditing a call). Replaying calls is safe: idempotency keys.
@DBOS.step(
    name="ledgerbridge.push.execute",
    retries_allowed=True,
    max_attempts=3,
    interval_seconds=5.0,
    backoff_rate=3.0,
)
def _execute(jobs: list[service.Job]) -> list[dict[str, Any]]:
    return service.execute_batch(durable.services(), jobs)


# Idempotent (a recorded outcome is not recorded again): a database hiccup is retried
# rather than leaving the operations running for ever.
@DBOS.step(name="ledgerbridge.push.finish", retries_allowed=True, max_attempts=3)
def _finish(
    jobs: list[service.Job], outcomes: list[dict[str, Any]]
) -> tuple[int, service.Deferral] | None:
    return service.finish_batch(durable.services(), jobs, outcomes)


@DBOS.workflow(name=service.PUSH_WORKFLOW)
def push_operation(operation_id: int) -> None:
    """Push the connection's open operations, a batch at a time, until none is left. When
    its account's call budget is spent, the operation waiting for it (and those behind it)
    stays ``pending``: this workflow ends, giving its queue slot to other connections'
    operations, and a continuation is queued for when the budget has refilled."""
    claimed = _claim(operation_id)
    while isinstance(claimed, list):
        try:
            outcomes = _execute(claimed)
        except DBOSMaxStepRetriesExceeded as exc:
            outcomes = [service.transient_failure(str(exc)[:500])] * len(claimed)
        deferred = _finish(claimed, outcomes)
        if deferred is not None:
            _defer(*deferred)
            return
        claimed = _claim(operation_id)
    if claimed is not None:
        _defer(operation_id, claimed)


DECLARED = durable.Declaration(
    queues=(
        durable.Queue(
            service.PUSH_QUEUE,
            worker_concurrency=16,  # a connection runs one workflow at a time
            partition_concurrency=1,
            polling_interval_sec=POLLING_SECONDS,
        ),
    ),
    schedules=(durable.Schedule(REQUEUE_SCHEDULE, "0 * * * * *", requeue),),
)
