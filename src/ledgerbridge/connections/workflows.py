"""Revocations retried on DBOS, and an hourly sweep for grants left holding tokens.

A revocation that failed in the request that disconnected (or reconnected) is queued
here: one step, retried with backoff for about a minute. If the provider is still
unreachable after that, the grant keeps its (encrypted) refresh token and the hourly
sweep queues it again, until the provider has revoked it.
"""

from __future__ import annotations

import structlog
from dbos import DBOS
from dbos._error import DBOSMaxStepRetriesExceeded

from ledgerbridge import durable
from ledgerbridge.connections import revocation

SWEEP_SCHEDULE = "ledgerbridge-revocation-sweep"
ATTEMPTS = 6  # after 0, 1, 3, 7, 15 and 31 seconds
log = structlog.get_logger(__name__)


@DBOS.step(
    name="ledgerbridge.connections.revoke",
    retries_allowed=True,
    max_attempts=ATTEMPTS,
    interval_seconds=1.0,
    backoff_rate=2.0,
)
def _revoke(grant_id: int, xero_connection_id: str | None, connection_id: int | None) -> None:
    svc = durable.services()
    pending = revocation.Pending(grant_id, xero_connection_id, connection_id)
    try:
        revocation.revoke(svc.db, svc.vault, svc.settings, pending)
    except revocation.RevocationFailed as exc:
        log.warning("provider_revocation_failed", grant_id=grant_id, error=str(exc), retry=True)
        raise


@DBOS.workflow(name=revocation.REVOKE_WORKFLOW)
def revoke_grant(grant_id: int, xero_connection_id: str | None, connection_id: int | None) -> None:
    try:
        _revoke(grant_id, xero_connection_id, connection_id)
    except DBOSMaxStepRetriesExceeded:
        log.error("provider_revocation_failed", grant_id=grant_id, attempts=ATTEMPTS, retry="sweep")


sweep = durable.scheduled_job(
    "ledgerbridge.revocation_sweep", "ledgerbridge.connections.sweep", revocation.queue_unrevoked
)


DECLARED = durable.Declaration(
    queues=(durable.Queue(revocation.REVOKE_QUEUE, worker_concurrency=4),),
    schedules=(durable.Schedule(SWEEP_SCHEDULE, "0 23 * * * *", sweep),),
)
