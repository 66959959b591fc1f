"""Housekeeping: old events, finished sync runs and expired OAuth states are deleted in
batches, and the feed's and the scheduler's queries are served by indexes (PostgreSQL's
own plans, read on tables large enough for the planner to care)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Select, select, text
from sqlalchemy.dialects import postgresql

from ledgerbridge import housekeeping
from ledgerbridge.connections.models import Connection, OAuthState
from ledgerbridge.db import retention
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.events.feed import feed_query
from ledgerbridge.events.models import Event
from ledgerbridge.events.service import append
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from ledgerbridge.sync import service
from ledgerbridge.sync.models import SyncRun, SyncStatus
from tests.conftest import make_settings
from tests.processes import service as running


@pytest.fixture
def svc(settings: Settings) -> Iterator[Services]:
    services = Services.build(settings)
    yield services
    services.db.dispose()


def _connection(svc: Services, tenant: str) -> int:
    with svc.db.tenant(tenant) as session:
        row = Connection(
            provider="xero",
            external_account_id=secrets.token_hex(8),
            external_account_name="books",
            connected_by="test",
        )
        session.add(row)
        session.flush()
        return row.id


def test_retention_deletes_what_is_old_in_batches_and_keeps_the_rest(
    svc: Services, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)  # several batches, each committed alone
    now = utcnow()
    old = now - timedelta(days=200)
    connection_id = _connection(svc, tenant)
    with svc.db.tenant(tenant) as session:
        for n in range(5):
            append(session, tenant, "test.old", f"old:{n}").created_at = old
        append(session, tenant, "test.new", "new:0")
        runs = [
            SyncRun(
                connection_id=connection_id,
                object_types=["Items"],
                trigger="schedule",
                requested_by="schedule",
                status=status,
                created_at=old,
            )
            for status in ["succeeded"] * 4 + ["queued", "failed"]  # the last is the latest
        ]
        session.add_all(runs)
        states = {
            name: OAuthState(
                state_hash=secrets.token_hex(32),
                provider="xero",
                user="u",
                redirect_uri="http://127.0.0.1/cb",
                expires_at=expires,
            )
            for name, expires in (
                ("long expired", now - timedelta(days=30)),
                ("just expired", now - timedelta(days=1)),
                ("pending", now + timedelta(minutes=5)),
            )
        }
        session.add_all(states.values())
    assert housekeeping.prune_events_before(svc, now) >= 5
    assert housekeeping.prune_runs_before(svc, now) >= 4
    assert housekeeping.prune_states_before(svc, now) >= 1

    with svc.db.tenant(tenant) as session:
        assert session.scalars(select(Event.subject)).all() == ["new:0"]
        kept = session.scalars(select(SyncRun.status).order_by(SyncRun.id)).all()
        assert kept == [SyncStatus.queued, SyncStatus.failed]  # unfinished, and the latest
        left = set(session.scalars(select(OAuthState.state_hash)))
        assert left == {states["just expired"].state_hash, states["pending"].state_hash}


def test_the_newest_event_is_never_pruned(tmp_path: Path, tenant: str) -> None:
    """SQLite hands the highest id out again once its row is gone: a reader holding it as
    its cursor would skip the next event. A database of its own: everything here is old."""
    url = f"sqlite:///{tmp_path / 'lb.db'}"
    upgrade(url)
    svc = Services.build(make_settings(url, tmp_path))
    with svc.db.tenant(tenant) as session:
        first = append(session, tenant, "test.old", "first")
        last = append(session, tenant, "test.old", "last")
    later = utcnow() + timedelta(days=svc.settings.event_retention_days + 1)
    assert housekeeping.prune_events_before(svc, later) == 1
    with svc.db.tenant(tenant) as session:
        assert session.scalars(select(Event.id)).all() == [last.id]
        new = append(session, tenant, "test.new", "new")
        session.flush()
        assert new.id > last.id > first.id
    svc.db.dispose()


# --- plans -------------------------------------------------------------------------------


def _plan(svc: Services, query: Select[Any]) -> list[dict[str, Any]]:
    sql = query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    with svc.db.system(read_only=True) as session:
        [plan] = session.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()
    nodes: list[dict[str, Any]] = []
    stack = [plan["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes


def _reads(nodes: list[dict[str, Any]], table: str) -> list[str]:
    """How each plan node touching ``table`` reads it: "Seq Scan" or the index's name (a
    bitmap heap scan reads through the indexes of its bitmap index scans)."""
    reads: list[str] = []
    for node in nodes:
        if node.get("Relation Name") != table:
            continue
        if node["Node Type"] == "Bitmap Heap Scan":
            below = [node]
            while below:
                child = below.pop()
                if "Index Name" in child:
                    reads.append(child["Index Name"])
                below.extend(child.get("Plans", []))
        else:
            reads.append(node.get("Index Name") or node["Node Type"])
    return reads


def test_the_feed_and_the_scheduler_read_through_indexes(
    database_url: str, svc: Services, tenant: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the plans checked are PostgreSQL's")
    other = f"{tenant}-other-"  # 199 other tenants share the events table
    with svc.db.system() as session:
        params = {"t": tenant, "o": other}
        session.execute(
            text(
                "INSERT INTO connections (tenant_id, provider, external_account_id,"
                " external_account_name, status, connected_by, sync_interval_minutes,"
                " sync_paused, created_at, updated_at)"
                " SELECT :t, 'xero', 'acct-' || g, 'books', 'active', 'test', 5, false,"
                " now(), now() FROM generate_series(1, 50) g"
            ),
            params,
        )
        session.execute(
            text(
                "INSERT INTO sync_runs (tenant_id, connection_id, object_types, full_resync,"
                " trigger, requested_by, status, fetched, created, updated, deleted,"
                " created_at, updated_at)"
                " SELECT :t, c.id, '[]', false, 'schedule', 'schedule',"
                " CASE WHEN g % 997 = 0 THEN 'queued' ELSE 'succeeded' END, 0, 0, 0, 0,"
                " now() - g * interval '1 minute', now()"
                " FROM generate_series(1, 30000) g"
                " JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM connections"
                "       WHERE tenant_id = :t) c ON c.n = g % 50"
            ),
            params,
        )
        session.execute(
            text(
                "INSERT INTO events (tenant_id, type, subject, data, created_at)"
                " SELECT CASE WHEN g % 200 = 0 THEN :t ELSE :o || (g % 199) END,"
                " 'record.updated',"
                " 'record:' || g, '{}', now() FROM generate_series(1, 40000) g"
            ),
            params,
        )
    with svc.db.engine.connect() as connection:
        connection.execute(text("ANALYZE connections, sync_runs, events"))
        connection.commit()

    below = 2**40  # a horizon, as read_after reads it first
    feed = feed_query((0, 1000), 100, None, below).where(Event.tenant_id == tenant)
    assert _reads(_plan(svc, feed), "events") == ["ix_events_feed"]
    typed = feed_query((0, 1000), 100, ["sync.failed"], below)
    assert _reads(_plan(svc, typed.where(Event.tenant_id == tenant)), "events") == [
        "ix_events_feed"
    ]

    due = _reads(_plan(svc, service.scheduled_connections()), "sync_runs")
    assert due and set(due) == {"ix_sync_runs_connection_created"}, due
    stale = _reads(_plan(svc, service.stale_runs(utcnow())), "sync_runs")
    assert stale == ["ix_sync_runs_status_created"], stale


@pytest.mark.slow
def test_dbos_history_of_finished_workflows_is_pruned_and_waiting_work_kept(
    database: str, sandbox_url: str, tmp_path: Path
) -> None:
    """A real ``up`` finishes workflows (the webhook dispatcher every second); once it has
    stopped, finished ones inside the retention stay, older ones go, and a queued one that
    never ran is kept whatever its age."""
    with running(database, sandbox_url, tmp_path, LEDGERBRIDGE_WEBHOOK_DISPATCH_SECONDS="1"):
        svc = Services.build(make_settings(database, tmp_path / "data"))
        # The worker process beside the API starts in its own time: wait for its work.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if len(svc.dbos_client().list_workflows(status=housekeeping.FINISHED)) >= 3:
                break
            time.sleep(0.5)
    try:
        client = svc.dbos_client()
        finished = client.list_workflows(status=housekeeping.FINISHED, load_output=False)
        assert len(finished) >= 2
        waiting = service.workflow_id(10**9)
        client.enqueue(
            {
                "workflow_name": service.SYNC_WORKFLOW,
                "queue_name": service.SYNC_QUEUE,
                "workflow_id": waiting,
            },
            10**9,
        )
        assert housekeeping.prune_workflow_history(svc, utcnow()) == 0  # all within 14 days
        later = utcnow() + timedelta(days=15)
        assert housekeeping.prune_workflow_history(svc, later) == len(finished)
        assert client.list_workflows(status=housekeeping.FINISHED) == []
        assert [w.workflow_id for w in client.list_workflows(workflow_ids=[waiting])] == [waiting]
    finally:
        asyncio.run(svc.close())
