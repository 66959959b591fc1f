"""Use cases: store verified notices for their connections, then coalesce each
connection's pending notices into one targeted incremental sync.

The provider is answered as soon as its notices are stored (one short transaction), never
after a sync. A coalescing workflow, delayed by ``provider_webhook_coalesce_seconds``, then
waits until the burst has settled (no notice for that long, or the oldest pending one is
``provider_webhook_max_wait_seconds`` old) by queueing itself again for later, claims
every notice of the connection still pending and requests one sync of the object types
they name (``trigger: "webhook"``; it joins a queued run covering them). Its workflow id
is the connection and its oldest pending notice: the delivery that stored that notice
queues it, the rest of the burst joins it (and DBOS would start it once anyway). A sweep
re-hands to DBOS notices a crash (or a delivery racing a claim) left pending.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledgerbridge.connections.models import Connection, ConnectionStatus
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.retention import delete_in_batches
from ledgerbridge.inbound.models import ProviderNotification
from ledgerbridge.providers import Provider
from ledgerbridge.providers.webhooks import Notice
from ledgerbridge.services import Services
from ledgerbridge.sync import service as sync_service
from ledgerbridge.sync.models import SyncRun

log = structlog.get_logger(__name__)
COALESCE_WORKFLOW = "ledgerbridge.provider_webhooks.coalesce"
COALESCE_QUEUE = "ledgerbridge-provider-webhooks"
REQUESTED_BY = "provider webhook"
SWEEP_AFTER = timedelta(seconds=30)  # pending this long past its window: re-handed to DBOS


@dataclass
class Received:
    stored: int = 0
    duplicates: int = 0
    unknown_accounts: list[str] = field(default_factory=list)
    # connection -> its oldest pending notice, when this delivery began the burst
    connections: dict[int, int] = field(default_factory=dict)


def coalesce_id(connection_id: int, first_pending: int, again: int = 0) -> str:
    base = f"provider-webhooks-{connection_id}-{first_pending}"
    return f"{base}-again-{again}" if again else base


def receive(svc: Services, provider: Provider, notices: list[Notice]) -> Received:
    """Store ``notices`` for every active connection to their accounts (a resent event is
    dropped), then hand each connection's coalescing to DBOS. Accounts no active
    connection reaches are logged and dropped."""
    received = Received()
    if not notices:
        return received
    accounts = {n.account_id for n in notices}
    with svc.db.system() as session:
        connections: dict[str, list[Connection]] = defaultdict(list)
        for connection in session.scalars(
            select(Connection).where(
                Connection.provider == provider.value,
                Connection.external_account_id.in_(accounts),
                Connection.status == ConnectionStatus.active,
            )
        ):
            connections[connection.external_account_id].append(connection)
        rows: dict[tuple[int, str], dict[str, Any]] = {}
        now = utcnow()
        for notice in notices:
            for connection in connections.get(notice.account_id, ()):
                rows.setdefault(
                    (connection.id, notice.key),
                    {
                        "tenant_id": connection.tenant_id,
                        "connection_id": connection.id,
                        "provider": provider.value,
                        "object_type": notice.object_type,
                        "event_key": notice.key,
                        "received_at": now,
                    },
                )
        inserted = _insert_new(session, list(rows.values()))
        received.stored = len(inserted)
        received.duplicates = len(rows) - received.stored
        # Only the delivery that began a burst queues its coalescing; the others join it.
        received.connections = {
            connection_id: first
            for connection_id, first in _first_pending(session, {c for c, _ in rows}).items()
            if first in inserted
        }
    received.unknown_accounts = sorted(accounts - set(connections))
    if received.unknown_accounts:
        log.warning(
            "provider webhook for accounts no active connection reaches: dropped",
            provider=provider.value,
            accounts=received.unknown_accounts,
        )
    for connection_id, first in received.connections.items():
        hand_over(svc, connection_id, first, svc.settings.provider_webhook_coalesce_seconds)
    return received


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> set[int]:
    """Insert the rows whose (connection, event key) is new; their ids."""
    if not rows:
        return set()
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(ProviderNotification)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["connection_id", "event_key"])
        .returning(ProviderNotification.id)
    )
    return set(session.scalars(statement))


def _first_pending(session: Session, connection_ids: set[int]) -> dict[int, int]:
    if not connection_ids:
        return {}
    found = session.execute(
        select(ProviderNotification.connection_id, func.min(ProviderNotification.id))
        .where(
            ProviderNotification.claimed_at.is_(None),
            ProviderNotification.connection_id.in_(connection_ids),
        )
        .group_by(ProviderNotification.connection_id)
    ).all()
    return {connection_id: first for connection_id, first in found}


def hand_over(
    svc: Services, connection_id: int, first_pending: int, delay: float, again: int = 0
) -> None:
    """Queue the connection's coalescing; the same burst names the same workflow."""
    svc.dbos_client().enqueue(
        {
            "workflow_name": COALESCE_WORKFLOW,
            "queue_name": COALESCE_QUEUE,
            "workflow_id": coalesce_id(connection_id, first_pending, again),
            "delay_seconds": delay,
        },
        connection_id,
        again,
    )


def unsettled(svc: Services, connection_id: int, now: datetime) -> tuple[int, float] | None:
    """(oldest pending notice, seconds to wait) while the connection's burst goes on: its
    newest notice is younger than the coalescing window and its oldest younger than the
    longest wait. None when it has settled (or nothing is pending)."""
    with svc.db.system(read_only=True) as session:
        row = session.execute(
            select(
                func.min(ProviderNotification.id),
                func.min(ProviderNotification.received_at),
                func.max(ProviderNotification.received_at),
            ).where(
                ProviderNotification.connection_id == connection_id,
                ProviderNotification.claimed_at.is_(None),
            )
        ).one()
    first, oldest, newest = cast(tuple[int | None, datetime | None, datetime | None], tuple(row))
    if first is None or oldest is None or newest is None:
        return None
    settings = svc.settings
    quiet = settings.provider_webhook_coalesce_seconds - (now - _utc(newest)).total_seconds()
    left = settings.provider_webhook_max_wait_seconds - (now - _utc(oldest)).total_seconds()
    wait = min(quiet, left)
    return (first, wait) if wait > 0 else None


def claim(svc: Services, connection_id: int) -> int | None:
    """Claim every pending notice of the connection for one sync of the object types they
    name (a queued run covering them is joined); the run's id, or None when there was
    nothing to claim or the connection is no longer active."""
    with svc.db.system() as session:
        pending = session.scalars(
            select(ProviderNotification)
            .where(
                ProviderNotification.connection_id == connection_id,
                ProviderNotification.claimed_at.is_(None),
            )
            .with_for_update()
        ).all()
        if not pending:
            return None
        connection = session.get(Connection, connection_id)
        run_id = None
        if connection is not None and connection.status == ConnectionStatus.active:
            run, _ = sync_service.request_sync(
                session,
                connection,
                wanted=sorted({n.object_type for n in pending}),
                full_resync=False,
                trigger="webhook",
                requested_by=REQUESTED_BY,
            )
            run_id = run.id
        session.execute(
            update(ProviderNotification)
            .where(ProviderNotification.id.in_([n.id for n in pending]))
            .values(claimed_at=utcnow(), sync_run_id=run_id)
        )
    log.info(
        "provider webhooks coalesced",
        connection_id=connection_id,
        notifications=len(pending),
        sync_run_id=run_id,
    )
    return run_id


def start_sync(svc: Services, run_id: int) -> None:
    with svc.db.system(read_only=True) as session:
        run = session.get(SyncRun, run_id)
        if run is not None:
            sync_service.enqueue(svc, run)


def sweep(svc: Services, now: datetime) -> int:
    """Re-hand to DBOS each connection whose notices a crash left pending past their window."""
    window = timedelta(seconds=svc.settings.provider_webhook_coalesce_seconds) + SWEEP_AFTER
    with svc.db.system(read_only=True) as session:
        stale = session.execute(
            select(ProviderNotification.connection_id, func.min(ProviderNotification.id))
            .where(
                ProviderNotification.claimed_at.is_(None),
                ProviderNotification.received_at < now - window,
            )
            .group_by(ProviderNotification.connection_id)
        ).all()
    for connection_id, first in stale:
        hand_over(svc, connection_id, first, 0)
    return len(stale)


def _utc(value: datetime) -> datetime:
    # An aggregate over a UTC column comes back naive from SQLite.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def prune(svc: Services, now: datetime) -> int:
    """Forget claimed notices past their retention (a resend after that syncs again)."""
    older_than = timedelta(days=svc.settings.provider_webhook_retention_days)
    return delete_in_batches(
        svc.db,
        ProviderNotification,
        ProviderNotification.received_at < now - older_than,
        ProviderNotification.claimed_at.is_not(None),
    )
