"""Writing what a provider said into the mirror: raw objects, unified records, change events.

``write_objects`` stores a page in four statements whatever its size: one read of the
content hashes (and records) the mirror holds for the page's keys, one upsert of the raw
objects that changed, one of their unified records, one insert of their ``record.*``
events. No ORM objects: the rows are built once, each payload encoded and hashed once.

Callers hold ``lock_mirror`` for the object type first and commit the transaction; a page
written again changes nothing (an unchanged content hash and tombstone flag is skipped).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
    Table,
    and_,
    bindparam,
    func,
    literal,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute, Session

from ledgerbridge.db.base import utcnow
from ledgerbridge.events.models import Event
from ledgerbridge.mirror import bulk
from ledgerbridge.mirror.encoding import dumps_as_is, encoded, loads
from ledgerbridge.providers.pulling import RemoteObject
from ledgerbridge.sync.models import RawObject, Record, SyncState
from ledgerbridge.unified import MODELS, Unified, record_columns

RAW = cast(Table, RawObject.__table__)
RECORDS = cast(Table, Record.__table__)
EVENTS = cast(Table, Event.__table__)
_RAW_KEY = ("connection_id", "object_type", "external_id")
_RECORD_KEY = ("connection_id", "object_type", "remote_id")


class Owner(Protocol):
    """Whose mirror: a connection of a tenant (a sync plan, a push job's target)."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def connection_id(self) -> int: ...


@dataclass(frozen=True)
class Target:
    tenant_id: str
    connection_id: int


class Mapper(Protocol):
    def to_unified(self, object_type: str, obj: RemoteObject) -> Unified: ...


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


def lock_mirror(session: Session, owner: Owner, object_type: str) -> SyncState:
    """The lock every writer of a connection's mirror of ``object_type`` takes first (its
    sync state row): a pull page and a push outcome writing the same raw objects and
    records then take turns instead of deadlocking on each other's rows."""
    query = select(SyncState).where(
        SyncState.connection_id == owner.connection_id, SyncState.object_type == object_type
    )
    state = session.scalars(query.with_for_update()).one_or_none()
    if state is None:
        state = SyncState(
            tenant_id=owner.tenant_id, connection_id=owner.connection_id, object_type=object_type
        )
        session.add(state)
        session.flush()
    return state


# --- what the mirror holds ----------------------------------------------------------------


@dataclass(frozen=True)
class Held:
    content_hash: str | None  # None: no raw object yet
    deleted: bool
    record_id: int | None  # None: no unified record yet


def held(session: Session, owner: Owner, object_type: str, ids: Sequence[str]) -> dict[str, Held]:
    """What the mirror holds for ``ids``, in one round trip."""
    if not ids:
        return {}
    return {
        external_id: Held(content_hash, bool(deleted), record_id)
        for external_id, content_hash, deleted, record_id in session.execute(
            held_query(session, owner, object_type, ids)
        )
    }


def held_query(session: Session, owner: Owner, object_type: str, ids: Sequence[str]) -> Any:
    """The ids as rows, each joined to its raw object and its record, both unique indexes
    probed with the whole key once per id. On PostgreSQL each probe is a ``LATERAL``
    subquery: with plain joins the planner trusts column statistics, stale while a first
    backfill grows the tables, and hashed every row of the object type for every page."""
    rows, key = bulk.wanted(session, ids)
    raw_where = (
        RAW.c.connection_id == owner.connection_id,
        RAW.c.object_type == object_type,
        RAW.c.external_id == key,
    )
    record_where = (
        RECORDS.c.connection_id == owner.connection_id,
        RECORDS.c.object_type == object_type,
        RECORDS.c.remote_id == key,
    )
    if not bulk.is_postgresql(session):
        return select(key, RAW.c.content_hash, RAW.c.deleted, RECORDS.c.id).select_from(
            rows.outerjoin(RAW, and_(*raw_where)).outerjoin(RECORDS, and_(*record_where))
        )
    raw = select(RAW.c.content_hash, RAW.c.deleted).where(*raw_where).limit(1).lateral("raw")
    record = select(RECORDS.c.id).where(*record_where).limit(1).lateral("record")
    return select(key, raw.c.content_hash, raw.c.deleted, record.c.id).select_from(
        rows.outerjoin(raw, true()).outerjoin(record, true())
    )


def by_key(
    session: Session,
    owner: Owner,
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
    if not bulk.is_postgresql(session):
        return select(entity).where(
            entity.connection_id == owner.connection_id,
            entity.object_type == object_type,
            key.in_(ids),
        )
    table = cast(Table, entity.__table__)
    return select(entity).where(keyed(session, owner, object_type, table, table.c[key.key], ids))


def keyed(
    session: Session,
    owner: Owner,
    object_type: str,
    table: Table,
    key: Any,
    ids: Sequence[str],
) -> ColumnElement[bool]:
    """``table``'s rows of the owner's ``object_type`` whose ``key`` is in ``ids``, as a
    condition that probes the unique index with the whole key (see ``by_key``)."""
    if not bulk.is_postgresql(session):  # any number of ids, as one parameter
        rows, value = bulk.wanted(session, ids)
        return and_(
            table.c.connection_id == owner.connection_id,
            table.c.object_type == object_type,
            key.in_(select(value).select_from(rows)),
        )
    wanted = select(
        literal(owner.connection_id, BigInteger),
        literal(object_type, String),
        func.unnest(literal(list(ids), ARRAY(String))),
    )
    return tuple_(table.c.connection_id, table.c.object_type, key).in_(wanted)


# --- writing ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mapped:
    """A provider object's unified record, and the columns of its row that come from it."""

    unified: Unified
    columns: dict[str, Any]


def mapped(unified: Unified) -> Mapped:
    model = model_name(unified)
    columns = {
        "remote_id": unified.remote_id,
        "model": model,
        "remote_updated_at": unified.remote_updated_at,
        "remote_was_deleted": unified.remote_was_deleted,
        "data": unified.model_dump_json(),
        **record_columns(model, vars(unified)),  # its fields, not copied
    }
    return Mapped(unified, columns)


@dataclass(frozen=True, slots=True)
class Encoded:
    """A provider object with its canonical JSON, that JSON's hash and its unified record,
    each made once, before the write transaction that stores them."""

    obj: RemoteObject
    payload: str
    digest: str
    mapped: Mapped


Page = dict[str, Encoded]  # by external id


def encode(objects: Iterable[RemoteObject], object_type: str, mapper: Mapper) -> Page:
    """The page's objects encoded and mapped once, by external id (the last of repeats
    wins). A pull does it for the page it reads ahead while the page before is written,
    and its write transaction is left with only the database's work."""
    return {
        obj.external_id: encode_one(obj, mapper.to_unified(object_type, obj)) for obj in objects
    }


def encode_one(obj: RemoteObject, unified: Unified) -> Encoded:
    payload, digest = encoded(obj.payload)
    return Encoded(obj, payload, digest, mapped(unified))


def changed(session: Session, owner: Owner, object_type: str, page: Page) -> list[RemoteObject]:
    """The page's objects that differ from what the mirror holds (content or tombstone)."""
    known = held(session, owner, object_type, list(page))
    return [e.obj for i, e in page.items() if _differs(known.get(i), e)]


def _differs(before: Held | None, new: Encoded) -> bool:
    return before is None or (before.content_hash, before.deleted) != (new.digest, new.obj.deleted)


def write_objects(
    session: Session,
    owner: Owner,
    object_type: str,
    page: Page,
    *,
    events: bool = True,
) -> Counts:
    """Upsert the raw objects that changed and their unified records; with ``events``,
    append one ``record.created`` / ``updated`` / ``deleted`` event for each."""
    counts = Counts(fetched=len(page))
    known = held(session, owner, object_type, list(page))
    now = utcnow()
    raw_rows: list[dict[str, Any]] = []
    changes: list[tuple[Mapped, str]] = []  # the unified record, and its change's kind
    for external_id, new in page.items():
        before = known.get(external_id)
        if not _differs(before, new):
            continue  # re-read in an overlap: not a change
        raw_rows.append(raw_row(owner, object_type, new, now))
        changes.append((new.mapped, _kind(before or Held(None, False, None), new.mapped.unified)))
    if not changes:
        return counts
    raw_ids = {
        external_id: raw_id
        for raw_id, external_id in bulk.upsert(
            session,
            RAW,
            raw_rows,
            key=_RAW_KEY,
            keep=("first_seen_at",),
            returning=("id", "external_id"),
        )
    }
    record_rows = [
        record_row(owner, object_type, record, raw_ids[record.unified.remote_id], now)
        for record, _ in changes
    ]
    written = bulk.upsert(
        session,
        RECORDS,
        record_rows,
        key=_RECORD_KEY,
        keep=("created_at",),
        returning=("id", "remote_id", "model"),
    )
    kinds = {record.unified.remote_id: kind for record, kind in changes}
    for _, remote_id, _ in written:
        kind = kinds[remote_id]
        counts.created += kind == "created"
        counts.updated += kind == "updated"
        counts.deleted += kind == "deleted"
    if events:
        append_changes(session, owner, [(kinds[r], i, m, r) for i, r, m in written], now)
    return counts


def _kind(before: Held, unified: Unified) -> str:
    if before.record_id is None:
        return "created"
    if unified.remote_was_deleted and not before.deleted:
        return "deleted"
    return "updated"


def raw_row(owner: Owner, object_type: str, new: Encoded, now: datetime) -> dict[str, Any]:
    obj = new.obj
    return {
        "tenant_id": owner.tenant_id,
        "connection_id": owner.connection_id,
        "object_type": object_type,
        "external_id": obj.external_id,
        "payload": new.payload,
        "content_hash": new.digest,
        "remote_updated_at": obj.updated_at,
        "remote_version": obj.version,
        "deleted": obj.deleted,
        "first_seen_at": now,
        "last_seen_at": now,
        "changed_at": now,
    }


def record_row(
    owner: Owner, object_type: str, record: Mapped, raw_object_id: int | None, now: datetime
) -> dict[str, Any]:
    """Every column of a unified record's row: the one place that says what ``records``
    holds of it, with ``mapped`` (an upsert replaces all but the key and ``created_at``)."""
    return {
        "tenant_id": owner.tenant_id,
        "connection_id": owner.connection_id,
        "object_type": object_type,
        "raw_object_id": raw_object_id,
        **record.columns,
        "created_at": now,
        "updated_at": now,
    }


def model_name(unified: Unified) -> str:
    return _MODEL_NAMES[type(unified)]


_MODEL_NAMES = {cls: model.value for model, cls in MODELS.items()}


def append_changes(
    session: Session,
    owner: Owner,
    changes: Sequence[tuple[str, int, str, str | None]],
    now: datetime | None = None,
) -> None:
    """One ``record.<kind>`` event per (kind, record id, model, remote id), in one insert."""
    at = now or utcnow()
    rows = [
        {
            "tenant_id": owner.tenant_id,
            "type": f"record.{kind}",
            "subject": f"record:{record_id}",
            "data": {
                "model": model,
                "record_id": str(record_id),
                "remote_id": remote_id,
                "connection_id": str(owner.connection_id),
            },
            "created_at": at,
        }
        for kind, record_id, model, remote_id in changes
    ]
    bulk.upsert(session, EVENTS, rows)


def mark_seen(session: Session, owner: Owner, object_type: str, ids: Sequence[str]) -> None:
    """A full pass listed these: they exist (``last_seen_at``), in one statement."""
    if not ids:
        return
    session.connection().execute(
        update(RAW)
        .where(keyed(session, owner, object_type, RAW, RAW.c.external_id, ids))
        .values(last_seen_at=utcnow())
    )


def mark_deleted(
    session: Session,
    owner: Owner,
    object_type: str,
    ids: Sequence[str],
    *,
    events: bool = True,
) -> int:
    """The provider no longer has these: their raw objects are flagged (the last full
    payload is kept) and their records say ``remote_was_deleted``; one ``record.deleted``
    event each. Objects already flagged are left alone. Returns how many were flagged."""
    if not ids:
        return 0
    now = utcnow()
    flagged = (
        session.connection()
        .execute(
            update(RAW)
            .where(
                keyed(session, owner, object_type, RAW, RAW.c.external_id, ids),
                RAW.c.deleted.is_(False),
            )
            .values(deleted=True, changed_at=now)
            .returning(RAW.c.external_id)
        )
        .all()
    )
    gone = [external_id for (external_id,) in flagged]
    if not gone:
        return 0
    records = (
        session.connection()
        .execute(
            select(RECORDS.c.id, RECORDS.c.remote_id, RECORDS.c.model, RECORDS.c.data).where(
                keyed(session, owner, object_type, RECORDS, RECORDS.c.remote_id, gone)
            )
        )
        .all()
    )
    changes, rewritten = [], []
    for record_id, remote_id, model, data in records:
        unified = loads(data)
        unified["remote_was_deleted"] = True
        rewritten.append({"record": record_id, "rewritten": dumps_as_is(unified)})
        changes.append(("deleted", record_id, model, remote_id))
    if rewritten:
        session.connection().execute(
            update(RECORDS)
            .where(RECORDS.c.id == bindparam("record"))
            .values(data=bindparam("rewritten"), remote_was_deleted=True, updated_at=now),
            rewritten,
        )
    if events:
        append_changes(session, owner, changes, now)
    return len(gone)
