"""Housekeeping on DBOS: daily, what is kept only for a while is deleted, in batches.

- ``events``: 90 days (``LEDGERBRIDGE_EVENT_RETENTION_DAYS``);
- ``sync_runs``, once finished, each connection's latest kept: 90 days
  (``LEDGERBRIDGE_SYNC_RUN_RETENTION_DAYS``);
- ``oauth_states`` past their expiry: 7 days (``LEDGERBRIDGE_OAUTH_STATE_RETENTION_DAYS``);
- ``provider_notifications`` once claimed: 7 days
  (``LEDGERBRIDGE_PROVIDER_WEBHOOK_RETENTION_DAYS``).
- finished webhook deliveries and their attempts: as long as events.

The audit log has its own daily prune (``audit/workflows.py``). Each table is a step of its
own, so a crash resumes with the next table, and each batch commits on its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dbos import DBOS

from ledgerbridge.connections.service import prune_oauth_states
from ledgerbridge.events.service import prune as prune_events
from ledgerbridge.inbound.service import prune as prune_notifications
from ledgerbridge.services import Services
from ledgerbridge.sync.service import prune_runs
from ledgerbridge.webhooks.delivery import prune as prune_deliveries

SCHEDULE = "ledgerbridge-housekeeping"
_services: Services | None = None


def bind(svc: Services) -> None:
    global _services
    _services = svc


def register() -> None:
    DBOS.apply_schedules(
        [{"schedule_name": SCHEDULE, "workflow_fn": housekeeping, "schedule": "0 47 3 * * *"}]
    )


def _svc() -> Services:
    if _services is None:
        raise RuntimeError("housekeeping is not configured in this process")
    return _services


def prune_events_before(svc: Services, now: datetime) -> int:
    return prune_events(svc.db, timedelta(days=svc.settings.event_retention_days), now)


def prune_runs_before(svc: Services, now: datetime) -> int:
    return prune_runs(svc.db, timedelta(days=svc.settings.sync_run_retention_days), now)


def prune_states_before(svc: Services, now: datetime) -> int:
    return prune_oauth_states(svc.db, timedelta(days=svc.settings.oauth_state_retention_days), now)


def prune_deliveries_before(svc: Services, now: datetime) -> int:
    return prune_deliveries(svc.db, timedelta(days=svc.settings.event_retention_days), now)


@DBOS.step(name="ledgerbridge.housekeeping.events")
def _events(now: datetime) -> int:
    return prune_events_before(_svc(), now)


@DBOS.step(name="ledgerbridge.housekeeping.sync_runs")
def _sync_runs(now: datetime) -> int:
    return prune_runs_before(_svc(), now)


@DBOS.step(name="ledgerbridge.housekeeping.oauth_states")
def _oauth_states(now: datetime) -> int:
    return prune_states_before(_svc(), now)


@DBOS.step(name="ledgerbridge.housekeeping.provider_notifications")
def _provider_notifications(now: datetime) -> int:
    return prune_notifications(_svc(), now)


@DBOS.step(name="ledgerbridge.housekeeping.webhook_deliveries")
def _webhook_deliveries(now: datetime) -> int:
    return prune_deliveries_before(_svc(), now)


@DBOS.workflow(name="ledgerbridge.housekeeping")
def housekeeping(scheduled_at: datetime, _context: Any) -> None:
    _events(scheduled_at)
    _sync_runs(scheduled_at)
    _oauth_states(scheduled_at)
    _provider_notifications(scheduled_at)
    _webhook_deliveries(scheduled_at)
