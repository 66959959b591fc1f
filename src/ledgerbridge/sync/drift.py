"""The drift audit: every object type of every connection re-read in full, now and then.

Incremental sync sees what a provider's change stamps show. What they do not show (a field
changed without its timestamp moving, a record stamped with a time long past, a deletion no
feed reported, a record lost by a bug of ours) stays wrong in the mirror until something
reads everything again. The audit is that reading: an ordinary full pass of the engine
(``sync_runs.trigger = "audit"``), whose every page is compared with the mirror by content
hash and repaired through the engine's one write path (changed, missing locally, gone at
the provider; a pass listing far fewer objects than the mirror holds marks none deleted).
What it found and repaired is kept per object type on ``sync_states`` and announced by a
``mirror.drift_repaired`` event.

It never starves incremental syncs: each (connection, type) has its own slot in the audit
period, spread evenly over it (``due``); audit runs wait behind a connection's other runs
in its queue (lower priority); their calls are taken only while the account has used less
than ``drift_audit_budget_share`` of each budget window, and a run over its slice that sees
a sync waiting gives its queue slot back. Either way the audit is deferred and continues
later from its saved cursor, never failed.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from ledgerbridge.connections.models import Connection
from ledgerbridge.events.service import append
from ledgerbridge.providers import Provider, budget
from ledgerbridge.services import Services
from ledgerbridge.sync.catalog import object_types
from ledgerbridge.sync.models import RawObject, SyncRun, SyncState, SyncStatus
from ledgerbridge.sync.service import AUDIT_TRIGGER, enqueue, request_sync, scheduled_connections

__all__ = ["AUDIT_TRIGGER", "lane", "queue_due_audits", "record", "report"]

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # slots are counted from here (a Monday)
GOLDEN = 0.6180339887498949  # n * GOLDEN mod 1 spreads consecutive n evenly over [0, 1)
RETRY_FAILED_AFTER = timedelta(hours=1)  # a failed audit is asked again no sooner
RECENT_FAILURES = timedelta(days=1)  # how far back (by request) failed audits are looked for
GIVE_WAY_CHECK_SECONDS = 5.0
UNFINISHED = (SyncStatus.queued, SyncStatus.syncing, SyncStatus.deferred)


# --- when: each (connection, type) has its own slot in the period ------------------------


def phase(connection_id: int, type_index: int) -> float:
    """Where in the period this connection's type is audited, as a fraction of it: a
    low-discrepancy sequence, so consecutive connections (and a connection's types) land
    far apart, and any stretch of the period holds its fair share of audits."""
    return ((connection_id * 16 + type_index) * GOLDEN) % 1.0


def slot(connection_id: int, type_index: int, now: datetime, period: timedelta) -> datetime:
    """The latest moment at or before ``now`` when this type's audit falls due."""
    offset = phase(connection_id, type_index) * period
    periods = (now - EPOCH - offset) // period
    return EPOCH + offset + periods * period


@dataclass(frozen=True)
class Candidate:
    connection_id: int
    object_type: str
    type_index: int  # the type's place in its provider's list
    since: datetime  # its last audit, or when the connection was made


def due(candidates: Iterable[Candidate], now: datetime, period: timedelta) -> dict[int, list[str]]:
    """The types to audit now, by connection: those whose slot has come since ``since``.

    Every type is audited once per period (at most ``period`` after its previous audit,
    plus however long the queue and budget make it wait), and a new connection's first
    audit comes at its first slot, not at once.
    """
    chosen: dict[int, list[str]] = defaultdict(list)
    for c in candidates:
        if slot(c.connection_id, c.type_index, now, period) > c.since:
            chosen[c.connection_id].append(c.object_type)
    return dict(chosen)


def queue_due_audits(svc: Services, now: datetime) -> int:
    """Queue an audit run for each connection with types due (one run per connection:
    none while its previous audit is unfinished, or failed within the last hour)."""
    if not svc.settings.drift_audit_enabled:
        return 0
    period = timedelta(days=svc.settings.drift_audit_days)
    queued: list[SyncRun] = []
    with svc.db.system() as session:
        connections = {c.id: c for c, _ in session.execute(scheduled_connections()).all()}
        busy = _audits_in_hand(session, now)
        candidates = []
        for state in session.scalars(
            select(SyncState).where(
                SyncState.connection_id.in_(list(connections)),
                SyncState.last_succeeded_at.is_not(None),
            )
        ):
            connection = connections[state.connection_id]
            names = list(object_types(Provider(connection.provider)))
            if state.connection_id in busy or state.object_type not in names:
                continue
            since = _utc(state.last_audit_at or connection.created_at)
            candidates.append(
                Candidate(
                    state.connection_id,
                    state.object_type,
                    names.index(state.object_type),
                    since,
                )
            )
        for connection_id, types in due(candidates, now, period).items():
            run, created = request_sync(
                session,
                connections[connection_id],
                wanted=types,
                full_resync=True,
                trigger=AUDIT_TRIGGER,
                requested_by="drift audit",
            )
            if created:
                queued.append(run)
    for run in queued:
        enqueue(svc, run)
    return len(queued)


def _audits_in_hand(session: Session, now: datetime) -> set[int]:
    """Connections whose audit is unfinished, or failed too recently to try again (both
    read through ``ix_sync_runs_status_created``, never a pass over every run kept)."""
    unfinished = select(SyncRun.connection_id).where(
        SyncRun.status.in_(UNFINISHED), SyncRun.trigger == AUDIT_TRIGGER
    )
    failed = select(SyncRun.connection_id).where(
        SyncRun.status == SyncStatus.failed,
        SyncRun.created_at > now - RECENT_FAILURES,
        SyncRun.trigger == AUDIT_TRIGGER,
        SyncRun.finished_at > now - RETRY_FAILED_AFTER,
    )
    return set(session.scalars(unfinished)) | set(session.scalars(failed))


# --- how: the audit's calls, in the background lane ---------------------------------------


def lane(svc: Services, trigger: str, connection_id: int) -> AbstractContextManager[None]:
    """For an audit run: its calls within the share of the budget audits may use, and
    giving way to a waiting sync once it has run its slice. Other runs: nothing."""
    if trigger != AUDIT_TRIGGER:
        return nullcontext()
    return _background(svc, connection_id)


@contextmanager
def _background(svc: Services, connection_id: int) -> Iterator[None]:
    started = time.monotonic()
    last_check = 0.0

    def give_way() -> str | None:
        nonlocal last_check
        moment = time.monotonic()
        if moment - started < svc.settings.drift_audit_slice_seconds:
            return None
        if moment - last_check < GIVE_WAY_CHECK_SECONDS:
            return None
        last_check = moment
        if _sync_waiting(svc, connection_id):
            return "the drift audit gives way to a sync waiting for this connection"
        return None

    share = svc.settings.drift_audit_budget_share
    with budget.background(budget.Lane(share, give_way)):
        yield


def _sync_waiting(svc: Services, connection_id: int) -> bool:
    with svc.db.system(read_only=True) as session:
        return bool(
            session.scalar(
                select(
                    exists().where(
                        SyncRun.connection_id == connection_id,
                        SyncRun.status == SyncStatus.queued,
                        SyncRun.trigger != AUDIT_TRIGGER,
                    )
                )
            )
        )


# --- what it found ------------------------------------------------------------------------


def record(
    session: Session, run_id: int, state: SyncState, repaired: int, started: datetime
) -> None:
    """At the end of an audit's full pass over ``state``'s type (in its transaction): the
    objects compared, the differences found and those repaired.

    Compared: every object the pass listed, and every object the mirror held as live
    (those it did not list are gone, or, when too many to believe, kept and still live:
    drift found but not repaired). Repaired: every change the pass applied (objects
    created, updated or marked deleted, and the records whose derived fields they moved).
    """
    mirror = (
        RawObject.connection_id == state.connection_id,
        RawObject.object_type == state.object_type,
    )
    checked = session.scalar(
        select(func.count())
        .select_from(RawObject)
        .where(
            *mirror,
            or_(
                RawObject.last_seen_at >= started,
                RawObject.deleted.is_(False),
                RawObject.changed_at >= started,
            ),
        )
    )
    kept = session.scalar(  # unlisted, but too many to believe gone (see the engine)
        select(func.count())
        .select_from(RawObject)
        .where(*mirror, RawObject.deleted.is_(False), RawObject.last_seen_at < started)
    )
    state.last_audit_at = started
    state.last_audit_run_id = run_id
    state.audit_checked = checked or 0
    state.audit_repaired = repaired
    state.audit_drifted = repaired + (kept or 0)
    state.audit_checked_total += state.audit_checked
    state.audit_drifted_total += state.audit_drifted
    state.audit_repaired_total += state.audit_repaired


def report(session: Session, run: SyncRun) -> None:
    """When the audit run ends: a ``mirror.drift_repaired`` event with its counts, if it
    repaired anything."""
    states = session.scalars(
        select(SyncState)
        .where(SyncState.last_audit_run_id == run.id)
        .order_by(SyncState.object_type)
    ).all()
    if not any(s.audit_repaired for s in states):
        return
    append(
        session,
        run.tenant_id,
        "mirror.drift_repaired",
        f"connection:{run.connection_id}",
        connection_id=str(run.connection_id),
        sync_run_id=str(run.id),
        checked=sum(s.audit_checked for s in states),
        drifted=sum(s.audit_drifted for s in states),
        repaired=sum(s.audit_repaired for s in states),
        object_types={
            s.object_type: {
                "checked": s.audit_checked,
                "drifted": s.audit_drifted,
                "repaired": s.audit_repaired,
            }
            for s in states
        },
    )


def totals(session: Session) -> list[tuple[str, str, int, int, int]]:
    """Every audit's counts so far, by provider and object type (for ``/metrics``)."""
    rows = session.execute(
        select(
            Connection.provider,
            SyncState.object_type,
            func.sum(SyncState.audit_checked_total),
            func.sum(SyncState.audit_drifted_total),
            func.sum(SyncState.audit_repaired_total),
        )
        .join(Connection, Connection.id == SyncState.connection_id)
        .where(SyncState.last_audit_at.is_not(None))
        .group_by(Connection.provider, SyncState.object_type)
        .order_by(Connection.provider, SyncState.object_type)
    ).all()
    return [(str(p), t, int(c or 0), int(d or 0), int(r or 0)) for p, t, c, d, r in rows]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
