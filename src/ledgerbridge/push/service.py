"""Use cases: accept a write (stored as a pending operation), run it, record its outcome.

Accepting never calls the provider: the operation and the local record are committed as
``pending`` and the request is answered 202. A DBOS workflow then runs the operation
(``push/workflows.py``); running it again after a crash is safe because every provider
call carries an idempotency key derived from the operation.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ledgerbridge.audit.service import Purpose, calls_for
from ledgerbridge.connections.http import connection_client
from ledgerbridge.connections.models import Connection, ConnectionStatus
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.locks import lock
from ledgerbridge.errors import ApiError, conflict
from ledgerbridge.events.service import append
from ledgerbridge.mirror import store
from ledgerbridge.mirror.encoding import dumps, loads
from ledgerbridge.providers import Provider, budget, identifiers
from ledgerbridge.providers.budget import BudgetExhausted
from ledgerbridge.providers.pulling import ProviderError
from ledgerbridge.providers.pushing import Action, PushRequest, Write
from ledgerbridge.push.catalog import PUSHERS, WRITES
from ledgerbridge.push.models import Operation, OperationStatus
from ledgerbridge.services import Services
from ledgerbridge.sync.catalog import MODULES
from ledgerbridge.sync.models import Record
from ledgerbridge.unified import Model, record_columns

PUSH_WORKFLOW = "ledgerbridge.push_operation"
PUSH_QUEUE = "ledgerbridge-push"
IDEMPOTENCY_WINDOW = timedelta(hours=24)
REENQUEUE_AFTER = timedelta(minutes=1)
DEFERRED = "budget_deferred"  # the error_code of an operation waiting for the call budget
# An operation behind a deferred one continues this long after it, so it never overtakes.
BEHIND = timedelta(seconds=1)
# A continuation may start this much before its time (DBOS delays are not to the ms).
EARLY = timedelta(milliseconds=500)
BATCH = 20  # a connection's operations claimed, pushed and recorded together
# A provider that stays unavailable: an operation tries this often, waiting 5 s, 15 s, 45 s.
ATTEMPTS = 4
FIRST_WAIT_SECONDS = 5.0
BACKOFF = 3.0


class Transient(Exception):
    """The provider is unavailable right now: the workflow step tries again later."""


# --- accepting ---------------------------------------------------------------------------


def _hash(model: Model, action: Action, record_id: int | None, body: BaseModel | None) -> str:
    canonical = json.dumps(
        [model.value, action.value, record_id, body.model_dump(mode="json") if body else None],
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def submit(
    session: Session,
    *,
    connection: Connection,
    model: Model,
    action: Action,
    body: BaseModel | None,
    record_id: int | None,
    idempotency_key: str | None,
    requested_by: str,
) -> tuple[Operation, bool]:
    """The pending operation for this request, and whether it was accepted just now."""
    request_hash = _hash(model, action, record_id, body)
    if idempotency_key is not None:
        # Concurrent requests with one key take turns: the second finds the first's
        # operation instead of failing on the unique key.
        lock(session, f"idempotency:{connection.tenant_id}:{idempotency_key}")
        earlier = session.scalars(
            select(Operation).where(Operation.idempotency_key == idempotency_key)
        ).one_or_none()
        if earlier is not None and earlier.created_at > utcnow() - IDEMPOTENCY_WINDOW:
            if earlier.request_hash != request_hash:
                raise conflict(
                    "this Idempotency-Key was used with a different request",
                    {"operation_id": str(earlier.id)},
                )
            return earlier, False
        if earlier is not None:
            earlier.idempotency_key = None  # expired: the key may be used again
            session.flush()
    if connection.status != ConnectionStatus.active:
        raise conflict(f"connection {connection.id} is {connection.status}: reconnect it first")
    _check_capabilities(Provider(connection.provider), model, action, body)
    if action is Action.create:
        record = _new_record(session, connection, model, body)
    else:
        record = _existing_record(session, connection, model, record_id)
    operation = Operation(
        uid=uuid.uuid4().hex,
        connection_id=connection.id,
        record_id=record.id,
        model=model.value,
        action=action.value,
        body=body.model_dump(mode="json") if body else None,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        requested_by=requested_by,
    )
    session.add(operation)
    session.flush()
    return operation, True


def _check_capabilities(
    provider: Provider, model: Model, action: Action, body: BaseModel | None
) -> None:
    pusher = PUSHERS[provider]
    allowed = pusher.CAPABILITIES.get(model, frozenset())
    if action not in allowed:
        takes = sorted(
            f"{a.value} {m.value}" for m, actions in pusher.CAPABILITIES.items() for a in actions
        )
        raise ApiError(
            422,
            "unsupported_by_provider",
            f"{provider.value} cannot {action.value} a {model.value}",
            {"supported": takes},
        )
    problems = pusher.problems(model, action, body)  # type: ignore[arg-type]
    if problems:
        raise ApiError(
            422, "unsupported_by_provider", f"{provider.value}: {'; '.join(problems)}", problems
        )


def _new_record(
    session: Session, connection: Connection, model: Model, body: BaseModel | None
) -> Record:
    assert body is not None
    record = Record(
        tenant_id=connection.tenant_id,
        connection_id=connection.id,
        model=model.value,
        object_type=f"pending:{model.value}",
        remote_id=None,
        data=body.model_dump_json(),
        push_status="pending",
        **record_columns(model, dict(body)),
    )
    session.add(record)
    session.flush()
    return record


def _existing_record(
    session: Session, connection: Connection, model: Model, record_id: int | None
) -> Record:
    existing = session.get(Record, record_id) if record_id else None
    if existing is None or existing.connection_id != connection.id or existing.model != model.value:
        raise ApiError(404, "not_found", f"{model.value} not found on this connection")
    if existing.deleted_at is not None or existing.remote_was_deleted:
        raise conflict(f"{model.value} {existing.id} is deleted")
    existing.push_status = "pending"
    return existing


def workflow_id(operation: Operation) -> str:
    return f"push-op-{operation.id}-{operation.retries}"


def enqueue(svc: Services, operation: Operation) -> None:
    svc.dbos_client().enqueue(
        {
            "workflow_name": PUSH_WORKFLOW,
            "queue_name": PUSH_QUEUE,
            "workflow_id": workflow_id(operation),
            "queue_partition_key": str(operation.connection_id),
        },
        operation.id,
    )


def requeue_stale(svc: Services, now: datetime) -> int:
    """Operations accepted but never handed to DBOS (a crash in between) are handed again;
    the workflow id makes this harmless for those that were."""
    with svc.db.system(read_only=True) as session:
        stale = session.scalars(
            select(Operation).where(
                Operation.status == OperationStatus.pending,
                Operation.created_at < now - REENQUEUE_AFTER,
            )
        ).all()
    for operation in stale:
        enqueue(svc, operation)
    return len(stale)


# --- running -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    operation_id: int
    uid: str
    retries: int
    tenant_id: str
    connection_id: int
    provider: Provider
    account: str
    model: Model
    action: Action
    body: dict[str, Any] | None
    record_id: int | None
    remote_id: str | None
    object_type: str | None  # where the record lives at the provider, once it exists


@dataclass(frozen=True)
class Deferral:
    """The operation must wait until ``until``: its account's call budget is spent, or an
    earlier operation of its connection waits for it (and must go first)."""

    until: datetime
    reason: str


def claim(svc: Services, operation_id: int) -> list[Job] | Deferral | None:
    """Mark running the oldest open operations of this operation's connection (up to
    ``BATCH``, stopping before a second write to one record, which must wait for the
    first to land), oldest first; None when the connection has none left; a Deferral when
    the oldest waits for the call budget. Any push workflow of a connection runs its
    operations: one that finds them done ends at once, without taking a write lock."""
    opened = (OperationStatus.pending, OperationStatus.running)
    connection_id = select(Operation.connection_id).where(Operation.id == operation_id)
    with svc.db.system(read_only=True) as session:
        any_open = session.scalar(
            select(Operation.id)
            .where(Operation.connection_id == connection_id.scalar_subquery())
            .where(Operation.status.in_(opened))
            .limit(1)
        )
    if any_open is None:
        return None
    with svc.db.system() as session:
        operation = session.get(Operation, operation_id)
        if operation is None:
            return None
        open_ = session.scalars(
            select(Operation)
            .where(
                Operation.connection_id == operation.connection_id,
                Operation.status.in_(opened),
            )
            .order_by(Operation.id)
            .limit(BATCH)
            .with_for_update()  # a cancel waits until they are marked running
        ).all()
        if not open_:
            return None
        head = open_[0]
        if head.deferred_until is not None and head.deferred_until > utcnow() + EARLY:
            if head.id == operation.id:
                return Deferral(head.deferred_until, head.error or "")
            return _behind(head.id, head.deferred_until)
        batch: list[Operation] = []
        for candidate in open_:
            if candidate.record_id is not None and any(
                candidate.record_id == earlier.record_id for earlier in batch
            ):
                break
            batch.append(candidate)
        connection = session.get(Connection, operation.connection_id)
        assert connection is not None
        ids = [o.record_id for o in batch if o.record_id is not None]
        records = {r.id: r for r in session.scalars(select(Record).where(Record.id.in_(ids)))}
        return [_start(o, connection, records.get(o.record_id or 0)) for o in batch]


def _behind(leader_id: int, leader_until: datetime) -> Deferral:
    return Deferral(
        leader_until + BEHIND,
        f"waits behind operation {leader_id}, which waits for the call budget",
    )


def _start(operation: Operation, connection: Connection, record: Record | None) -> Job:
    operation.status = OperationStatus.running
    operation.started_at = operation.started_at or utcnow()
    if operation.deferred_until is not None:
        operation.deferred_until = operation.error = operation.error_code = None
    return Job(
        operation_id=operation.id,
        uid=operation.uid,
        retries=operation.retries,
        tenant_id=operation.tenant_id,
        connection_id=connection.id,
        provider=Provider(connection.provider),
        account=connection.external_account_id,
        model=Model(operation.model),
        action=Action(operation.action),
        body=operation.body,
        record_id=operation.record_id,
        remote_id=record.remote_id if record else None,
        object_type=record.object_type if record and record.remote_id else None,
    )


def defer(svc: Services, operation_id: int, current_workflow: str, deferral: Deferral) -> str:
    """Hand the operation back to DBOS to continue at ``deferral.until`` (a workflow id of
    its own per deferral: ``push-op-7-0``, then ``push-op-7-0-resume-1``, …) and mark it
    pending until then: it has not failed. Repeating this (a replayed step) is harmless."""
    base, _, number = current_workflow.partition("-resume-")
    following = f"{base}-resume-{int(number or 0) + 1}"
    with svc.db.system() as session:
        operation = session.get(Operation, operation_id)
        assert operation is not None
        if operation.status not in (OperationStatus.pending, OperationStatus.running):
            return following  # cancelled meanwhile
        svc.dbos_client().enqueue(
            {
                "workflow_name": PUSH_WORKFLOW,
                "queue_name": PUSH_QUEUE,
                "workflow_id": following,
                "queue_partition_key": str(operation.connection_id),
                "delay_seconds": max(0.0, (deferral.until - utcnow()).total_seconds()),
            },
            operation_id,
        )
        _mark_deferred(session, operation, deferral)
    return following


def _mark_deferred(session: Session, operation: Operation, deferral: Deferral) -> None:
    if operation.deferred_until is None or operation.status != OperationStatus.pending:
        append(
            session,
            operation.tenant_id,
            "operation.deferred",
            f"operation:{operation.id}",
            operation_id=str(operation.id),
            connection_id=str(operation.connection_id),
            until=deferral.until.isoformat(),
            reason=deferral.reason,
        )
    operation.status = OperationStatus.pending
    operation.deferred_until = deferral.until
    operation.error, operation.error_code = deferral.reason, DEFERRED


def execute_batch(svc: Services, jobs: list[Job]) -> list[dict[str, Any]]:
    """Push a batch of one connection's operations over one client, up to the provider's
    calls in flight at once, each taking its call budget in the batch's order (see
    ``budget.Turns``). The JSON-able outcome of each: ``ok``, the provider's error, or
    ``deferred`` (seconds until the account's call budget allows the call, when that is
    longer than ``budget_wait_seconds``). A provider that stays unavailable for one
    operation is tried again for it alone, after 5 s, 15 s and 45 s."""

    async def run() -> list[dict[str, Any]]:
        turns = budget.Turns()
        in_flight = asyncio.Semaphore(budget.IN_FLIGHT[jobs[0].provider])
        async with _client(svc, jobs[0]) as http:
            tasks = []
            for job in jobs:
                await in_flight.acquire()  # here, so the tasks start (and spend) in order
                tasks.append(asyncio.create_task(_persist(svc, http, job, turns.next(), in_flight)))
            return list(await asyncio.gather(*tasks))

    try:
        return asyncio.run(run())
    except (identifiers.InvalidIdentifier, identifiers.DisallowedHost) as exc:
        return [_unaddressable(exc)] * len(jobs)


async def _persist(
    svc: Services,
    http: httpx.AsyncClient,
    job: Job,
    turn: budget.Turn,
    in_flight: asyncio.Semaphore,
) -> dict[str, Any]:
    try:
        with turn.held():
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    return await _push(svc, http, job)
                except Transient as exc:
                    if attempt == ATTEMPTS:
                        return transient_failure(str(exc)[:500])
                    await asyncio.sleep(FIRST_WAIT_SECONDS * BACKOFF ** (attempt - 1))
            raise AssertionError("unreachable: the last attempt returns")
    finally:
        in_flight.release()


def _client(svc: Services, job: Job) -> httpx.AsyncClient:
    return connection_client(svc, job.connection_id, job.provider, job.account)


async def _push(svc: Services, http: httpx.AsyncClient, job: Job) -> dict[str, Any]:
    if job.action is not Action.create and job.remote_id is None:
        return _failure("the record was never created at the provider", [], None)
    body: Write | None = (
        WRITES[job.model].model_validate(job.body) if job.body is not None else None  # type: ignore[assignment]
    )
    purpose = Purpose(
        job.tenant_id,
        job.connection_id,
        entity_type=job.model.value,
        entity_id=str(job.record_id) if job.record_id else None,
        operation_id=job.operation_id,
    )
    try:
        with calls_for(purpose), budget.yielding(svc.settings.budget_wait_seconds):
            pushed = await PUSHERS[job.provider].execute(
                http,
                PushRequest(
                    job.model,
                    job.action,
                    body,
                    job.remote_id,
                    # Retries of one operation reuse the key; a retry the host asks for gets
                    # a new one.
                    idempotency_key=f"lb-{job.uid}-{job.retries}",
                    object_type=job.object_type,
                ),
            )
    except BudgetExhausted as exc:  # not a failure: the workflow continues it later
        return {"ok": False, "deferred": exc.retry_after, "error": str(exc)}
    except ProviderError as exc:
        if exc.status >= 500 or exc.status == 429:
            raise Transient(exc.message) from exc
        return _failure(exc.message, exc.details, exc.code)
    except (identifiers.InvalidIdentifier, identifiers.DisallowedHost) as exc:
        return _unaddressable(exc)
    return {
        "ok": True,
        "object_type": pushed.object_type,
        "remote_id": pushed.remote_id,
        "number": pushed.number,
        "payload": dumps(pushed.payload),
        "updated_at": pushed.updated_at.isoformat() if pushed.updated_at else None,
        "version": pushed.version,
    }


def _unaddressable(exc: Exception) -> dict[str, Any]:
    # A stored account id no URL may be built from: nothing was sent; reconnect it.
    return _failure(str(exc), [], "invalid_account_id")


def _failure(message: str, details: list[str], code: str | None) -> dict[str, Any]:
    return {"ok": False, "error": message, "details": details, "code": code}


def transient_failure(message: str) -> dict[str, Any]:
    return _failure(f"the provider stayed unavailable: {message}", [], None)


def _claim(session: Session, record: Record, outcome: dict[str, Any]) -> Record:
    """Give the local record its provider id. If a pull got there first (it mirrored the
    new record before this commit), the pulled row gives way: the host app already holds
    the local record's id."""
    pulled = session.scalars(
        select(Record).where(
            Record.connection_id == record.connection_id,
            Record.object_type == outcome["object_type"],
            Record.remote_id == outcome["remote_id"],
            Record.id != record.id,
        )
    ).one_or_none()
    if pulled is not None:
        session.execute(
            update(Operation).where(Operation.record_id == pulled.id).values(record_id=record.id)
        )
        session.delete(pulled)
        session.flush()
    record.remote_id = outcome["remote_id"]
    record.object_type = outcome["object_type"]
    return record


def finish_batch(
    svc: Services, jobs: list[Job], outcomes: list[dict[str, Any]]
) -> tuple[int, Deferral] | None:
    """Record a batch's outcomes, the provider's records and an event each, in one
    transaction. The first operation the call budget deferred is marked so, and every
    later one of the batch that did not land waits behind it; that first one and its
    deferral are returned, for the workflow to continue it."""
    mirrored = _as_mirrored(jobs, outcomes)  # before the write lock: CPU, not the database
    with svc.db.system() as session:
        ids = [job.operation_id for job in jobs]
        operations = {
            o.id: o for o in session.scalars(select(Operation).where(Operation.id.in_(ids)))
        }
        deferred: tuple[int, Deferral] | None = None
        landed: list[tuple[Operation, Job, dict[str, Any]]] = []
        for job, outcome in zip(jobs, outcomes, strict=True):
            operation = operations[job.operation_id]
            if operation.status not in (OperationStatus.running, OperationStatus.pending):
                continue  # already recorded (a replayed step)
            if deferred is None and outcome.get("deferred") is not None:
                until = utcnow() + timedelta(seconds=outcome["deferred"])
                deferred = (job.operation_id, Deferral(until, outcome["error"]))
                _mark_deferred(session, operation, deferred[1])
            elif deferred is not None and not outcome["ok"]:
                _mark_deferred(session, operation, _behind(deferred[0], deferred[1].until))
            else:
                landed.append((operation, job, outcome))
        _record(session, landed, mirrored)
        return deferred


def _as_mirrored(jobs: list[Job], outcomes: list[dict[str, Any]]) -> dict[int, store.Encoded]:
    """What each provider answer that landed holds, exactly as pull would see it (tombstone
    flag included), encoded and mapped, by operation id."""
    mirrored: dict[int, store.Encoded] = {}
    for job, outcome in zip(jobs, outcomes, strict=True):
        if outcome["ok"]:
            puller, mapper = MODULES[job.provider]
            object_type = outcome["object_type"]
            obj = puller.remote_object(object_type, loads(outcome["payload"]))
            unified = mapper.to_unified(object_type, obj)
            mirrored[job.operation_id] = store.encode_one(obj, unified)
    return mirrored


def _record(
    session: Session,
    landed: list[tuple[Operation, Job, dict[str, Any]]],
    mirrored: dict[int, store.Encoded],
) -> None:
    ids = [job.record_id for _, job, _ in landed if job.record_id]
    records = {r.id: r for r in session.scalars(select(Record).where(Record.id.in_(ids)))}
    # What the provider now holds, so the next pull finds nothing new: one write per type.
    pages: dict[tuple[Provider, str], store.Page] = {}
    now = utcnow()
    for operation, job, outcome in landed:
        record = records.get(job.record_id or 0)
        operation.finished_at = now
        if outcome["ok"]:
            operation.status = OperationStatus.synced
            operation.remote_id = outcome["remote_id"]
            operation.remote_number = outcome["number"]
            operation.error = operation.error_code = None
            operation.error_details = None
            written = pages.setdefault((job.provider, outcome["object_type"]), {})
            if not written:
                store.lock_mirror(session, _target(job), outcome["object_type"])
            if record is not None:
                record = _claim(session, record, outcome)
                record.push_status = "synced"
                session.flush()
            encoded = mirrored[job.operation_id]
            written[encoded.obj.external_id] = encoded
        else:
            operation.status = OperationStatus.failed
            operation.error = outcome["error"]
            operation.error_details = outcome["details"]
            operation.error_code = outcome["code"]
            if record is not None:
                record.push_status = "failed"
        append(
            session,
            job.tenant_id,
            "operation.succeeded" if outcome["ok"] else "operation.failed",
            f"operation:{job.operation_id}",
            operation_id=str(job.operation_id),
            connection_id=str(job.connection_id),
            model=job.model.value,
            action=job.action.value,
            remote_id=outcome.get("remote_id"),
            error=outcome.get("error"),
        )
    if landed:
        target = _target(landed[0][1])  # a batch is one connection's
        for (_, object_type), page in pages.items():
            store.write_objects(session, target, object_type, page)


def _target(job: Job) -> store.Target:
    return store.Target(job.tenant_id, job.connection_id)
