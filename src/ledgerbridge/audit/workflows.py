"""Pruning the audit log past its retention period, daily, on DBOS."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dbos import DBOS

from ledgerbridge.audit.service import prune
from ledgerbridge.services import Services

PRUNE_SCHEDULE = "ledgerbridge-audit-prune"
_services: Services | None = None


def bind(svc: Services) -> None:
    global _services
    _services = svc


def register() -> None:
    DBOS.apply_schedules(
        [
            {
                "schedule_name": PRUNE_SCHEDULE,
                "workflow_fn": prune_audit_log,
                "schedule": "0 17 3 * * *",
            }
        ]
    )


@DBOS.step(name="ledgerbridge.audit.prune")
def _prune(now: datetime) -> int:
    assert _services is not None
    retention = timedelta(days=_services.settings.audit_retention_days)
    return prune(_services.db, retention, now)


@DBOS.workflow(name="ledgerbridge.audit_prune")
def prune_audit_log(scheduled_at: datetime, _context: Any) -> None:
    _prune(scheduled_at)
