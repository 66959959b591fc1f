"""Fair shares of reconciliation between tenants.

Each tenant may keep at most ``reconcile_max_jobs`` jobs, schedule them at most once
every ``reconcile_min_schedule_minutes``, and have at most ``reconcile_max_queued_runs``
runs waiting. The run queue is partitioned by tenant (``runs.enqueue``): a tenant's runs
take turns among themselves, so one tenant's backlog never stands in front of another's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from croniter import croniter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledgerbridge.db.locks import lock
from ledgerbridge.errors import ApiError
from ledgerbridge.reconcile.models import ReconciliationJob, ReconciliationRun, RunStatus
from ledgerbridge.settings import Settings

RETRY_AFTER_SECONDS = 30
_FROM = datetime(2024, 1, 1, tzinfo=UTC)  # any instant: a cron's gaps repeat every day


def shortest_interval(cron: str, minimum: timedelta) -> timedelta:
    """The shortest time between two firings of ``cron`` (a 5-field UTC cron), or the
    first gap found below ``minimum``. A day's firings repeat on every day it fires, so
    two full days of firings hold every gap that can be below ``minimum``."""
    firings = croniter(cron, _FROM)
    enough = 2 * (timedelta(days=1) // minimum + 1) + 2
    previous: datetime = firings.get_next(datetime)
    shortest = timedelta.max
    for _ in range(enough):
        following: datetime = firings.get_next(datetime)
        shortest = min(shortest, following - previous)
        if shortest < minimum:
            break
        previous = following
    return shortest


def check_schedule(settings: Settings, cron: str | None) -> None:
    """422 for a schedule that would fire more often than tenants may."""
    if cron is None:
        return
    minimum = timedelta(minutes=settings.reconcile_min_schedule_minutes)
    try:
        shortest = shortest_interval(cron, minimum)
    except Exception:  # croniter: a valid expression that never fires (31 February)
        raise ApiError(422, "invalid_schedule", f"schedule {cron!r} never fires") from None
    if shortest < minimum:
        raise ApiError(
            422,
            "schedule_too_frequent",
            f"schedule {cron!r} fires {_minutes(shortest)} apart; a job may run at most "
            f"once every {settings.reconcile_min_schedule_minutes} minutes",
            {"minimum_minutes": settings.reconcile_min_schedule_minutes},
        )


def check_job_count(session: Session, settings: Settings, tenant_id: str) -> None:
    """429 when the tenant already has as many jobs as it may (deleted ones not counted)."""
    lock(session, f"reconcile-jobs:{tenant_id}")  # concurrent creations count each other
    jobs = session.scalar(
        select(func.count())
        .select_from(ReconciliationJob)
        .where(ReconciliationJob.tenant_id == tenant_id, ReconciliationJob.deleted_at.is_(None))
    )
    if (jobs or 0) >= settings.reconcile_max_jobs:
        raise ApiError(
            429,
            "too_many_jobs",
            f"a tenant may have at most {settings.reconcile_max_jobs} reconciliation jobs; "
            "delete one first",
            {"limit": settings.reconcile_max_jobs},
        )


def queued_runs(session: Session, tenant_id: str) -> int:
    """The tenant's runs waiting for a worker; taken under the tenant's lock, so that
    runs requested at once count each other."""
    lock(session, f"reconcile-runs:{tenant_id}")
    found = session.scalar(
        select(func.count())
        .select_from(ReconciliationRun)
        .where(
            ReconciliationRun.tenant_id == tenant_id,
            ReconciliationRun.status == RunStatus.queued,
        )
    )
    return found or 0


def check_queue(session: Session, settings: Settings, tenant_id: str) -> None:
    """429 (with Retry-After) when the tenant has as many runs waiting as it may."""
    if queued_runs(session, tenant_id) >= settings.reconcile_max_queued_runs:
        raise ApiError(
            429,
            "too_many_queued_runs",
            f"{settings.reconcile_max_queued_runs} runs of this tenant are already waiting; "
            "try again when some have started",
            {"limit": settings.reconcile_max_queued_runs},
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


def _minutes(interval: timedelta) -> str:
    minutes = interval.total_seconds() / 60
    return f"{minutes:g} minute{'s' if minutes != 1 else ''}"
