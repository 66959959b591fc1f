"""Erasure on DBOS: one durable workflow per request, resumed where it was after a crash.

Each step is idempotent (disconnecting twice, deleting rows already gone), so a step
replayed after a crash does no harm; the report counts what each table's step removed.
"""

from __future__ import annotations

from dbos import DBOS

from ledgerbridge import durable
from ledgerbridge.erasure import service

REQUEUE_SCHEDULE = "ledgerbridge-erasure-requeue"


requeue = durable.scheduled_job(
    "ledgerbridge.erasure_requeue", "ledgerbridge.erasure.requeue", service.requeue_stale
)


@DBOS.step(name="ledgerbridge.erasure.begin")
def _begin(erasure_id: int) -> str:
    return service.begin(durable.services().db, erasure_id)


@DBOS.step(name="ledgerbridge.erasure.disconnect", retries_allowed=True, max_attempts=3)
def _disconnect(erasure_id: int, tenant_id: str) -> None:
    svc = durable.services()
    count = service.disconnect_all(svc, tenant_id)
    service.record_count(svc.db, erasure_id, "connections_disconnected", count)


@DBOS.step(name="ledgerbridge.erasure.table", retries_allowed=True, max_attempts=3)
def _erase(erasure_id: int, tenant_id: str, table: str) -> None:
    db = durable.services().db
    count = service.erase_table(db, tenant_id, table)
    service.record_count(db, erasure_id, table, count)


@DBOS.step(name="ledgerbridge.erasure.finish")
def _finish(erasure_id: int, error: str | None) -> None:
    service.finish(durable.services().db, erasure_id, error)


@DBOS.workflow(name=service.ERASURE_WORKFLOW)
def tenant_erasure(erasure_id: int) -> None:
    tenant_id = _begin(erasure_id)
    try:
        _disconnect(erasure_id, tenant_id)
        for table in service.TABLES:
            _erase(erasure_id, tenant_id, table)
    except Exception as exc:  # reported on the erasure rather than left "running"
        _finish(erasure_id, f"{type(exc).__name__}: {exc}"[:1000])
        return
    _finish(erasure_id, None)


DECLARED = durable.Declaration(
    queues=(durable.Queue(service.ERASURE_QUEUE, worker_concurrency=1),),
    schedules=(durable.Schedule(REQUEUE_SCHEDULE, "30 * * * * *", requeue),),
)
