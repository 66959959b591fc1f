"""Housekeeping on DBOS: daily, what is kept only for a while is deleted, in batches.

- ``provider_calls`` (the audit log): 30 days (``LEDGERBRIDGE_AUDIT_RETENTION_DAYS``);
- ``events``: 90 days (``LEDGERBRIDGE_EVENT_RETENTION_DAYS``);
- ``sync_runs``, once finished, each connection's latest kept: 90 days
  (``LEDGERBRIDGE_SYNC_RUN_RETENTION_DAYS``);
- ``oauth_states`` past their expiry: 7 days (``LEDGERBRIDGE_OAUTH_STATE_RETENTION_DAYS``);
- ``provider_notifications`` once claimed: 7 days
  (``LEDGERBRIDGE_PROVIDER_WEBHOOK_RETENTION_DAYS``).
- finished webhook deliveries and their attempts: as long as events;
- DBOS's history of finished workflows (their steps, inputs and outputs): 14 days
  (``LEDGERBRIDGE_WORKFLOW_HISTORY_RETENTION_DAYS``). Pending, queued and delayed work is
  never touched, and nothing of ours needs a finished workflow's record: each capability's
  own tables say what is done.

Each table is a step of its own, so a crash resumes with the next table, and each batch
commits on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dbos import DBOS

from ledgerbridge import durable
from ledgerbridge.audit.service import prune as prune_audit
from ledgerbridge.connections.service import prune_oauth_states
from ledgerbridge.events.service import prune as prune_events
from ledgerbridge.inbound.service import prune as prune_notifications
from ledgerbridge.services import Services
from ledgerbridge.sync.service import prune_runs
from ledgerbridge.webhooks.delivery import prune as prune_deliveries

SCHEDULE = "ledgerbridge-housekeeping"
# The audit log had a daily job of its own until it joined this one.
RETIRED_SCHEDULES = ("ledgerbridge-audit-prune",)


def prune_audit_before(svc: Services, now: datetime) -> int:
    return prune_audit(svc.db, timedelta(days=svc.settings.audit_retention_days), now)


def prune_events_before(svc: Services, now: datetime) -> int:
    return prune_events(svc.db, timedelta(days=svc.settings.event_retention_days), now)


def prune_runs_before(svc: Services, now: datetime) -> int:
    return prune_runs(svc.db, timedelta(days=svc.settings.sync_run_retention_days), now)


def prune_states_before(svc: Services, now: datetime) -> int:
    return prune_oauth_states(svc.db, timedelta(days=svc.settings.oauth_state_retention_days), now)


FINISHED = ["SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"]
HISTORY_BATCH = 1000


def prune_workflow_history(svc: Services, now: datetime) -> int:
    """Delete DBOS's records of workflows finished before the retention, in batches."""
    days = svc.settings.workflow_history_retention_days
    before = (now - timedelta(days=days)).isoformat()
    client = svc.dbos_client()
    removed = 0
    while finished := client.list_workflows(
        status=FINISHED,
        completed_before=before,
        limit=HISTORY_BATCH,
        load_input=False,
        load_output=False,
    ):
        client.delete_workflows([workflow.workflow_id for workflow in finished])
        removed += len(finished)
    return removed


def prune_deliveries_before(svc: Services, now: datetime) -> int:
    return prune_deliveries(svc.db, timedelta(days=svc.settings.event_retention_days), now)


# Step names are recorded in DBOS's history: a workflow resumed after a crash finds its
# steps by them, so they stay as they are.
PRUNERS: dict[str, Callable[[Services, datetime], int]] = {
    "audit": prune_audit_before,
    "events": prune_events_before,
    "sync_runs": prune_runs_before,
    "oauth_states": prune_states_before,
    "provider_notifications": prune_notifications,
    "webhook_deliveries": prune_deliveries_before,
    "workflow_history": prune_workflow_history,
}


def _step(table: str, prune: Callable[[Services, datetime], int]) -> Callable[[datetime], int]:
    @DBOS.step(name=f"ledgerbridge.housekeeping.{table}")
    def step(now: datetime) -> int:
        return prune(durable.services(), now)

    return step


STEPS = [_step(table, prune) for table, prune in PRUNERS.items()]


@DBOS.workflow(name="ledgerbridge.housekeeping")
def housekeeping(scheduled_at: datetime, _context: Any) -> None:
    for step in STEPS:
        step(scheduled_at)


DECLARED = durable.Declaration(
    schedules=(durable.Schedule(SCHEDULE, "0 47 3 * * *", housekeeping),),
    retired=RETIRED_SCHEDULES,
)
