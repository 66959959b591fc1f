"""Use cases: request a sync (joining one already queued), queue the syncs that are due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledgerbridge.connections.models import Connection, ConnectionStatus
from ledgerbridge.providers import Provider
from ledgerbridge.services import Services
from ledgerbridge.sync.catalog import object_types
from ledgerbridge.sync.models import SyncRun, SyncStatus

SYNC_WORKFLOW = "ledgerbridge.sync_run"
SYNC_QUEUE = "ledgerbridge-sync"
REENQUEUE_AFTER = timedelta(minutes=1)
WINDOW_TRIGGER = "window"  # a full pass the engine queued itself; requested_by says why


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
            SyncRun.status == SyncStatus.queued,
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
        },
        run.id,
    )


def queue_due_syncs(svc: Services, now: datetime) -> int:
    """Queue a scheduled sync for every active, unpaused connection whose interval has
    passed, and re-hand to DBOS any run that a crash left queued but never enqueued."""
    queued: list[SyncRun] = []
    with svc.db.system() as session:
        last_run = (
            select(SyncRun.connection_id, func.max(SyncRun.created_at).label("at"))
            .group_by(SyncRun.connection_id)
            .subquery()
        )
        due = session.execute(
            select(Connection, last_run.c.at)
            .outerjoin(last_run, last_run.c.connection_id == Connection.id)
            .where(Connection.status == ConnectionStatus.active, Connection.sync_paused.is_(False))
        ).all()
        for connection, last_at in due:
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
        stale = session.scalars(
            select(SyncRun).where(
                SyncRun.status == SyncStatus.queued,
                SyncRun.created_at < now - REENQUEUE_AFTER,
            )
        ).all()
        queued.extend(stale)
    for run in queued:
        enqueue(svc, run)
    return len(queued)


def _utc(value: datetime) -> datetime:
    # An aggregate over a UTC column comes back naive from SQLite.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
