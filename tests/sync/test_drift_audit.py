"""The drift audit finds what incremental sync cannot see, repairs it, and says so.

The sandbox makes the drift a real provider makes: a record changed without its change
stamp moving (here: stamped with a time long before the cursor), a record that appears
with an old stamp (an import), and the mirror holds a record the provider no longer has
(a deletion no feed reported). Incremental sync misses all three; the audit's full pass
repairs them, counts them per object type, shows them on the sync status, announces them
with ``mirror.drift_repaired`` and in ``/metrics``; a second audit finds nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pyrate_limiter import Duration, Rate
from sqlalchemy import select

from ledgerbridge import runtime
from ledgerbridge.app import create_app
from ledgerbridge.connections.models import Connection
from ledgerbridge.providers.budget import scaled
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from ledgerbridge.sync.drift import AUDIT_TRIGGER, queue_due_audits
from ledgerbridge.sync.models import RawObject, Record, SyncRun, SyncState
from ledgerbridge.sync.service import (
    BACKGROUND_PRIORITY,
    SYNC_QUEUE,
    request_sync,
    scheduled_connections,
    workflow_id,
)
from tests.conftest import make_settings
from tests.connections.conftest import accounts, connect
from tests.sync.conftest import RunSync, execute
from tests.sync.mirroring import Account, connected

pytestmark = pytest.mark.sandbox(seed=5, size=20, settings={"rate_limits": False})


@pytest.fixture
def lb_settings(database_url: str, sandbox_url: str, tmp_path: Path) -> Settings:
    # Budgets stay on; generous, since on PostgreSQL the tests share the accounts' buckets.
    return make_settings(
        database_url,
        tmp_path,
        sandbox_url=sandbox_url,
        sync_page_size=7,
        xero_calls_per_minute=600,
        quickbooks_calls_per_minute=5000,
        lightspeed_calls_per_5_minutes=5000,
        drift_audit_budget_share=1.0,
    )


OLD_MS = 1_577_836_800_000  # 2020-01-01: long before anything the cursor has passed
# provider -> (the audited type, the types synced, a field to change, a new record, old stamp)
CASES: dict[str, tuple[str, list[str], str, dict[str, Any], int]] = {
    "xero": ("Contacts", ["Contacts", "Invoices"], "EmailAddress", {"Name": "Drift In"}, OLD_MS),
    "quickbooks": (
        "Customer",
        ["Customer", "Invoice"],
        "CompanyName",
        {"DisplayName": "Drift In"},
        OLD_MS,
    ),
    "lightspeed": (
        "customers",
        ["customers", "sales"],
        "note",
        {"first_name": "Drift", "last_name": "In"},
        1,  # a version
    ),
}


def audit(svc: Services, connection_id: int, object_types: list[str]) -> SyncRun:
    """Queue an audit run as the scheduler does and execute it."""
    with svc.db.system() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        run, _ = request_sync(
            session,
            connection,
            wanted=object_types,
            full_resync=True,
            trigger=AUDIT_TRIGGER,
            requested_by="drift audit",
        )
        run_id = run.id
    return execute(svc, run_id)


def inject_drift(svc: Services, account: Account, provider: str) -> dict[str, str]:
    """Three differences incremental sync cannot see; their ids by kind."""
    object_type, _, field, new, stamp = CASES[provider]
    live = [r for r in account.records(object_type) if not _gone(r)]
    changed = account.id_of(object_type, live[0])
    account.patch(object_type, changed, {field: "drifted", "_stamp": stamp})
    created = account.sandbox.post(
        f"/_sandbox/{provider}/{account.account_id}/{object_type}", json={**new, "_stamp": stamp}
    )
    assert created.status_code == 201, created.text
    ghost = f"ghost-{provider}"
    with svc.db.system() as session:  # the mirror keeps one the provider no longer has
        raw = session.scalars(
            select(RawObject).where(
                RawObject.connection_id == account.connection_id,
                RawObject.object_type == object_type,
                RawObject.external_id == account.id_of(object_type, live[1]),
            )
        ).one()
        copy = RawObject(
            tenant_id=raw.tenant_id,
            connection_id=raw.connection_id,
            object_type=object_type,
            external_id=ghost,
            payload=raw.payload,
            content_hash=raw.content_hash,
            deleted=False,
            last_seen_at=raw.last_seen_at,
        )
        session.add(copy)
        session.flush()
        record = session.scalars(select(Record).where(Record.raw_object_id == raw.id)).one()
        session.add(
            Record(
                tenant_id=record.tenant_id,
                connection_id=record.connection_id,
                model=record.model,
                object_type=object_type,
                remote_id=ghost,
                raw_object_id=copy.id,
                data=record.data,
            )
        )
    appeared = account.id_of(object_type, created.json())
    return {"changed": changed, "created": appeared, "ghost": ghost}


def _gone(record: dict[str, Any]) -> bool:
    return bool(
        record.get("Status") in ("DELETED", "VOIDED", "ARCHIVED")
        or record.get("deleted_at")
        or record.get("Active") is False
    )


def _audits(lb: TestClient, connection_id: int, headers: dict[str, str]) -> dict[str, Any]:
    answer = lb.get(f"/v1/connections/{connection_id}/sync-status", headers=headers)
    assert answer.status_code == 200, answer.text
    return {s["object_type"]: s["audit"] for s in answer.json()["object_types"]}


def _drift_events(lb: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = lb.get("/v1/events", params={"type": "mirror.drift_repaired"}, headers=headers)
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["data"]
    return events


@pytest.mark.parametrize("provider", list(CASES))
def test_the_audit_repairs_and_counts_what_incremental_sync_cannot_see(
    provider: str,
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    object_type, types, *_ = CASES[provider]
    headers = auth(tenant)
    account = connected(lb, sandbox, headers, provider)
    assert run_sync(account.connection_id, types).status == "succeeded"
    drift = inject_drift(svc, account, provider)

    missed = run_sync(account.connection_id, types)  # incremental sync cannot see it
    assert missed.status == "succeeded", missed.error
    mismatches = account.compare(svc, object_type).mismatches
    assert len(mismatches) == 3, mismatches
    assert all(any(i in m for m in mismatches) for i in drift.values()), (mismatches, drift)

    run = audit(svc, account.connection_id, types)
    assert (run.status, run.trigger, run.full_resync) == ("succeeded", "audit", True), run.error
    for each in types:
        assert account.compare(svc, each).mismatches == [], each
    found = _audits(lb, account.connection_id, headers)
    records = account.records(object_type)
    assert found[object_type]["checked"] == len(records) + 1  # and the ghost
    assert (found[object_type]["drifted"], found[object_type]["repaired"]) == (3, 3)
    assert found[object_type]["sync_run_id"] == str(run.id)
    for other in set(types) - {object_type}:
        assert (found[other]["drifted"], found[other]["repaired"]) == (0, 0), other
        assert found[other]["checked"] == len(account.records(other))
    shown = lb.get(f"/v1/sync-runs/{run.id}", headers=headers).json()
    assert (shown["trigger"], shown["reason"]) == ("audit", "drift audit")

    [event] = _drift_events(lb, headers)
    assert event["data"]["sync_run_id"] == str(run.id)
    assert (event["data"]["drifted"], event["data"]["repaired"]) == (3, 3)
    assert event["data"]["object_types"][object_type]["repaired"] == 3
    metrics = lb.get("/metrics").text
    repaired = [
        line
        for line in metrics.splitlines()
        if line.startswith("ledgerbridge_drift_audit_objects_repaired_total{")
        and f'provider="{provider}"' in line
        and f'object_type="{object_type}"' in line
    ]
    assert repaired and float(repaired[0].rsplit(" ", 1)[1]) >= 3, metrics

    again = audit(svc, account.connection_id, types)
    assert again.status == "succeeded", again.error
    found = _audits(lb, account.connection_id, headers)
    assert all((f["drifted"], f["repaired"]) == (0, 0) for f in found.values()), found
    assert found[object_type]["sync_run_id"] == str(again.id)
    assert len(_drift_events(lb, headers)) == 1  # nothing repaired, nothing announced


def test_an_audit_on_a_spent_budget_defers_and_syncs_go_on(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
    lb_settings: Settings,
) -> None:
    """Audits use a share of the account's budget; when the share is spent, the audit is
    deferred (its continuation queued), never failed, and syncs still have the rest."""
    provider = "xero"
    object_type, types, *_ = CASES[provider]
    account = connected(lb, sandbox, auth(tenant), provider)
    assert run_sync(account.connection_id, types).status == "succeeded"  # calls this minute
    drift = inject_drift(svc, account, provider)

    # Audits may use one of Xero's 600 calls a minute: the backfill already used more.
    narrow = Services.build(
        lb_settings.model_copy(
            update={"drift_audit_budget_share": 0.001, "budget_wait_seconds": 0.2}
        )
    )
    try:
        deferred = audit(narrow, account.connection_id, types)
    finally:
        narrow.db.dispose()
    assert deferred.status == "deferred", deferred.error
    assert "kept for syncs" in (deferred.error or "")
    with svc.db.system() as session:
        states = {
            s.object_type: s
            for s in session.scalars(
                select(SyncState).where(SyncState.connection_id == account.connection_id)
            )
        }
    assert states[types[0]].status == "deferred"
    assert all(s.last_audit_at is None for s in states.values())

    incremental = run_sync(account.connection_id, types)  # the rest of the budget is there
    assert incremental.status == "succeeded", incremental.error

    resumed = execute(svc, deferred.id)  # the continuation, once the share has refilled
    assert resumed.status == "succeeded", resumed.error
    assert account.compare(svc, object_type).mismatches == []
    with svc.db.system() as session:
        state = session.scalars(
            select(SyncState).where(
                SyncState.connection_id == account.connection_id,
                SyncState.object_type == object_type,
            )
        ).one()
        assert (state.audit_drifted, state.audit_repaired) == (3, 3), drift
        assert state.last_audit_run_id == deferred.id


def test_the_budget_share_is_the_same_windows_with_smaller_limits() -> None:
    rates = [Rate(60, Duration.MINUTE), Rate(5000, Duration.DAY)]
    assert [(r.limit, r.interval) for r in scaled(rates, 0.5)] == [
        (30, Duration.MINUTE),
        (2500, Duration.DAY),
    ]
    assert [r.limit for r in scaled(rates, 0.001)] == [1, 5]


def test_a_long_audit_gives_way_to_a_waiting_sync(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
    lb_settings: Settings,
) -> None:
    """Past its slice, an audit that sees a sync waiting for its connection gives its
    queue slot back (deferred, continued later from its cursor); the sync runs first."""
    provider = "lightspeed"
    object_type, types, *_ = CASES[provider]
    account = connected(lb, sandbox, auth(tenant), provider)
    assert run_sync(account.connection_id, types).status == "succeeded"
    inject_drift(svc, account, provider)
    with svc.db.system() as session:  # a scheduled sync waits in the queue
        connection = session.get(Connection, account.connection_id)
        assert connection is not None
        waiting, _ = request_sync(
            session,
            connection,
            wanted=None,
            full_resync=False,
            trigger="schedule",
            requested_by="schedule",
        )
        waiting_id = waiting.id

    hasty = Services.build(lb_settings.model_copy(update={"drift_audit_slice_seconds": 0}))
    try:
        gave_way = audit(hasty, account.connection_id, types)
    finally:
        hasty.db.dispose()
    assert gave_way.status == "deferred"
    assert "gives way to a sync" in (gave_way.error or "")

    assert execute(svc, waiting_id).status == "succeeded"
    done = execute(svc, gave_way.id)  # no sync waits now: the audit runs to its end
    assert done.status == "succeeded", done.error
    assert account.compare(svc, object_type).mismatches == []


def test_the_scheduler_queues_due_audits_once_behind_syncs(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    runtime.migrate(svc.settings)  # audits are enqueued for real (no worker takes them)
    account = connected(lb, sandbox, auth(tenant), "quickbooks")
    _, types, *_ = CASES["quickbooks"]
    assert run_sync(account.connection_id, types).status == "succeeded"
    now = datetime.now(UTC)
    queue_due_audits(svc, now)
    assert _audit_runs(svc, account.connection_id) == []  # a new connection waits its slot

    later = now + timedelta(days=7, minutes=1)  # every slot has come round since
    queue_due_audits(svc, later)
    [run] = _audit_runs(svc, account.connection_id)
    assert (run.trigger, run.full_resync, sorted(run.object_types)) == (
        "audit",
        True,
        sorted(types),
    )
    queue_due_audits(svc, later)  # its audit is in hand: not asked again
    assert len(_audit_runs(svc, account.connection_id)) == 1
    client = svc.dbos_client()
    try:
        [status] = client.list_workflows(workflow_ids=[workflow_id(run.id)])
    finally:
        client.destroy()
    assert status.priority == BACKGROUND_PRIORITY  # behind the connection's syncs
    assert status.queue_name == SYNC_QUEUE

    # The connection's latest sync, not its audit, paces its scheduled syncs.
    latest = _latest_sync_requested(svc, account.connection_id)
    assert latest is not None and latest < run.created_at


def _audit_runs(svc: Services, connection_id: int) -> list[SyncRun]:
    with svc.db.system() as session:
        runs = session.scalars(
            select(SyncRun).where(
                SyncRun.connection_id == connection_id, SyncRun.trigger == AUDIT_TRIGGER
            )
        ).all()
        session.expunge_all()
        return list(runs)


def _latest_sync_requested(svc: Services, connection_id: int) -> datetime | None:
    with svc.db.system() as session:
        for connection, latest in session.execute(scheduled_connections()):
            if connection.id == connection_id:
                return latest if latest.tzinfo else latest.replace(tzinfo=UTC)
    return None


# A store of its own: on PostgreSQL, call budgets are shared by every test of the session.
@pytest.mark.sandbox(seed=11, size=20, settings={"rate_limits": False, "accounts": 9})
def test_an_audit_interrupted_mid_pass_counts_every_repair_once(
    sandbox: httpx.Client,
    svc: Services,
    auth: Any,
    tenant: str,
    lb_settings: Settings,
) -> None:
    """The audit's counts ride with its pass's cursor: a pass deferred after some pages,
    with an incremental sync of the same type in between, still counts each repair once."""
    provider = "lightspeed"
    object_type, _, *_ = CASES[provider]
    free = Services.build(lb_settings.model_copy(update={"provider_call_budgets": False}))
    # Audits may make three calls in five minutes, and nothing else has used the budget.
    # The wait bounds taking a permit too, not only waiting for one: long enough that a
    # loaded machine takes the first three, far shorter than the window the fourth needs.
    tight = Services.build(
        lb_settings.model_copy(
            update={
                "lightspeed_calls_per_5_minutes": 1000,
                "drift_audit_budget_share": 0.003,
                "budget_wait_seconds": 3.0,
            }
        )
    )
    try:
        [store] = [a for a in accounts(sandbox, provider) if a["account_id"].endswith("-9")]
        with TestClient(create_app(svc=free), raise_server_exceptions=False) as client:
            [made] = connect(client, auth(tenant), provider, [store["account_id"]])
        account = Account(provider, store["account_id"], int(made["id"]), sandbox)
        assert _sync(free, account.connection_id, [object_type]).status == "succeeded"
        inject_drift(svc, account, provider)  # both sandbox changes sort first in a full pass

        interrupted = audit(tight, account.connection_id, [object_type])
        assert interrupted.status == "deferred", interrupted.error
        state = _state(svc, account.connection_id, object_type)
        assert state.resync_cursor is not None  # mid-pass, with repairs already committed
        fetched, created, updated, _ = state.resync_cursor["pass_counts"]
        assert fetched > 0 and created + updated >= 1, state.resync_cursor

        between = _sync(free, account.connection_id, [object_type])  # takes the type's state
        assert between.status == "succeeded", between.error

        resumed = execute(free, interrupted.id)
        assert resumed.status == "succeeded", resumed.error
    finally:
        free.db.dispose()
        tight.db.dispose()
    state = _state(svc, account.connection_id, object_type)
    assert (state.audit_drifted, state.audit_repaired) == (3, 3)
    assert state.last_audit_run_id == interrupted.id
    assert account.compare(svc, object_type).mismatches == []


def _sync(svc: Services, connection_id: int, object_types: list[str]) -> SyncRun:
    with svc.db.system() as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None
        run, _ = request_sync(
            session,
            connection,
            wanted=object_types,
            full_resync=False,
            trigger="api",
            requested_by="test",
        )
        run_id = run.id
    return execute(svc, run_id)


def _state(svc: Services, connection_id: int, object_type: str) -> SyncState:
    with svc.db.system() as session:
        state = session.scalars(
            select(SyncState).where(
                SyncState.connection_id == connection_id, SyncState.object_type == object_type
            )
        ).one()
        session.expunge(state)
        return state
