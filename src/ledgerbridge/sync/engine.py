"""Pulling one object type of one connection, page by page, each page committed with its cursor.

A page's raw objects, the unified records derived from them, their ``record.*`` events,
the sync counters and the cursor after the page are written in one transaction: a crash
anywhere leaves the cursor at the last committed page, and re-reading a page changes
nothing (an object whose content hash is unchanged is neither rewritten nor reported).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import simplejson
import structlog
from sqlalchemy import BigInteger, Select, String, func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session, load_only

from ledgerbridge.audit.service import Purpose, calls_for
from ledgerbridge.connections.http import connection_client
from ledgerbridge.connections.models import Connection
from ledgerbridge.db.base import utcnow
from ledgerbridge.events.service import append
from ledgerbridge.providers import Provider, budget
from ledgerbridge.providers.budget import BudgetExhausted
from ledgerbridge.providers.pulling import FetchedPage, RemoteObject, TombstoneWindowLapsed
from ledgerbridge.services import Services
from ledgerbridge.sync.catalog import DEPENDENT_READERS, MODULES, DependentReader
from ledgerbridge.sync.models import RawObject, Record, SyncRun, SyncState, SyncStatus
from ledgerbridge.sync.service import WINDOW_TRIGGER, request_sync
from ledgerbridge.unified import MODELS, Unified

OVERLAP = timedelta(minutes=5)  # re-read this much before the cursor: clock skew, shared stamps
SWEEP_EVERY = timedelta(hours=1)  # id sweeps for types deleted without a trace
PASS_STARTED = "pass_started_at"  # the engine's own key in a full pass's saved cursor
log = structlog.get_logger(__name__)


class CursorRegression(RuntimeError):
    """A provider module produced a cursor behind the committed one: a bug, never persisted."""


@dataclass(frozen=True)
class Plan:
    run_id: int
    tenant_id: str
    connection_id: int
    provider: Provider
    account: str
    object_types: list[str]
    full_resync: bool


@dataclass
class Counts:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0

    def add(self, other: Counts) -> None:
        self.fetched += other.fetched
        self.created += other.created
        self.updated += other.updated
        self.deleted += other.deleted


def dumps(payload: Any) -> str:
    """Canonical JSON with exact decimals: what is stored and what is hashed."""
    text: str = simplejson.dumps(payload, use_decimal=True, sort_keys=True, separators=(",", ":"))
    return text


def loads(text: str) -> Any:
    return simplejson.loads(text, use_decimal=True)


# --- runs ------------------------------------------------------------------------------


def start_run(svc: Services, run_id: int) -> Plan:
    """Mark the run as syncing and say what it covers."""
    return plan_of(svc, run_id, start=True)


def plan_of(svc: Services, run_id: int, *, start: bool = False) -> Plan:
    with svc.db.system() as session:
        run = session.get(SyncRun, run_id)
        if run is None:
            raise LookupError(f"sync run {run_id} does not exist")
        connection = session.get(Connection, run.connection_id)
        assert connection is not None
        if start:
            run.status = SyncStatus.syncing
            run.started_at = run.started_at or utcnow()
        return Plan(
            run_id=run.id,
            tenant_id=run.tenant_id,
            connection_id=connection.id,
            provider=Provider(connection.provider),
            account=connection.external_account_id,
            object_types=list(run.object_types),
            full_resync=run.full_resync,
        )


def defer_run(svc: Services, run_id: int, reason: str) -> Plan:
    """The run waits for the account's call budget: it continues later, it has not failed."""
    plan = plan_of(svc, run_id)
    with svc.db.system() as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        run.status = SyncStatus.deferred
        run.error = reason
        append(
            session,
            run.tenant_id,
            "sync.deferred",
            f"sync_run:{run.id}",
            sync_run_id=str(run.id),
            connection_id=str(run.connection_id),
            reason=reason,
        )
    return plan


def finish_run(svc: Services, run_id: int, errors: dict[str, str]) -> None:
    with svc.db.system() as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        states = session.scalars(select(SyncState).where(SyncState.sync_run_id == run_id)).all()
        totals = Counts()
        for state in states:
            totals.add(Counts(state.fetched, state.created, state.updated, state.deleted))
        run.fetched, run.created, run.updated, run.deleted = (
            totals.fetched,
            totals.created,
            totals.updated,
            totals.deleted,
        )
        run.status = SyncStatus.failed if errors else SyncStatus.succeeded
        run.error = "; ".join(f"{t}: {e}" for t, e in errors.items()) or None
        run.finished_at = utcnow()
        append(
            session,
            run.tenant_id,
            "sync.failed" if errors else "sync.succeeded",
            f"sync_run:{run.id}",
            sync_run_id=str(run.id),
            connection_id=str(run.connection_id),
            fetched=totals.fetched,
            created=totals.created,
            updated=totals.updated,
            deleted=totals.deleted,
            error=run.error,
        )


# --- one object type -------------------------------------------------------------------


def pull_object_type(svc: Services, plan: Plan, object_type: str) -> str | None:
    """Pull ``object_type`` to the end; the error message, or None on success.

    The status row is written by this function alone, with upserts, so even a failure
    before anything was fetched is recorded as ``failed``.
    """
    purpose = Purpose(plan.tenant_id, plan.connection_id, entity_type=object_type)
    try:
        with calls_for(purpose), budget.yielding(svc.settings.budget_wait_seconds):
            asyncio.run(_pull(svc, plan, object_type))
    except BudgetExhausted as exc:  # not a failure: the workflow continues it later
        _set_state(svc, plan, object_type, status=SyncStatus.deferred, last_error=str(exc))
        raise
    except Exception as exc:  # recorded, then reported to the workflow
        message = _describe(exc)
        _set_state(
            svc,
            plan,
            object_type,
            status=SyncStatus.failed,
            last_error=message,
            finished_at=utcnow(),
        )
        return message
    return None


def _describe(exc: Exception) -> str:
    details = getattr(exc, "details", None)
    text = str(exc) or type(exc).__name__
    if details:
        text = f"{text}: {'; '.join(map(str, details))}"
    return text[:2000]


async def _pull(svc: Services, plan: Plan, object_type: str) -> None:
    puller, _ = MODULES[plan.provider]
    if object_type not in puller.OBJECT_TYPES:
        raise ValueError(f"{plan.provider.value} has no object type {object_type!r}")
    state = _begin(svc, plan, object_type)
    resync = plan.full_resync
    pass_started: str | None = None
    if resync:
        saved = state.resync_cursor  # resume an interrupted full pass
        cursor = dict(saved) if saved else puller.start(None, OVERLAP)
        pass_started = str(cursor.pop(PASS_STARTED, None) or utcnow().isoformat())
    else:
        cursor = puller.start(dict(state.cursor) if state.cursor else None, OVERLAP)
    async with connection_client(svc, plan.connection_id, plan.provider, plan.account) as http:
        while True:
            page = await puller.fetch_page(
                http, object_type, cursor, page_size=svc.settings.sync_page_size
            )
            stale = _stale_dependents(svc, plan, object_type, page.objects)
            refreshed = await _refresh(http, plan.provider, stale)
            _commit_page(
                svc,
                plan,
                object_type,
                page,
                resync=resync,
                pass_started=pass_started,
                dependents=refreshed,
            )
            cursor = page.cursor
            if page.done:
                break
        if puller.OBJECT_TYPES[object_type].hard_deletes and _sweep_due(state, resync):
            present = await puller.sweep_ids(http, object_type)
            if _sweep_looks_wrong(svc, plan, object_type, present):
                present |= await puller.sweep_ids(http, object_type)  # a confirming pass
            _commit_sweep(svc, plan, object_type, present, resync=resync)
    _finish(svc, plan, object_type, resync=resync)


def _stale_dependents(
    svc: Services, plan: Plan, object_type: str, objects: list[RemoteObject]
) -> dict[str, list[str]]:
    """The records whose derived fields these objects' changes may have moved since the
    mirror last read them (a customer's balance, after its invoice changed), by type.

    Only objects that differ from the mirror count, only records the mirror holds are
    refreshed, and one read (``last_seen_at``) more than ``OVERLAP`` after the newest
    change that moves it already shows it.
    """
    reader = DEPENDENT_READERS.get(plan.provider)
    if reader is None or not objects or not reader.dependents(object_type, objects):
        return {}
    latest = {o.external_id: o for o in objects}
    with svc.db.system() as session:
        known = {
            raw.external_id: (raw.content_hash, raw.deleted)
            for raw in session.scalars(
                by_key(session, plan, object_type, RawObject.external_id, list(latest)).options(
                    load_only(RawObject.external_id, RawObject.content_hash, RawObject.deleted)
                )
            )
        }
        changed = [o for i, o in latest.items() if known.get(i) != (_digest(o.payload), o.deleted)]
        return _needing_refresh(session, plan, reader, object_type, changed)


def _needing_refresh(
    session: Session,
    plan: Plan,
    reader: DependentReader,
    object_type: str,
    changed: list[RemoteObject],
) -> dict[str, list[str]]:
    # dependent type -> id -> the newest change that moved it (None: unknown, so any)
    moved: dict[str, dict[str, datetime | None]] = defaultdict(dict)
    for obj in changed:
        for dependent_type, refs in reader.dependents(object_type, [obj]).items():
            for i in refs:
                at, known = obj.updated_at, moved[dependent_type]
                if i in known:
                    before = known[i]
                    at = None if before is None or at is None else max(before, at)
                known[i] = at
    stale: dict[str, list[str]] = {}
    for dependent_type, newest in moved.items():
        read = {
            raw.external_id: _aware(raw.last_seen_at)
            for raw in session.scalars(
                by_key(session, plan, dependent_type, RawObject.external_id, list(newest)).options(
                    load_only(RawObject.external_id, RawObject.last_seen_at)
                )
            )
        }
        # Records the mirror does not hold yet arrive with their own type's pull.
        ids = [
            i for i, at in newest.items() if i in read and (at is None or read[i] - OVERLAP <= at)
        ]
        if ids:
            stale[dependent_type] = sorted(ids)
    return stale


async def _refresh(
    http: httpx.AsyncClient, provider: Provider, stale: dict[str, list[str]]
) -> dict[str, list[RemoteObject]]:
    """The stale records read again, by id, in batches (only a provider that has
    dependent records finds any stale)."""
    if not stale:
        return {}
    reader = DEPENDENT_READERS[provider]
    return {t: await reader.fetch_by_ids(http, t, ids) for t, ids in stale.items()}


def _digest(payload: Any) -> str:
    return hashlib.sha256(dumps(payload).encode()).hexdigest()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _mark_seen(session: Session, plan: Plan, object_type: str, ids: list[str]) -> None:
    """A full pass listed these: they exist (see ``_mark_unseen_deleted``)."""
    if not ids:
        return
    listed = by_key(session, plan, object_type, RawObject.external_id, ids)
    session.execute(
        update(RawObject)
        .where(RawObject.id.in_(listed.with_only_columns(RawObject.id).scalar_subquery()))
        .values(last_seen_at=utcnow())
    )


def _mark_unseen_deleted(
    session: Session, plan: Plan, object_type: str, pass_started: datetime, share: float
) -> int:
    """After a whole full pass: objects it never listed are gone from the provider.

    Every provider lists what it keeps, tombstones included (Xero statuses, QuickBooks
    inactive name lists, Lightspeed ``deleted_at``); what is not listed was deleted for
    good (QuickBooks transactions, Xero items), perhaps while no feed was watching. A pass
    that would mark more than ``share`` of the type's live objects (and more than
    ``SWEEP_CONFIRM_OVER``) deleted is not believed: its listing came back short, and the
    objects stay until a pass or a sweep confirms they are gone.
    """
    gone = session.scalars(
        select(RawObject)
        .where(
            RawObject.connection_id == plan.connection_id,
            RawObject.object_type == object_type,
            RawObject.deleted.is_(False),
            RawObject.last_seen_at < pass_started,
        )
        .options(load_only(RawObject.id, RawObject.object_type, RawObject.external_id))
    ).all()
    alive = session.scalar(
        select(func.count())
        .select_from(RawObject)
        .where(
            RawObject.connection_id == plan.connection_id,
            RawObject.object_type == object_type,
            RawObject.deleted.is_(False),
        )
    )
    if len(gone) > SWEEP_CONFIRM_OVER and len(gone) > share * (alive or 0):
        log.warning(
            "full pass listed far fewer objects than the mirror holds; none marked deleted",
            object_type=object_type,
            unseen=len(gone),
            alive=alive,
        )
        return 0
    for raw in gone:
        _mark_deleted(session, plan, raw)
    return len(gone)


def _begin(svc: Services, plan: Plan, object_type: str) -> SyncState:
    return _set_state(
        svc,
        plan,
        object_type,
        status=SyncStatus.syncing,
        sync_run_id=plan.run_id,
        started_at=utcnow(),
        finished_at=None,
        fetched=0,
        created=0,
        updated=0,
        deleted=0,
        last_error=None,
    )


def _set_state(svc: Services, plan: Plan, object_type: str, **values: Any) -> SyncState:
    with svc.db.system() as session:
        state = _state(session, plan, object_type, lock=True)
        for name, value in values.items():
            setattr(state, name, value)
        session.flush()
        session.expunge(state)
        return state


def lock_mirror(session: Session, plan: Plan, object_type: str) -> SyncState:
    """The lock every writer of a connection's mirror of ``object_type`` takes first (its
    sync state row): a pull page and a push outcome writing the same raw objects and
    records then take turns instead of deadlocking on each other's rows."""
    return _state(session, plan, object_type, lock=True)


def _state(session: Session, plan: Plan, object_type: str, *, lock: bool = False) -> SyncState:
    query = select(SyncState).where(
        SyncState.connection_id == plan.connection_id, SyncState.object_type == object_type
    )
    state = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if state is None:
        state = SyncState(
            tenant_id=plan.tenant_id, connection_id=plan.connection_id, object_type=object_type
        )
        session.add(state)
        session.flush()
    return state


def _sweep_due(state: SyncState, resync: bool) -> bool:
    return resync or state.last_swept_at is None or utcnow() - state.last_swept_at > SWEEP_EVERY


def _finish(svc: Services, plan: Plan, object_type: str, *, resync: bool) -> None:
    puller, _ = MODULES[plan.provider]
    with svc.db.system() as session:
        state = _state(session, plan, object_type, lock=True)
        if resync and state.resync_cursor is not None:
            finished = dict(state.resync_cursor)
            pass_started = finished.pop(PASS_STARTED, None)
            if state.cursor is None or puller.position(finished) >= puller.position(state.cursor):
                state.cursor = finished
            state.resync_cursor = None
            if pass_started is not None:
                started = datetime.fromisoformat(str(pass_started))
                state.deleted += _mark_unseen_deleted(
                    session, plan, object_type, started, svc.settings.sweep_confirm_share
                )
                # Every deletion before the pass is now known: deleted-object feeds resume here.
                state.last_tombstones_at = started
        state.status = SyncStatus.succeeded
        state.finished_at = state.last_succeeded_at = utcnow()


def _commit_page(
    svc: Services,
    plan: Plan,
    object_type: str,
    page: FetchedPage,
    *,
    resync: bool,
    pass_started: str | None = None,
    dependents: dict[str, list[RemoteObject]] | None = None,
) -> None:
    """The page, the records whose derived fields it moved (``dependents``), and the
    cursor after it, in one transaction. In a full pass every object listed is marked seen
    (``last_seen_at``), and the pass's start rides along in the cursor."""
    puller, mapper = MODULES[plan.provider]
    with svc.db.system() as session:
        state = lock_mirror(session, plan, object_type)
        committed = state.resync_cursor if resync else state.cursor
        if committed is not None and puller.position(page.cursor) < puller.position(committed):
            raise CursorRegression(
                f"{object_type}: cursor {page.cursor} is behind the committed {committed}"
            )
        counts = apply_objects(session, plan, object_type, page.objects, mapper)
        for dependent_type, objects in (dependents or {}).items():
            lock_mirror(session, plan, dependent_type)
            refreshed = apply_objects(session, plan, dependent_type, objects, mapper)
            counts.updated += refreshed.updated  # counted with the change that moved them
        if resync:
            _mark_seen(session, plan, object_type, [o.external_id for o in page.objects])
            state.resync_cursor = {**page.cursor, PASS_STARTED: pass_started}
        else:
            state.cursor = page.cursor
        state.fetched += counts.fetched
        state.created += counts.created
        state.updated += counts.updated
        state.deleted += counts.deleted


def apply_objects(
    session: Session,
    plan: Plan,
    object_type: str,
    objects: list[RemoteObject],
    mapper: Any,
) -> Counts:
    """Upsert raw objects and their unified records; append an event for each change."""
    counts = Counts(fetched=len(objects))
    latest = {obj.external_id: obj for obj in objects}  # a page may repeat an object
    existing = {
        raw.external_id: raw
        for raw in session.scalars(
            by_key(session, plan, object_type, RawObject.external_id, list(latest))
        )
    }
    now = utcnow()
    changed: list[tuple[RawObject, Unified, bool]] = []
    for external_id, obj in latest.items():
        payload = dumps(obj.payload)
        digest = hashlib.sha256(payload.encode()).hexdigest()
        raw = existing.get(external_id)
        if raw is not None and raw.content_hash == digest and raw.deleted == obj.deleted:
            continue  # re-read in an overlap: not a change
        unified = mapper.to_unified(object_type, obj)
        if raw is None:
            raw = RawObject(
                tenant_id=plan.tenant_id,
                connection_id=plan.connection_id,
                object_type=object_type,
                external_id=external_id,
                first_seen_at=now,
            )
            session.add(raw)
        changed.append((raw, unified, raw.deleted))
        raw.payload, raw.content_hash = payload, digest
        raw.remote_updated_at, raw.remote_version = obj.updated_at, obj.version
        raw.deleted = obj.deleted
        raw.last_seen_at = raw.changed_at = now
    if not changed:
        return counts
    session.flush()  # one batch: the new raw objects get their ids
    records = {
        record.remote_id: record
        for record in session.scalars(
            by_key(
                session,
                plan,
                object_type,
                Record.remote_id,
                [raw.external_id for raw, *_ in changed],
            )
        )
    }
    kinds = [
        _upsert_record(session, plan, object_type, raw, unified, records.get(raw.external_id), was)
        for raw, unified, was in changed
    ]
    session.flush()  # one batch: the new records get their ids, which the events name
    for record, kind in kinds:
        append(
            session,
            plan.tenant_id,
            f"record.{kind}",
            f"record:{record.id}",
            model=record.model,
            record_id=str(record.id),
            remote_id=record.remote_id,
            connection_id=str(plan.connection_id),
        )
        counts.created += kind == "created"
        counts.updated += kind == "updated"
        counts.deleted += kind == "deleted"
    return counts


def by_key(
    session: Session,
    plan: Plan,
    object_type: str,
    key: InstrumentedAttribute[str] | InstrumentedAttribute[str | None],
    ids: list[str],
) -> Select[Any]:
    """The rows of ``key``'s table (raw objects or records) whose key is in ``ids``.

    Both tables are unique on (connection, object type, key). Given ``key IN (...)`` with
    the first two as constants, PostgreSQL picks between probing that index once per id
    and reading every row of the connection's object type, by column statistics; those
    are stale while a first backfill grows the table, so it read them all for every page
    (a quadratic backfill). Joined to the ids as rows, the index can only be probed with
    the whole key, and a full scan is weighed against the table's actual size.
    """
    entity = key.class_
    if session.get_bind().dialect.name != "postgresql":
        return select(entity).where(
            entity.connection_id == plan.connection_id,
            entity.object_type == object_type,
            key.in_(ids),
        )
    wanted = select(
        literal(plan.connection_id, BigInteger),
        literal(object_type, String),
        func.unnest(literal(ids, ARRAY(String))),
    )
    return select(entity).where(tuple_(entity.connection_id, entity.object_type, key).in_(wanted))


def _upsert_record(
    session: Session,
    plan: Plan,
    object_type: str,
    raw: RawObject,
    unified: Unified,
    record: Record | None,
    was_deleted: bool,
) -> tuple[Record, str]:
    if record is None:
        kind = "created"
    elif unified.remote_was_deleted and not was_deleted:
        kind = "deleted"
    else:
        kind = "updated"
    if record is None:
        record = Record(
            tenant_id=plan.tenant_id,
            connection_id=plan.connection_id,
            object_type=object_type,
            remote_id=unified.remote_id,
            raw_object_id=raw.id,
        )
        session.add(record)
    record.model = _model_name(unified)
    record.remote_updated_at = unified.remote_updated_at
    record.remote_was_deleted = unified.remote_was_deleted
    record.data = unified.model_dump_json()
    record.updated_at = utcnow()
    return record, kind


def _model_name(unified: Unified) -> str:
    return _MODEL_NAMES[type(unified)]


_MODEL_NAMES = {cls: model.value for model, cls in MODELS.items()}


SWEEP_CONFIRM_OVER = 10  # objects: fewer vanishing at once are taken at their word


def _sweep_looks_wrong(svc: Services, plan: Plan, object_type: str, present: set[str]) -> bool:
    """Would the sweep mark more than ``sweep_confirm_share`` of the type's live objects
    (and more than ``SWEEP_CONFIRM_OVER``) deleted? Then it reads the ids once more, and
    only an object missing from both reads is taken as deleted."""
    with svc.db.system(read_only=True) as session:
        alive = session.scalars(
            select(RawObject.external_id).where(
                RawObject.connection_id == plan.connection_id,
                RawObject.object_type == object_type,
                RawObject.deleted.is_(False),
            )
        ).all()
    gone = sum(1 for external_id in alive if external_id not in present)
    return gone > SWEEP_CONFIRM_OVER and gone > svc.settings.sweep_confirm_share * len(alive)


def _commit_sweep(
    svc: Services, plan: Plan, object_type: str, present: set[str], *, resync: bool
) -> None:
    """Objects that vanished without a tombstone are marked deleted, never dropped. In a
    full pass, what the (confirmed) sweep found counts as listed, so that a listing that
    came back short cannot mark it deleted at the end of the pass."""
    with svc.db.system() as session:
        state = lock_mirror(session, plan, object_type)
        gone = session.scalars(
            select(RawObject)
            .where(
                RawObject.connection_id == plan.connection_id,
                RawObject.object_type == object_type,
                RawObject.deleted.is_(False),
            )
            .options(  # the ids are what is compared: not every payload
                load_only(
                    RawObject.id, RawObject.object_type, RawObject.external_id, RawObject.deleted
                )
            )
        ).all()
        deleted = 0
        for raw in gone:
            if raw.external_id in present:
                continue
            _mark_deleted(session, plan, raw)
            deleted += 1
        state.deleted += deleted
        state.last_swept_at = utcnow()
        if resync:
            _mark_seen(session, plan, object_type, sorted(present))


def _mark_deleted(session: Session, plan: Plan, raw: RawObject) -> None:
    raw.deleted = True
    raw.changed_at = utcnow()
    record = session.scalars(
        select(Record).where(
            Record.connection_id == plan.connection_id,
            Record.object_type == raw.object_type,
            Record.remote_id == raw.external_id,
        )
    ).one_or_none()
    if record is None:
        return
    data = loads(record.data)
    data["remote_was_deleted"] = True
    record.data = simplejson.dumps(data)
    record.remote_was_deleted = True
    record.updated_at = utcnow()
    append(
        session,
        plan.tenant_id,
        "record.deleted",
        f"record:{record.id}",
        model=record.model,
        record_id=str(record.id),
        remote_id=record.remote_id,
        connection_id=str(plan.connection_id),
    )


# --- deletions the listings cannot show --------------------------------------------------


def pull_tombstones(svc: Services, plan: Plan) -> str | None:
    """Deleted-object feeds (QuickBooks CDC) since the last successful sync of the types."""
    try:
        purpose = Purpose(plan.tenant_id, plan.connection_id, entity_type="deletions")
        with calls_for(purpose), budget.yielding(svc.settings.budget_wait_seconds):
            asyncio.run(_tombstones(svc, plan))
    except BudgetExhausted:
        raise
    except Exception as exc:
        return _describe(exc)
    return None


async def _tombstones(svc: Services, plan: Plan) -> None:
    puller, _ = MODULES[plan.provider]
    with svc.db.system() as session:
        states = session.scalars(
            select(SyncState).where(
                SyncState.connection_id == plan.connection_id,
                SyncState.object_type.in_(plan.object_types),
            )
        ).all()
        since = min(
            (s.last_tombstones_at or s.started_at for s in states if s.started_at), default=None
        )
    if since is None:
        return
    started = utcnow()
    async with connection_client(svc, plan.connection_id, plan.provider, plan.account) as http:
        try:
            stubs = await puller.fetch_tombstones(http, plan.object_types, since - OVERLAP)
        except TombstoneWindowLapsed as lapsed:
            _schedule_full_pass(svc, plan, since, lapsed)
            return
        deleted_ids: dict[str, list[str]] = defaultdict(list)
        for object_type, stub in stubs:
            deleted_ids[object_type].append(stub.external_id)
        # A deleted transaction moved its customer's balance: read the customer again.
        refreshed = await _refresh(http, plan.provider, _parties_of_deleted(svc, plan, deleted_ids))
    with svc.db.system() as session:
        _, mapper = MODULES[plan.provider]
        for dependent_type, objects in refreshed.items():
            lock_mirror(session, plan, dependent_type)
            apply_objects(session, plan, dependent_type, objects, mapper)
        for object_type, ids in deleted_ids.items():
            state = lock_mirror(session, plan, object_type)
            for raw in session.scalars(
                by_key(session, plan, object_type, RawObject.external_id, ids)
            ):
                if not raw.deleted:
                    _mark_deleted(session, plan, raw)  # keep the last full payload
                    state.deleted += 1  # counted in this run's totals
        session.execute(
            update(SyncState)
            .where(
                SyncState.connection_id == plan.connection_id,
                SyncState.object_type.in_(plan.object_types),
            )
            .values(last_tombstones_at=started)
        )


def _parties_of_deleted(
    svc: Services, plan: Plan, deleted_ids: dict[str, list[str]]
) -> dict[str, list[str]]:
    """The records whose derived fields the deletion of these objects moved, by type,
    from the last payload the mirror keeps of each."""
    puller, _ = MODULES[plan.provider]
    reader = DEPENDENT_READERS.get(plan.provider)
    if reader is None:
        return {}
    parties: dict[str, set[str]] = defaultdict(set)
    with svc.db.system() as session:
        for object_type, ids in deleted_ids.items():
            kept = [
                puller.remote_object(object_type, loads(raw.payload))
                for raw in session.scalars(
                    by_key(session, plan, object_type, RawObject.external_id, ids)
                )
                if not raw.deleted
            ]
            for dependent_type, refs in reader.dependents(object_type, kept).items():
                parties[dependent_type] |= refs
    return {t: sorted(refs) for t, refs in parties.items()}


def _schedule_full_pass(
    svc: Services, plan: Plan, since: datetime, lapsed: TombstoneWindowLapsed
) -> None:
    """The deleted-object feed no longer reaches back to ``since``: queue a full pass
    (it marks deleted whatever it does not list), saying why. The scheduler hands it to
    the workers like any run left queued; a pass already queued is joined."""
    reason = (
        f"full pass: deletions were last read {_aware(since):%Y-%m-%d %H:%M} UTC, beyond "
        f"what the provider's deleted-object feed keeps ({lapsed.message})"
    )[:200]
    with svc.db.system() as session:
        connection = session.get(Connection, plan.connection_id)
        assert connection is not None
        request_sync(
            session,
            connection,
            wanted=plan.object_types,
            full_resync=True,
            trigger=WINDOW_TRIGGER,
            requested_by=reason,
        )
