"""From the event feed to deliveries: one per event and matching endpoint, exactly once.

Each tenant has a cursor: a position in its feed (``events/feed.py``, which never skips
or repeats). A pass reads the events after it, creates the deliveries (unique per event
and endpoint) and moves the cursor in the same transaction, so a crash either did all of
it or none. The deliveries are then handed to the durable runtime (``enqueue_waiting``);
one created but not yet handed over (a crash in between) is handed over by the next pass,
under the same workflow id, so never twice.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ledgerbridge.db.base import utcnow
from ledgerbridge.events.feed import feed_query, horizon
from ledgerbridge.events.models import Event
from ledgerbridge.observability.logging import redact
from ledgerbridge.services import Services
from ledgerbridge.sync.models import Record
from ledgerbridge.webhooks import catalog
from ledgerbridge.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
)

log = structlog.get_logger(__name__)
BATCH = 200
MAX_EVENTS_PER_PASS = 2_000  # per tenant, so one busy tenant cannot hold the others up
DELIVERY_WORKFLOW = "ledgerbridge.webhook_delivery"
DELIVERY_QUEUE = "ledgerbridge-webhooks"


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(16)


def timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def body(event_id: str, type: str, moment: datetime, data: dict[str, Any]) -> str:
    """The exact bytes (as text) every attempt sends: ``{id, type, timestamp, data}``."""
    return json.dumps(
        {"id": event_id, "type": type, "timestamp": timestamp(moment), "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def tenants(svc: Services) -> list[str]:
    with svc.db.system(read_only=True) as session:
        return list(
            session.scalars(
                select(WebhookEndpoint.tenant_id)
                .where(
                    WebhookEndpoint.status == EndpointStatus.enabled.value,
                    WebhookEndpoint.deleted_at.is_(None),
                )
                .distinct()
            )
        )


def dispatch_all(svc: Services) -> int:
    """A pass over every tenant with an endpoint; one tenant's trouble holds up no other."""
    created = 0
    for tenant in tenants(svc):
        try:
            created += dispatch_tenant(svc, tenant)
        except Exception as exc:
            log.error(
                "webhook dispatch failed for a tenant; next pass tries again",
                tenant_id=tenant,
                error_type=type(exc).__name__,
                error=redact(str(exc)),
            )
    return created


def dispatch_tenant(svc: Services, tenant_id: str) -> int:
    """Deliveries for the tenant's new events; how many were created."""
    created = read = 0
    while read < MAX_EVENTS_PER_PASS:
        with svc.db.tenant(tenant_id) as session:
            events, made = _pass(session)
        read += events
        created += made
        if events < BATCH:
            break
    return created


def _pass(session: Session) -> tuple[int, int]:
    postgresql = session.get_bind().dialect.name == "postgresql"
    below = horizon(session) if postgresql else None
    # Passes of one tenant take turns (a second waits, then reads the moved cursor).
    cursor = session.scalars(select(WebhookCursor).with_for_update()).one_or_none()
    if cursor is None:
        return 0, 0
    events = list(
        session.scalars(feed_query((cursor.after_xid, cursor.after_id), BATCH, None, below))
    )
    if not events:
        return 0, 0
    endpoints = list(
        session.scalars(
            select(WebhookEndpoint).where(
                WebhookEndpoint.status == EndpointStatus.enabled.value,
                WebhookEndpoint.deleted_at.is_(None),
            )
        )
    )
    records = _records(session, events)
    rows = []
    for event in events:
        type = catalog.wire_type(event.type)
        targets = [
            e
            for e in endpoints
            if (not e.event_types or type in e.event_types) and event.created_at >= e.created_at
        ]
        if not targets:
            continue
        data = dict(event.data)
        if type in catalog.RECORD_TYPES and event.data.get("record_id") in records:
            data["record"] = records[event.data["record_id"]]
        payload = body(str(event.id), type, event.created_at, data)
        rows += [
            {
                "tenant_id": event.tenant_id,
                "endpoint_id": endpoint.id,
                "event_id": event.id,
                "message_id": new_message_id(),
                "event_type": type,
                "payload": payload,
                "status": DeliveryStatus.pending.value,
                "replay": 0,
                "attempts": 0,
                "enqueued": False,
                "next_attempt_at": utcnow(),
                "created_at": utcnow(),
                "updated_at": utcnow(),
            }
            for endpoint in targets
        ]
    made = 0
    if rows:
        insert: Callable[..., Any] = pg_insert if postgresql else sqlite_insert
        statement = (
            insert(WebhookDelivery)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"])
            .returning(WebhookDelivery.id)
        )
        made = len(session.execute(statement).all())
    cursor.after_xid, cursor.after_id = events[-1].xid, events[-1].id
    return len(events), made


def _records(session: Session, events: list[Event]) -> dict[str, Any]:
    """The unified records the record events name, as they are now, by id."""
    ids = {
        int(e.data["record_id"])
        for e in events
        if catalog.wire_type(e.type) in catalog.RECORD_TYPES
        and str(e.data.get("record_id", "")).isdigit()
    }
    if not ids:
        return {}
    rows = session.execute(select(Record.id, Record.data).where(Record.id.in_(ids)))
    return {str(record_id): json.loads(data) for record_id, data in rows}


def workflow_id(delivery_id: int, replay: int, number: int) -> str:
    return f"webhook-{delivery_id}-{replay}-{number}"


def enqueue(svc: Services, delivery: WebhookDelivery) -> None:
    """Hand a delivery's next attempt to the durable runtime (the same id twice is one)."""
    svc.dbos_client().enqueue(
        {
            "workflow_name": DELIVERY_WORKFLOW,
            "queue_name": DELIVERY_QUEUE,
            "workflow_id": workflow_id(delivery.id, delivery.replay, delivery.attempts),
            "queue_partition_key": str(delivery.endpoint_id),
        },
        delivery.id,
        delivery.replay,
        delivery.attempts,
        delivery.endpoint_id,
    )


def enqueue_waiting(svc: Services, limit: int = 500) -> int:
    """Hand over the deliveries created (or replayed) but not yet handed over."""
    with svc.db.system(read_only=True) as session:
        waiting = list(
            session.scalars(
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.status == DeliveryStatus.pending.value,
                    WebhookDelivery.enqueued.is_(False),
                )
                .order_by(WebhookDelivery.id)
                .limit(limit)
            )
        )
    hand_over(svc, waiting)
    return len(waiting)


def hand_over(svc: Services, deliveries: list[WebhookDelivery]) -> None:
    """Enqueue each delivery's next attempt, then mark it handed over."""
    for delivery in deliveries:
        enqueue(svc, delivery)
    if not deliveries:
        return
    with svc.db.system() as session:
        for delivery in deliveries:
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery.id,
                    WebhookDelivery.replay == delivery.replay,
                )
                .values(enqueued=True)
            )
