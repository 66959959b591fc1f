"""Pulling one object type of one connection, page by page, each page committed with its cursor.

A page's raw objects, the unified records derived from them, their ``record.*`` events,
the sync counters and the cursor after the page are written in one transaction: a crash
anywhere leaves the cursor at the last committed page, and re-reading a page changes
nothing (an object whose content hash is unchanged is neither rewritten nor reported).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, load_only

from ledgerbridge.audit.service import Purpose, calls_for
from ledgerbridge.connections.http import connection_client
from ledgerbridge.connections.models import Connection
from ledgerbridge.db.base import utcnow
from ledgerbridge.events.service import append
from ledgerbridge.mirror import store
from ledgerbridge.mirror.encoding import loads
from ledgerbridge.mirror.store import Counts, by_key, lock_mirror
from ledgerbridge.providers import Provider, budget
from ledgerbridge.providers.budget import BudgetExhausted
from ledgerbridge.providers.pulling import FetchedPage, RemoteObject, TombstoneWindowLapsed
from ledgerbridge.services import Services
from ledgerbridge.sync import drift
from ledgerbridge.sync.catalog import DEPENDENT_READERS, MODULES, DependentReader
from ledgerbridge.sync.models import RawObject, SyncRun, SyncState, SyncStatus
from ledgerbridge.sync.service import WINDOW_TRIGGER, request_sync

OVERLAP = timedelta(minutes=5)  # re-read this much before the cursor: clock skew, shared stamps
SWEEP_EVERY = timedelta(hours=1)  # id sweeps for types deleted without a trace
PASS_STARTED = "pass_started_at"  # the engine's own keys in a full pass's saved cursor
PASS_COUNTS = "pass_counts"  # the pass's changes so far, committed with the pages they cover
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
    trigger: str = "api"


def _pass_counts(cursor: dict[str, Any] | None) -> Counts:
    """The changes a full pass has committed so far (kept in its saved cursor)."""
    return Counts(*(cursor or {}).get(PASS_COUNTS, [0, 0, 0, 0]))


def _with_pass_counts(cursor: dict[str, Any], counts: Counts) -> dict[str, Any]:
    return {**cursor, PASS_COUNTS: [counts.fetched, counts.created, counts.updated, counts.deleted]}


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
            trigger=run.trigger,
        )


def defer_run(svc: Services, run_id: int, reason: str) -> Plan:
    """The run waits for the account's call budget: it continues later, it has not failed."""
    plan = plan_of(svc, run_id)
    with svc.db.system() as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        run.status = SyncStatus.deferred
        run.error = reason
        _append_run_event(session, run, "sync.deferred", reason=reason)
    return plan


def finish_run(svc: Services, run_id: int, errors: dict[str, str]) -> None:
    with svc.db.system() as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        if run.finished_at is not None:
            return  # recorded already (a replayed step)
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
        if run.trigger == drift.AUDIT_TRIGGER:
            drift.report(session, run)
        # One event closes every run; a run that finished a first backfill also says what it
        # wrote per model (those records got no event each).
        backfilled = [s for s in states if s.backfilled_by_run_id == run_id]
        announcement: dict[str, Any] = (
            {
                "backfill": True,
                "models": _counts_by_model(_provider_of(session, run.connection_id), backfilled),
            }
            if backfilled
            else {}
        )
        _append_run_event(
            session,
            run,
            "sync.failed" if errors else "sync.completed",
            fetched=totals.fetched,
            created=totals.created,
            updated=totals.updated,
            deleted=totals.deleted,
            error=run.error,
            **announcement,
        )


def _append_run_event(session: Session, run: SyncRun, event: str, **data: Any) -> None:
    append(
        session,
        run.tenant_id,
        event,
        f"sync_run:{run.id}",
        sync_run_id=str(run.id),
        connection_id=str(run.connection_id),
        **data,
    )


def _provider_of(session: Session, connection_id: int) -> Provider:
    connection = session.get(Connection, connection_id)
    assert connection is not None
    return Provider(connection.provider)


def _counts_by_model(provider: Provider, states: list[SyncState]) -> dict[str, dict[str, int]]:
    """What a first backfill wrote, per unified model (its records got no event each)."""
    types = MODULES[provider][0].OBJECT_TYPES
    models: dict[str, dict[str, int]] = {}
    for state in states:
        counts = models.setdefault(
            types[state.object_type].model.value,
            {"fetched": 0, "created": 0, "updated": 0, "deleted": 0},
        )
        counts["fetched"] += state.fetched
        counts["created"] += state.created
        counts["updated"] += state.updated
        counts["deleted"] += state.deleted
    return models


# --- one object type -------------------------------------------------------------------


def pull_object_type(svc: Services, plan: Plan, object_type: str) -> str | None:
    """Pull ``object_type`` to the end; the error message, or None on success.

    The status row is written by this function alone, with upserts, so even a failure
    before anything was fetched is recorded as ``failed``.
    """
    purpose = Purpose(plan.tenant_id, plan.connection_id, entity_type=object_type)
    try:
        with (
            calls_for(purpose),
            budget.yielding(svc.settings.budget_wait_seconds),
            drift.lane(svc, plan.trigger, plan.connection_id),
        ):
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
    puller, mapper = MODULES[plan.provider]
    if object_type not in puller.OBJECT_TYPES:
        raise ValueError(f"{plan.provider.value} has no object type {object_type!r}")
    state = _begin(svc, plan, object_type)
    resync = plan.full_resync
    # Until a type has been pulled to the end once, its records are announced by the run's
    # one ``sync.completed`` event, not one event each.
    announce = state.last_succeeded_at is not None
    pass_started: str | None = None
    if resync:
        saved = state.resync_cursor  # resume an interrupted full pass
        cursor = dict(saved) if saved else puller.start(None, OVERLAP)
        pass_started = str(cursor.pop(PASS_STARTED, None) or utcnow().isoformat())
        cursor.pop(PASS_COUNTS, None)
    else:
        cursor = puller.start(dict(state.cursor) if state.cursor else None, OVERLAP)

    async with connection_client(svc, plan.connection_id, plan.provider, plan.account) as http:

        async def read(at: dict[str, Any]) -> tuple[FetchedPage, store.Page]:
            size = svc.settings.sync_page_size
            page = await puller.fetch_page(http, object_type, at, page_size=size)
            return page, store.encode(page.objects, object_type, mapper)

        def fetch(at: dict[str, Any]) -> asyncio.Task[tuple[FetchedPage, store.Page]]:
            return asyncio.create_task(read(at))

        # One page is read, encoded and mapped ahead while the one before it is written
        # (in a worker thread, so the database's work overlaps ours). Only the reading
        # runs ahead: each page's cursor is still committed with that page, in order.
        ahead = fetch(cursor)
        try:
            while True:
                page, objects = await ahead
                if not page.done:
                    ahead = fetch(page.cursor)
                stale = _stale_dependents(svc, plan, object_type, objects)
                refreshed = await _refresh(http, plan.provider, stale)
                await asyncio.to_thread(
                    _commit_page,
                    svc,
                    plan,
                    object_type,
                    page,
                    objects,
                    resync=resync,
                    pass_started=pass_started,
                    dependents=refreshed,
                    announce=announce,
                )
                if page.done:
                    break
        finally:
            await _abandon(ahead)
        if puller.OBJECT_TYPES[object_type].hard_deletes and _sweep_due(state, resync):
            present = await puller.sweep_ids(http, object_type)
            if _sweep_looks_wrong(svc, plan, object_type, present):
                present |= await puller.sweep_ids(http, object_type)  # a confirming pass
            _commit_sweep(svc, plan, object_type, present, resync=resync, announce=announce)
    _finish(svc, plan, object_type, resync=resync)


async def _abandon(task: asyncio.Task[Any]) -> None:
    """A page read ahead that will not be written (the pull failed or ended): stopped,
    and its outcome dropped (an error of its own would only repeat or mask the first)."""
    if task.done():
        if not task.cancelled():
            task.exception()  # retrieved: asyncio does not log it as never retrieved
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def _stale_dependents(
    svc: Services, plan: Plan, object_type: str, objects: store.Page
) -> dict[str, list[str]]:
    """The records whose derived fields these objects' changes may have moved since the
    mirror last read them (a customer's balance, after its invoice changed), by type.

    Only objects that differ from the mirror count, only records the mirror holds are
    refreshed, and one read (``last_seen_at``) more than ``OVERLAP`` after the newest
    change that moves it already shows it.
    """
    reader = DEPENDENT_READERS.get(plan.provider)
    listed = [e.obj for e in objects.values()]
    if reader is None or not listed or not reader.dependents(object_type, listed):
        return {}
    with svc.db.system(read_only=True) as session:
        changed = store.changed(session, plan, object_type, objects)
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
) -> dict[str, store.Page]:
    """The stale records read again, by id, in batches, encoded and mapped (only a
    provider that has dependent records finds any stale)."""
    if not stale:
        return {}
    reader, (_, mapper) = DEPENDENT_READERS[provider], MODULES[provider]
    return {
        t: store.encode(await reader.fetch_by_ids(http, t, ids), t, mapper)
        for t, ids in stale.items()
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


SWEEP_CONFIRM_OVER = 10  # objects: fewer vanishing at once are taken at their word


def _looks_like_mass_deletion(
    session: Session, plan: Plan, object_type: str, gone: int, share: float
) -> bool:
    """Would marking ``gone`` objects deleted take more than ``share`` of the type's live
    objects (and more than ``SWEEP_CONFIRM_OVER``)? Then the listing that says so is not
    believed at its word: a sweep reads the ids again, a full pass marks none deleted."""
    if gone <= SWEEP_CONFIRM_OVER:
        return False
    alive = session.scalar(
        select(func.count())
        .select_from(RawObject)
        .where(
            RawObject.connection_id == plan.connection_id,
            RawObject.object_type == object_type,
            RawObject.deleted.is_(False),
        )
    )
    return gone > share * (alive or 0)


def _live_ids(session: Session, plan: Plan, object_type: str) -> list[str]:
    return list(
        session.scalars(
            select(RawObject.external_id).where(
                RawObject.connection_id == plan.connection_id,
                RawObject.object_type == object_type,
                RawObject.deleted.is_(False),
            )
        )
    )


def _mark_unseen_deleted(
    session: Session,
    plan: Plan,
    object_type: str,
    pass_started: datetime,
    share: float,
    *,
    announce: bool = True,
) -> int:
    """After a whole full pass: objects it never listed are gone from the provider.

    Every provider lists what it keeps, tombstones included (Xero statuses, QuickBooks
    inactive name lists, Lightspeed ``deleted_at``); what is not listed was deleted for
    good (QuickBooks transactions, Xero items), perhaps while no feed was watching. A pass
    that looks like a mass deletion (``_looks_like_mass_deletion``) is not believed: its
    listing came back short, and the objects stay until a pass or a sweep confirms they
    are gone.
    """
    gone = list(
        session.scalars(
            select(RawObject.external_id).where(
                RawObject.connection_id == plan.connection_id,
                RawObject.object_type == object_type,
                RawObject.deleted.is_(False),
                RawObject.last_seen_at < pass_started,
            )
        )
    )
    if _looks_like_mass_deletion(session, plan, object_type, len(gone), share):
        log.warning(
            "full pass listed far fewer objects than the mirror holds; none marked deleted",
            object_type=object_type,
            unseen=len(gone),
        )
        return 0
    return store.mark_deleted(session, plan, object_type, gone, events=announce)


def _begin(svc: Services, plan: Plan, object_type: str) -> SyncState:
    with svc.db.system(read_only=True) as session:
        resumed = plan.run_id == session.scalar(
            select(SyncState.sync_run_id).where(
                SyncState.connection_id == plan.connection_id,
                SyncState.object_type == object_type,
            )
        )
    # A run resumed after a crash or a deferral keeps what it has counted so far.
    counters = {} if resumed else {"fetched": 0, "created": 0, "updated": 0, "deleted": 0}
    return _set_state(
        svc,
        plan,
        object_type,
        status=SyncStatus.syncing,
        sync_run_id=plan.run_id,
        started_at=utcnow(),
        finished_at=None,
        last_error=None,
        **counters,
    )


def _set_state(svc: Services, plan: Plan, object_type: str, **values: Any) -> SyncState:
    with svc.db.system() as session:
        state = lock_mirror(session, plan, object_type)
        for name, value in values.items():
            setattr(state, name, value)
        session.flush()
        session.expunge(state)
        return state


def _sweep_due(state: SyncState, resync: bool) -> bool:
    return resync or state.last_swept_at is None or utcnow() - state.last_swept_at > SWEEP_EVERY


def _finish(svc: Services, plan: Plan, object_type: str, *, resync: bool) -> None:
    puller, _ = MODULES[plan.provider]
    with svc.db.system() as session:
        state = lock_mirror(session, plan, object_type)
        announce = state.last_succeeded_at is not None
        if resync and state.resync_cursor is not None:
            finished = dict(state.resync_cursor)
            pass_started = finished.pop(PASS_STARTED, None)
            found = _pass_counts(finished)
            finished.pop(PASS_COUNTS, None)
            if state.cursor is None or puller.position(finished) >= puller.position(state.cursor):
                state.cursor = finished
            state.resync_cursor = None
            if pass_started is not None:
                started = datetime.fromisoformat(str(pass_started))
                unseen = _mark_unseen_deleted(
                    session,
                    plan,
                    object_type,
                    started,
                    svc.settings.sweep_confirm_share,
                    announce=announce,
                )
                state.deleted += unseen
                # Every deletion before the pass is now known: deleted-object feeds resume here.
                state.last_tombstones_at = started
                if plan.trigger == drift.AUDIT_TRIGGER:
                    found.deleted += unseen
                    repaired = found.created + found.updated + found.deleted
                    drift.record(session, plan.run_id, state, repaired, started)
        if not announce:  # the type's first pull to the end: the run's sync.completed says so
            state.backfilled_by_run_id = plan.run_id
        state.status = SyncStatus.succeeded
        state.finished_at = state.last_succeeded_at = utcnow()


def _commit_page(
    svc: Services,
    plan: Plan,
    object_type: str,
    page: FetchedPage,
    objects: store.Page,
    *,
    resync: bool,
    pass_started: str | None = None,
    dependents: dict[str, store.Page] | None = None,
    announce: bool = True,
) -> None:
    """The page, the records whose derived fields it moved (``dependents``), and the
    cursor after it, in one transaction. In a full pass every object listed is marked seen
    (``last_seen_at``), and the pass's start rides along in the cursor."""
    puller, _ = MODULES[plan.provider]
    with svc.db.system() as session:
        state = lock_mirror(session, plan, object_type)
        committed = state.resync_cursor if resync else state.cursor
        if committed is not None and puller.position(page.cursor) < puller.position(committed):
            raise CursorRegression(
                f"{object_type}: cursor {page.cursor} is behind the committed {committed}"
            )
        counts = store.write_objects(session, plan, object_type, objects, events=announce)
        for dependent_type, refreshed_page in (dependents or {}).items():
            lock_mirror(session, plan, dependent_type)
            refreshed = store.write_objects(
                session, plan, dependent_type, refreshed_page, events=announce
            )
            refreshed.fetched = 0  # counted with the change that moved them
            counts.add(refreshed)
        if resync:
            store.mark_seen(session, plan, object_type, list(objects))
            tally = _pass_counts(committed)
            tally.add(counts)
            state.resync_cursor = _with_pass_counts(
                {**page.cursor, PASS_STARTED: pass_started}, tally
            )
        else:
            state.cursor = page.cursor
        state.fetched += counts.fetched
        state.created += counts.created
        state.updated += counts.updated
        state.deleted += counts.deleted


def _sweep_looks_wrong(svc: Services, plan: Plan, object_type: str, present: set[str]) -> bool:
    """Would the sweep look like a mass deletion? Then it reads the ids once more, and only
    an object missing from both reads is taken as deleted."""
    with svc.db.system(read_only=True) as session:
        gone = sum(1 for i in _live_ids(session, plan, object_type) if i not in present)
        return _looks_like_mass_deletion(
            session, plan, object_type, gone, svc.settings.sweep_confirm_share
        )


def _commit_sweep(
    svc: Services,
    plan: Plan,
    object_type: str,
    present: set[str],
    *,
    resync: bool,
    announce: bool = True,
) -> None:
    """Objects that vanished without a tombstone are marked deleted, never dropped. In a
    full pass, what the (confirmed) sweep found counts as listed, so that a listing that
    came back short cannot mark it deleted at the end of the pass."""
    with svc.db.system() as session:
        state = lock_mirror(session, plan, object_type)
        gone = [i for i in _live_ids(session, plan, object_type) if i not in present]
        deleted = store.mark_deleted(session, plan, object_type, gone, events=announce)
        state.deleted += deleted
        state.last_swept_at = utcnow()
        if resync:
            store.mark_seen(session, plan, object_type, sorted(present))
            if state.resync_cursor is not None:
                tally = _pass_counts(state.resync_cursor)
                tally.deleted += deleted
                state.resync_cursor = _with_pass_counts(state.resync_cursor, tally)


# --- deletions the listings cannot show --------------------------------------------------


def pull_tombstones(svc: Services, plan: Plan) -> str | None:
    """Deleted-object feeds (QuickBooks CDC) since the last successful sync of the types."""
    try:
        purpose = Purpose(plan.tenant_id, plan.connection_id, entity_type="deletions")
        with (
            calls_for(purpose),
            budget.yielding(svc.settings.budget_wait_seconds),
            drift.lane(svc, plan.trigger, plan.connection_id),
        ):
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
        causes = _parties_of_deleted(svc, plan, deleted_ids)
        wanted: dict[str, set[str]] = defaultdict(set)
        for parties in causes.values():
            for dependent_type, refs in parties.items():
                wanted[dependent_type] |= refs
        refreshed = await _refresh(http, plan.provider, {t: sorted(r) for t, r in wanted.items()})
    with svc.db.system() as session:
        moved: dict[str, Counts] = defaultdict(Counts)  # by the deleted type that moved them
        for dependent_type, page in refreshed.items():
            lock_mirror(session, plan, dependent_type)
            for object_type, page_moved in _by_cause(causes, dependent_type, page):
                counts = store.write_objects(session, plan, dependent_type, page_moved)
                counts.fetched = 0
                moved[object_type].add(counts)
        for object_type, ids in deleted_ids.items():
            state = lock_mirror(session, plan, object_type)
            counts = moved.pop(object_type, Counts())
            state.created += counts.created
            state.updated += counts.updated
            # The last full payload is kept; counted in this run's totals.
            state.deleted += counts.deleted + store.mark_deleted(session, plan, object_type, ids)
        session.execute(
            update(SyncState)
            .where(
                SyncState.connection_id == plan.connection_id,
                SyncState.object_type.in_(plan.object_types),
            )
            .values(last_tombstones_at=started)
        )


Causes = dict[str, dict[str, set[str]]]  # deleted type -> dependent type -> ids it moved


def _by_cause(
    causes: Causes, dependent_type: str, page: store.Page
) -> list[tuple[str, store.Page]]:
    """The refreshed ``page`` grouped by the deleted type that moved each object (the
    first, when several did), so that each change is counted once, with its cause."""
    groups: dict[str, store.Page] = defaultdict(dict)
    for external_id, encoded in page.items():
        cause = next(
            (t for t, found in causes.items() if external_id in found.get(dependent_type, ())),
            next(iter(causes)),
        )
        groups[cause][external_id] = encoded
    return list(groups.items())


def _parties_of_deleted(svc: Services, plan: Plan, deleted_ids: dict[str, list[str]]) -> Causes:
    """The records whose derived fields the deletion of these objects moved, by deleted
    type and dependent type, from the last payload the mirror keeps of each."""
    puller, _ = MODULES[plan.provider]
    reader = DEPENDENT_READERS.get(plan.provider)
    if reader is None:
        return {}
    causes: Causes = {}
    with svc.db.system() as session:
        for object_type, ids in sorted(deleted_ids.items()):
            kept = [
                puller.remote_object(object_type, loads(raw.payload))
                for raw in session.scalars(
                    by_key(session, plan, object_type, RawObject.external_id, ids)
                )
                if not raw.deleted
            ]
            causes[object_type] = reader.dependents(object_type, kept)
    return causes


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
