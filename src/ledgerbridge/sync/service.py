"""Use cases: request a sync (joining one already queued), queue the syncs that are due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dbos import DBOS
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from ledgerbridge.connections.models import Connection, ConnectionStatus
from ledgerbridge.db.engine import Database
from ledgerbridge.db.retention import delete_in_batches
from ledgerbridge.providers import Provider
from ledgerbridge.services import Services
from ledgerbridge.sync.catalog import object_types
from ledgerbridge.sync.models import SyncRun, SyncStatus

SYNC_WORKFLOW = "ledgerbridge.sync_run"
SYNC_QUEUE = "ledgerbridge-sync"
REENQUEUE_AFTER = timedelta(minutes=1)
WINDOW_TRIGGER = "window"  # a full pass the engine queued itself; requested_by says why
AUDIT_TRIGGER = "audit"  # a full pass of the drift audit (sync/drift.py)
# Queue priority (lower first; DBOS's default is 0): a connection's waiting syncs go before
# its drift audits.
BACKGROUND_PRIORITY = 100


def priority_of(trigger: str) -> dict[str, int]:
    """The enqueue options that place a run of ``trigger`` in its connection's queue."""
    return {"priority": BACKGROUND_PRIORITY} if trigger == AUDIT_TRIGGER else {}


class UnknownObjectTypes(ValueError):
    """The provider has no such object types."""


def workflow_id(run_id: int) -> str:
    return f"sync-run-{run_id}"


def request_sync(
    session: Session,
    connection: Connection,
    *,
    wanted: list[str] | None,
    full_resync: bool,
    trigger: str,
    requested_by: str,
) -> tuple[SyncRun, bool]:
    """A queued run covering ``wanted`` (every type by default): an existing one that has
    not started yet and covers them, or a new one. Returns (run, created)."""
    known = list(object_types(Provider(connection.provider)))
    types = wanted or known
    unknown = sorted(set(types) - set(known))
    if unknown:
        raise UnknownObjectTypes(
            f"{connection.provider} has no object types {unknown}; it has {known}"
        )
    waiting = session.scalars(
        select(SyncRun).where(
            SyncRun.connection_id == connection.id,
            SyncRun.status.in_((SyncStatus.queued, SyncStatus.deferred)),
            SyncRun.full_resync == full_resync,
        )
    ).all()
    for run in waiting:
        if set(types) <= set(run.object_types):
            return run, False
    run = SyncRun(
        tenant_id=connection.tenant_id,
        connection_id=connection.id,
        object_types=[t for t in known if t in types],
        full_resync=full_resync,
        trigger=trigger,
        requested_by=requested_by,
    )
    session.add(run)
    session.flush()
    return run, True


def enqueue(svc: Services, run: SyncRun) -> None:
    """Hand the run to DBOS; the workflow id makes a repeated call harmless."""
    svc.dbos_client().enqueue(
        {
            "workflow_name": SYNC_WORKFLOW,
            "queue_name": SYNC_QUEUE,
            "workflow_id": workflow_id(run.id),
            "queue_partition_key": str(run.connection_id),
            **priority_of(run.trigger),  # type: ignore[typeddict-item]
        },
        run.id,
    )


def continue_later(
    svc: Services, run_id: int, connection_id: int, after: float, trigger: str = "api"
) -> str:
    """Hand a deferred run back to DBOS to continue in ``after`` seconds (its own workflow
    id per deferral: ``sync-run-7``, then ``sync-run-7-resume-1``, …)."""
    current = DBOS.workflow_id or workflow_id(run_id)
    base, _, number = current.partition("-resume-")
    following = f"{base}-resume-{int(number or 0) + 1}"
    svc.dbos_client().enqueue(
        {
            "workflow_name": SYNC_WORKFLOW,
            "queue_name": SYNC_QUEUE,
            "workflow_id": following,
            "queue_partition_key": str(connection_id),
            "delay_seconds": after,
            **priority_of(trigger),  # type: ignore[typeddict-item]
        },
        run_id,
    )
    return following


def queue_due_syncs(svc: Services, now: datetime) -> int:
    """Queue a scheduled sync for every active, unpaused connection whose interval has
    passed, and re-hand to DBOS any run that a crash left queued but never enqueued."""
    queued: list[SyncRun] = []
    with svc.db.system() as session:
        for connection, last_at in session.execute(scheduled_connections()).all():
            interval = timedelta(minutes=connection.sync_interval_minutes)
            if last_at is not None and _utc(last_at) + interval > now:
                continue
            run, created = request_sync(
                session,
                connection,
                wanted=None,
                full_resync=False,
                trigger="schedule",
                requested_by="schedule",
            )
            if created:
                queued.append(run)
        queued.extend(session.scalars(stale_runs(now)).all())
    for run in queued:
        enqueue(svc, run)
    return len(queued)


def scheduled_connections() -> Select[Connection, datetime]:
    """Every active, unpaused connection and when its latest run was requested: one probe
    of ``ix_sync_runs_connection_created`` per connection, never a pass over all runs."""
    latest = (
        select(func.max(SyncRun.created_at))
        .where(SyncRun.connection_id == Connection.id, SyncRun.trigger != AUDIT_TRIGGER)
        .correlate(Connection)
        .scalar_subquery()
    )
    return select(Connection, latest).where(
        Connection.status == ConnectionStatus.active, Connection.sync_paused.is_(False)
    )


def stale_runs(now: datetime) -> Select[Any]:
    """Runs a crash left queued but never handed to DBOS (``ix_sync_runs_status_created``)."""
    return select(SyncRun).where(
        SyncRun.status == SyncStatus.queued, SyncRun.created_at < now - REENQUEUE_AFTER
    )


def prune_runs(db: Database, older_than: timedelta, now: datetime) -> int:
    """Delete finished runs requested before ``now - older_than``, in batches; a
    connection's latest run is kept (it says when the connection last synced)."""
    later = aliased(SyncRun)
    newer_exists = (
        select(later.id)
        .where(later.connection_id == SyncRun.connection_id, later.id > SyncRun.id)
        .exists()
    )
    return delete_in_batches(
        db,
        SyncRun,
        SyncRun.created_at < now - older_than,
        SyncRun.status.in_([SyncStatus.succeeded, SyncStatus.failed]),
        newer_exists,
    )


def _utc(value: datetime) -> datetime:
    # An aggregate over a UTC column comes back naive from SQLite.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
