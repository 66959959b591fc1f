"""Use cases: request a tenant's erasure (joining one under way), and carry it out.

Erasing disconnects every connection first (revoking at the provider, wiping tokens, so
no sync can write again), then deletes the tenant's rows table by table, children before
parents, in batches of their own short transactions, counting what went.

What stays: the connection rows themselves (disconnected, without tokens: the history of
what was connected), organisation and location mappings, reconciliation jobs (their
configuration), API keys, and the erasure reports.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import column, delete, select
from sqlalchemy import table as sql_table
from sqlalchemy.exc import IntegrityError

from ledgerbridge.connections import revocation
from ledgerbridge.connections import service as connections
from ledgerbridge.connections.models import Connection, OAuthGrant
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.engine import Database
from ledgerbridge.erasure.models import ErasureStatus, TenantErasure
from ledgerbridge.events.service import append
from ledgerbridge.services import Services

log = structlog.get_logger(__name__)
ERASURE_WORKFLOW = "ledgerbridge.tenant_erasure"
ERASURE_QUEUE = "ledgerbridge-erasure"
BATCH = 1000
REENQUEUE_AFTER = timedelta(minutes=1)

# Children before their parents (foreign keys), events last: disconnecting adds some.
TABLES = (
    "operations",
    "provider_calls",
    "reconciliation_matches",
    "reconciliation_items",
    "reconciliation_discrepancies",
    "reconciliation_decisions",
    "reconciliation_learned",
    "reconciliation_runs",
    "statement_lines",
    "statements",
    "provider_notifications",
    "records",
    "raw_objects",
    "sync_states",
    "sync_runs",
    "oauth_states",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
    "webhook_cursors",
    "events",
)
ACTIVE = (ErasureStatus.queued.value, ErasureStatus.running.value)


def workflow_id(erasure_id: int) -> str:
    return f"tenant-erasure-{erasure_id}"


def request(db: Database, tenant_id: str, requested_by: str) -> TenantErasure:
    """The erasure under way for the tenant, or a new one (one at a time per tenant)."""
    for _ in range(2):
        try:
            with db.tenant(tenant_id) as session:
                found = session.scalars(
                    select(TenantErasure).where(TenantErasure.status.in_(ACTIVE))
                ).first()
                if found is None:
                    found = TenantErasure(requested_by=requested_by, counts={})
                    session.add(found)
                    session.flush()
                session.expunge(found)
                return found
        except IntegrityError:  # another request created it first: join that one
            continue
    raise RuntimeError("could not create or find the tenant's erasure")


def enqueue(svc: Services, erasure_id: int) -> None:
    """Hand the erasure to DBOS; the workflow id makes a repeated call harmless. When DBOS
    cannot be reached, the erasure stays queued and ``requeue_stale`` hands it over later."""
    try:
        svc.dbos_client().enqueue(
            {
                "workflow_name": ERASURE_WORKFLOW,
                "queue_name": ERASURE_QUEUE,
                "workflow_id": workflow_id(erasure_id),
            },
            erasure_id,
        )
    except Exception as exc:
        log.error("erasure_not_queued", erasure_id=erasure_id, error=type(exc).__name__)


def requeue_stale(svc: Services, now: datetime) -> int:
    """Hand DBOS again every erasure still queued a minute after it was requested."""
    with svc.db.system(read_only=True) as session:
        ids = list(
            session.scalars(
                select(TenantErasure.id).where(
                    TenantErasure.status == ErasureStatus.queued.value,
                    TenantErasure.created_at < now - REENQUEUE_AFTER,
                )
            )
        )
    for erasure_id in ids:
        enqueue(svc, erasure_id)
    return len(ids)


def begin(db: Database, erasure_id: int) -> str:
    """Mark the erasure running; its tenant."""
    with db.system() as session:
        erasure = session.get(TenantErasure, erasure_id)
        assert erasure is not None
        if erasure.started_at is None:
            erasure.started_at = utcnow()
        erasure.status = ErasureStatus.running.value
        return erasure.tenant_id


def disconnect_all(svc: Services, tenant_id: str) -> int:
    """Disconnect every connection of the tenant and revoke every grant still holding a
    token (the provider is called outside any transaction); how many were connected."""
    with svc.db.tenant(tenant_id, read_only=True) as session:
        ids = list(session.scalars(select(Connection.id).where(Connection.grant_id.is_not(None))))
    for connection_id in ids:
        done = connections.disconnect(svc.db, tenant_id=tenant_id, connection_id=connection_id)
        if done is not None:
            revocation.revoke_or_retry(svc, done.pending)
    with svc.db.tenant(tenant_id, read_only=True) as session:
        left = session.scalars(
            select(OAuthGrant.id).where(
                OAuthGrant.refresh_token.is_not(None) | OAuthGrant.access_token.is_not(None),
                revocation.unused(OAuthGrant.id),
            )
        )
        leftovers = [revocation.Pending(grant_id) for grant_id in left]
    revocation.revoke_or_retry(svc, leftovers)
    return len(ids)


def erase_table(db: Database, tenant_id: str, name: str) -> int:
    """Delete the tenant's rows of one table, a batch per transaction; how many."""
    # Only the two columns every tenant-owned table has: erasure need not know the others.
    table = sql_table(name, column("id"), column("tenant_id"))
    erased = 0
    while True:
        with db.tenant(tenant_id) as session:
            batch = (
                select(table.c.id)
                .where(table.c.tenant_id == tenant_id)
                .limit(BATCH)
                .scalar_subquery()
            )
            result = session.execute(delete(table).where(table.c.id.in_(batch)))
            count: int = result.rowcount  # type: ignore[attr-defined]
        erased += count
        if count < BATCH:
            return erased


def record_count(db: Database, erasure_id: int, name: str, count: int) -> None:
    with db.system() as session:
        erasure = session.get(TenantErasure, erasure_id)
        assert erasure is not None
        erasure.counts = {**erasure.counts, name: count}


def finish(db: Database, erasure_id: int, error: str | None) -> None:
    with db.system() as session:
        erasure = session.get(TenantErasure, erasure_id)
        assert erasure is not None
        erasure.status = (ErasureStatus.failed if error else ErasureStatus.succeeded).value
        erasure.error = error
        erasure.finished_at = utcnow()
        append(
            session,
            erasure.tenant_id,
            "tenant_data.erased" if error is None else "tenant_data.erasure_failed",
            f"tenant_erasure:{erasure.id}",
            erasure_id=str(erasure.id),
            counts=erasure.counts,
        )
