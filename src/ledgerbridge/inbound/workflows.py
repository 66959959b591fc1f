"""Incoming provider webhooks on DBOS: the delayed coalescing workflow (one per burst of a
connection's notices) and a sweep every 30 seconds for notices a crash left pending."""

from __future__ import annotations

from dbos import DBOS

from ledgerbridge import durable
from ledgerbridge.db.base import utcnow
from ledgerbridge.inbound import service

SWEEP_SCHEDULE = "ledgerbridge-provider-webhooks-sweep"
MAX_AGAIN = 100  # a bound on re-queueing, whatever the clock does (max wait bounds it first)


@DBOS.step(name="ledgerbridge.provider_webhooks.claim")
def _claim(connection_id: int) -> int | None:
    return service.claim(durable.services(), connection_id)


@DBOS.step(name="ledgerbridge.provider_webhooks.start_sync")
def _start_sync(run_id: int) -> None:
    service.start_sync(durable.services(), run_id)


@DBOS.step(name="ledgerbridge.provider_webhooks.wait")
def _wait(connection_id: int, again: int) -> bool:
    """Whether the burst goes on: then this coalescing is queued again for later."""
    going_on = service.unsettled(durable.services(), connection_id, utcnow())
    if going_on is None or again >= MAX_AGAIN:
        return False
    first, wait = going_on
    service.hand_over(durable.services(), connection_id, first, wait, again + 1)
    return True


@DBOS.workflow(name=service.COALESCE_WORKFLOW)
def coalesce(connection_id: int, again: int = 0) -> None:
    """Once the connection's burst has settled, one sync for all of its pending notices."""
    if _wait(connection_id, again):
        return
    run_id = _claim(connection_id)
    if run_id is not None:
        _start_sync(run_id)


sweep_tick = durable.scheduled_job(
    "ledgerbridge.provider_webhooks_sweeper", "ledgerbridge.provider_webhooks.sweep", service.sweep
)


DECLARED = durable.Declaration(
    queues=(durable.Queue(service.COALESCE_QUEUE, worker_concurrency=4),),
    schedules=(durable.Schedule(SWEEP_SCHEDULE, "*/30 * * * * *", sweep_tick),),
)
