"""Webhooks on DBOS: a dispatcher run every few seconds by whichever worker's turn it is,
and one durable workflow per delivery attempt.

An attempt that fails enqueues the next one with the schedule's delay (DBOS keeps it
``DELAYED`` without holding a worker slot), under the id ``webhook-<delivery>-<replay>-
<attempt>``: a worker killed at any point resumes the chain where it stopped, and never
starts an attempt twice. The one thing a crash can repeat is a POST whose answer was not
yet recorded: receivers dedupe on the ``webhook-id``, which every attempt shares.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dbos import DBOS

from ledgerbridge import durable
from ledgerbridge.settings import Settings
from ledgerbridge.webhooks import delivery, dispatch

DISPATCH_SCHEDULE = "ledgerbridge-webhook-dispatch"
WORKER_CONCURRENCY = 32  # attempts at once per worker: they mostly wait on receivers
PER_ENDPOINT = 16


@DBOS.step(name="ledgerbridge.webhooks.dispatch")
def _dispatch() -> int:
    created = dispatch.dispatch_all(durable.services())
    dispatch.enqueue_waiting(durable.services())
    return created


@DBOS.workflow(name="ledgerbridge.webhook_dispatcher")
def dispatch_tick(scheduled_at: datetime, _context: Any) -> None:
    _dispatch()


@DBOS.step(name="ledgerbridge.webhooks.send")
def _send(delivery_id: int, replay: int, number: int) -> delivery.Outcome:
    return delivery.send(durable.services(), delivery_id, replay, number)


@DBOS.step(name="ledgerbridge.webhooks.record", retries_allowed=True, max_attempts=3)
def _record(delivery_id: int, replay: int, number: int, outcome: delivery.Outcome) -> float | None:
    return delivery.record(durable.services(), delivery_id, replay, number, outcome)


@DBOS.workflow(name=dispatch.DELIVERY_WORKFLOW)
def deliver(delivery_id: int, replay: int, number: int, endpoint_id: int) -> None:
    outcome = _send(delivery_id, replay, number)
    wait = _record(delivery_id, replay, number, outcome)
    if wait is None:
        return
    DBOS.enqueue_workflow_with_options(
        {
            "workflow_name": dispatch.DELIVERY_WORKFLOW,
            "queue_name": dispatch.DELIVERY_QUEUE,
            "workflow_id": dispatch.workflow_id(delivery_id, replay, number + 1),
            "delay_seconds": wait,
            "queue_partition_key": str(endpoint_id),
        },
        delivery_id,
        replay,
        number + 1,
        endpoint_id,
    )


def _every_few_seconds(settings: Settings) -> str:
    return f"*/{settings.webhook_dispatch_seconds} * * * * *"


DECLARED = durable.Declaration(
    # Partitioned by endpoint: a slow or dead receiver (15 s per attempt) holds at most its
    # own partition's slots, never the other endpoints' deliveries.
    queues=(
        durable.Queue(
            dispatch.DELIVERY_QUEUE,
            worker_concurrency=WORKER_CONCURRENCY,
            partition_concurrency=PER_ENDPOINT,
            polling_interval_sec=0.2,
        ),
    ),
    schedules=(durable.Schedule(DISPATCH_SCHEDULE, _every_few_seconds, dispatch_tick),),
)
