"""The event feed: every committed event exactly once, in one stable order.

A reader pages with ``after=<the id of the last event it has>`` and must see each event
that ever commits exactly once, even though transactions commit in any order. Ids alone
cannot promise that on PostgreSQL: an id is taken when the row is inserted, long before
its transaction commits, so a reader that has seen id 2 while id 1's transaction was still
open would never see 1.

**The order** is ``(xid, id)``: ``xid`` is the writing transaction's id
(``pg_current_xact_id()``, the column's server default), so one transaction's events are
contiguous and in insertion order.

**The horizon.** A page holds only events whose ``xid`` is below the oldest transaction
of this database still running (from ``pg_current_snapshot()``): every transaction below
it has committed or rolled back, so nothing can appear there any more. Any transaction
that commits later has an ``xid`` at or above that horizon, so its events sort after every
event already served: none is skipped, none served twice. The price is latency, not
correctness: an event waits until every older writing transaction of the database has
finished (a transaction that has written nothing holds no xid and never delays it).

**SQLite** writes one transaction at a time (each takes the database's write lock before
it inserts, and keeps it until it commits), so ids are taken and committed in the same
order; ``xid`` is 0 everywhere and the order is the id's.

``after`` is an event id, as it was before: the feed looks up that event's position and
continues after it. An id the tenant never had (or an event already pruned by retention)
is refused (``UnknownPosition``) rather than guessed at.

``read_after`` is the one question every consumer asks (the HTTP feed, and deliverers such
as webhooks): "which events are safely visible after this one?"
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Select, select, text, tuple_
from sqlalchemy.orm import Session

from ledgerbridge.db.engine import Database
from ledgerbridge.events.models import Event

# The oldest transaction that may still add events: the oldest one running in this
# database when the snapshot was taken (or the snapshot's xmax when none is). Transactions
# of other databases on the server cannot write our events, so they are left out: those
# whose transaction-id lock is held by a backend of another database. One that ended
# between the snapshot and that lookup is not found, and so still counts: the horizon can
# only err low (later), never high.
_HORIZON = text(
    """
    WITH s AS MATERIALIZED (SELECT pg_current_snapshot() AS snap),
    elsewhere AS (
        SELECT l.transactionid::text::bigint AS xid32
        FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
        WHERE l.locktype = 'transactionid' AND a.datname IS DISTINCT FROM current_database()
    )
    SELECT least(
        (SELECT pg_snapshot_xmax(snap)::text::bigint FROM s),
        (SELECT min(x::text::bigint) FROM s, pg_snapshot_xip(s.snap) AS x
         WHERE x::text::bigint % 4294967296 NOT IN (SELECT xid32 FROM elsewhere))
    )
    """
)


def horizon(session: Session) -> int:
    """Every transaction below this id that could write events has finished."""
    value = session.scalar(_HORIZON)
    assert value is not None
    return int(value)


class UnknownPosition(LookupError):
    """``after`` names no event of this tenant: never issued, or pruned by retention."""


def position_of(session: Session, event_id: int) -> tuple[int, int]:
    """The feed position of event ``event_id`` (0 is the start of the feed)."""
    if event_id == 0:
        return (-1, 0)
    xid = session.scalar(select(Event.xid).where(Event.id == event_id))
    if xid is None:
        raise UnknownPosition(f"event {event_id} is not in the feed")
    return (xid, event_id)


def read_after(
    session: Session, after: int, limit: int, types: list[str] | None = None
) -> list[Event]:
    """Up to ``limit`` events after event ``after`` (0: from the start) that are safely
    visible: committed, and never to be preceded by an event committed later."""
    position = position_of(session, after)
    below = horizon(session) if session.get_bind().dialect.name == "postgresql" else None
    return list(session.scalars(feed_query(position, limit, types, below)))


def feed_query(
    position: tuple[int, int],
    limit: int,
    types: list[str] | None = None,
    below: int | None = None,
) -> Select[Event]:
    """The events after ``position`` in feed order, on PostgreSQL only those written below
    the ``below`` horizon (the tenant is added by the session; ``ix_events_feed`` serves
    it). The horizon is read first, in a statement of its own: whatever was finished then
    is visible to this later statement too."""
    xid, event_id = position
    query = select(Event)
    if below is not None:
        query = query.where(tuple_(Event.xid, Event.id) > tuple_(xid, event_id))
        query = query.where(Event.xid < below)
    else:  # writers take turns: ids commit in order (xid is always 0)
        query = query.where(Event.xid == 0, Event.id > event_id)
    if types:
        query = query.where(Event.type.in_(types))
    return query.order_by(Event.xid, Event.id).limit(limit)


def events_after(
    db: Database, tenant_id: str, after: int, batch: int = 100, types: list[str] | None = None
) -> Iterator[Event]:
    """Every event of ``tenant_id`` safely visible after event ``after``, in feed order,
    read a page at a time (one short transaction each), until caught up."""
    while True:
        with db.tenant(tenant_id, read_only=True) as session:
            page = read_after(session, after, batch, types)
        yield from page
        if len(page) < batch:
            return
        after = page[-1].id
