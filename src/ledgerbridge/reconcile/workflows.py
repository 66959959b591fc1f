"""Reconciliation on DBOS: a durable workflow per run, and a DBOS schedule per scheduled job.

Runs wait on a queue partitioned by tenant, one run of a tenant at a time: two runs of
one job never overlap (the second would read decisions the first is about to change),
and one tenant's backlog never delays another tenant's run by more than the run already
under way on each worker slot. A job's schedule is a DBOS
schedule named after the job; each firing makes one run for that instant, once, even
when the firing is replayed after a crash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from dbos import DBOS

from ledgerbridge import durable
from ledgerbridge.reconcile import limits, runs
from ledgerbridge.reconcile.models import ReconciliationJob
from ledgerbridge.services import Services

SCHEDULED_WORKFLOW = "ledgerbridge.reconciliation_scheduled"
log = structlog.get_logger(__name__)


def schedule_name(job_id: int) -> str:
    return f"reconciliation-job-{job_id}"


def apply_schedule(svc: Services, job: ReconciliationJob) -> None:
    """Make DBOS's schedule for ``job`` match the job (none when it has no schedule)."""
    client = svc.dbos_client()
    if job.schedule is None or job.deleted_at is not None:
        client.delete_schedule(schedule_name(job.id))
        return
    client.apply_schedules(
        [
            {
                "schedule_name": schedule_name(job.id),
                "workflow_name": SCHEDULED_WORKFLOW,
                "schedule": f"0 {job.schedule}",  # DBOS crons start with seconds
                "context": {"job_id": job.id, "schedule": job.schedule},
            }
        ]
    )


@DBOS.step(name="ledgerbridge.reconcile.execute")
def _execute(run_id: int) -> None:
    runs.execute(durable.services(), run_id)


@DBOS.step(name="ledgerbridge.reconcile.fail")
def _fail(run_id: int, error: str) -> None:
    runs.fail(durable.services(), run_id, error)


@DBOS.workflow(name=runs.RECONCILE_WORKFLOW)
def reconciliation_run(run_id: int) -> None:
    try:
        _execute(run_id)
    except Exception as exc:  # recorded on the run rather than left "running" for ever
        _fail(run_id, f"{type(exc).__name__}: {exc}"[:1000])


@DBOS.step(name="ledgerbridge.reconcile.scheduled_run")
def _scheduled_run(job_id: int, schedule: str, scheduled_at: datetime) -> None:
    svc = durable.services()
    with svc.db.system() as session:
        job = session.get(ReconciliationJob, job_id)
        # A schedule left behind by a job since deleted or rescheduled does nothing.
        if job is None or job.deleted_at is not None or job.schedule != schedule:
            return
        waiting = limits.queued_runs(session, job.tenant_id)
        if waiting >= svc.settings.reconcile_max_queued_runs:
            log.warning(
                "reconciliation.schedule_skipped",
                job_id=job_id,
                scheduled_for=scheduled_at.isoformat(),
                queued_runs=waiting,
            )
            return
        run = runs.request_run(
            session,
            job,
            trigger="schedule",
            requested_by="schedule",
            scheduled_for=scheduled_at,
        )
    runs.enqueue(svc, run)


@DBOS.workflow(name=SCHEDULED_WORKFLOW)
def scheduled(scheduled_at: datetime, context: Any) -> None:
    _scheduled_run(int(context["job_id"]), str(context["schedule"]), scheduled_at)


# Matching holds both sides in memory: few runs at once per worker; one per tenant. Each
# job's own schedule is applied through the client when the job is saved (apply_schedule).
DECLARED = durable.Declaration(
    queues=(durable.Queue(runs.RECONCILE_QUEUE, worker_concurrency=2, partition_concurrency=1),),
)
