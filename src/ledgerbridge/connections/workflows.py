"""Revocations retried on DBOS, and an hourly sweep for grants left holding tokens.

A revocation that failed in the request that disconnected (or reconnected) is queued
here: one step, retried with backoff for about a minute. If the provider is still
unreachable after that, the grant keeps its (encrypted) refresh token and the hourly
sweep queues it again, until the provider has revoked it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from dbos import DBOS
from dbos._error import DBOSMaxStepRetriesExceeded

from ledgerbridge.connections import revocation
from ledgerbridge.services import Services

SWEEP_SCHEDULE = "ledgerbridge-revocation-sweep"
ATTEMPTS = 6  # after 0, 1, 3, 7, 15 and 31 seconds
log = structlog.get_logger(__name__)
_services: Services | None = None


def bind(svc: Services) -> None:
    global _services
    _services = svc


def register() -> None:
    DBOS.register_queue(revocation.REVOKE_QUEUE, worker_concurrency=4)
    DBOS.apply_schedules(
        [
            {
                "schedule_name": SWEEP_SCHEDULE,
                "workflow_fn": sweep,
                "schedule": "0 23 * * * *",
            }
        ]
    )


def _svc() -> Services:
    if _services is None:
        raise RuntimeError("connection workflows are not configured in this process")
    return _services


@DBOS.step(
    name="ledgerbridge.connections.revoke",
    retries_allowed=True,
    max_attempts=ATTEMPTS,
    interval_seconds=1.0,
    backoff_rate=2.0,
)
def _revoke(grant_id: int, xero_connection_id: str | None, connection_id: int | None) -> None:
    svc = _svc()
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


@DBOS.step(name="ledgerbridge.connections.sweep")
def _sweep(now: datetime) -> int:
    return revocation.queue_unrevoked(_svc(), now)


@DBOS.workflow(name="ledgerbridge.revocation_sweep")
def sweep(scheduled_at: datetime, _context: Any) -> None:
    _sweep(scheduled_at)
