"""Pulling a QuickBooks Online company: incremental, resumable pages of each entity.

**Listing.** Every entity is read with the query endpoint, oldest change first::

    SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '<since>'
      ORDERBY MetaData.LastUpdatedTime STARTPOSITION <position> MAXRESULTS <page size>

Name lists (Customer, Vendor, Item, Account) add ``Active IN (true, false)``: QuickBooks
never deletes them, it deactivates them, and a plain query hides inactive ones. An
inactive record is a tombstone (``deleted=True``); reactivated, it comes back alive.

**Cursor** (JSON)::

    {"since": "2024-06-01T10:00:00-07:00" | null,       # lower bound of the next query
     "strict": true,                                     # (optional) bound is exclusive: >
     "position": 1,                                      # its STARTPOSITION (1-based)
     "high_water": "2024-06-01T10:00:00-07:00" | null,   # every change before it was read
     "tie": {...}}                                       # (optional) reading a tie group

Times are kept as QuickBooks wrote them (company time, to the second).

**Why no record can be skipped.** A query answer is one consistent slice of the listing
in change order, and a record that changes moves to the end of it. After a page whose
newest record is later than ``since``, the next query starts at that record's second,
inclusive, at position 1: every record up to it was in the answer, and those sharing its
second are read again. Only a group sharing one second and larger than a page must be
paged by ``STARTPOSITION`` (QuickBooks' query has no ``OR``, so no ``(time, Id)``
position can be expressed). There, a member already read that changes shifts the rest of
the group up by one, and the member moved onto the page already read would be lost. So
such a group is read again from its start in pages of 1,000: one answer that holds the
whole group is a consistent read by itself; a larger group is read whole, again and
again, until two consecutive reads find the same members (``pulling.tie_settled`` says
why that proves nothing was skipped; a group that keeps changing for ``MAX_TIE_READS``
reads fails the run rather than skip); only then does the query move past its second
(``>``, ``"strict"``), and ``high_water``, from which a later run starts, never passes a
group not yet read consistently. A group stamped in the very second the run reads it may
still grow: the next run's overlap reads it again.

``start`` begins a run ``overlap`` before the saved high-water mark, once per run.
``position`` is the high-water mark, which never moves back, not even while a run re-reads
the overlap. With nothing changed a run costs one request per entity.

**Deletions.** Transactions (Invoice, Bill, Payment, PurchaseOrder) are deleted for good:
the listing stops showing them, and only change data capture (``/cdc``) reports them, as
``{"status": "Deleted"}`` stubs, for at most 30 days (``fetch_tombstones``). A voided
invoice or payment is not deleted: it stays, with zero amounts. Nothing vanishes without
a tombstone, so there is nothing to sweep.

**Derived fields.** QuickBooks keeps a customer's (vendor's) ``Balance`` and
``BalanceWithJobs`` the sum of its open invoices (bills) without moving the customer's
``LastUpdatedTime`` or ``SyncToken``: paying, voiding or deleting an invoice changes the
customer unseen. ``DEPENDENTS`` names, per transaction, the records whose fields it
moves; the engine re-reads those (``fetch_by_ids``, batched) with any page where such a
transaction changed, and with the deletions change data capture reports. Transactions are
pulled before customers and vendors (``OBJECT_TYPES`` order): a transaction deleted
before a run read it moved a balance the run reads afterwards.

**A lapsed window.** Change data capture reaches back 30 days (``TOMBSTONE_WINDOW``).
Asked for older changes, ``fetch_tombstones`` raises ``TombstoneWindowLapsed`` (before
calling, by our clock; or when QuickBooks refuses ``changedSince``), and the engine starts
the full pass that finds what was deleted in between.

**Adding an entity**: an ``ObjectType`` in ``OBJECT_TYPES`` (and its name in
``NAME_LISTS`` if QuickBooks deactivates rather than deletes it), and a mapper in
``mapping.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ledgerbridge.providers.answers import get_checked, require
from ledgerbridge.providers.pulling import (
    Cursor,
    FetchedPage,
    ObjectType,
    ProviderError,
    RemoteObject,
    TombstoneWindowLapsed,
    tie_add,
    tie_again,
    tie_reading,
    tie_settled,
)
from ledgerbridge.providers.quickbooks.errors import read_json
from ledgerbridge.unified import Model

# In pulling order: transactions before the customers and vendors whose balances they
# move, so a transaction deleted before a backfill reads it is already counted out of the
# balance the backfill then reads.
OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType("Invoice", Model.invoice),
        ObjectType("Bill", Model.invoice),
        ObjectType("Payment", Model.payment),
        ObjectType("PurchaseOrder", Model.purchase_order),
        ObjectType("Customer", Model.contact),
        ObjectType("Vendor", Model.contact),
        ObjectType("Item", Model.item),
        ObjectType("Account", Model.account),
    )
}
NAME_LISTS = frozenset({"Customer", "Vendor", "Item", "Account"})
# Transaction -> (entity, reference) whose derived fields (balances) it moves unseen.
DEPENDENTS: dict[str, tuple[str, str]] = {
    "Invoice": ("Customer", "CustomerRef"),
    "Payment": ("Customer", "CustomerRef"),
    "Bill": ("Vendor", "VendorRef"),
}
TOMBSTONE_WINDOW = timedelta(days=30)  # how far back change data capture reaches
BY_ID_BATCH = 100  # ids per ``Id IN (...)`` query

MINOR_VERSION = "75"
MAX_RESULTS = 1000  # QuickBooks' largest page, also the default: fewer calls
TIE_PAGE_SIZE = MAX_RESULTS  # pages of a group sharing one second
CDC_MAX_OBJECTS = 1000  # one change-data-capture answer holds at most this many, in all
LAST_UPDATED = "MetaData.LastUpdatedTime"

Record = dict[str, Any]


def start(saved: Cursor | None, overlap: timedelta) -> Cursor:
    """Where a run begins: the beginning, or ``overlap`` before the saved high-water mark."""
    high_water = saved.get("high_water") if saved else None
    if high_water is None:
        return {"since": None, "position": 1, "high_water": None}
    moment = parse_time(high_water)  # keeps QuickBooks' offset, so the query reads alike
    since = (moment - overlap).replace(microsecond=0).isoformat()
    return {"since": since, "position": 1, "high_water": high_water}


def position(cursor: Cursor) -> tuple[Any, ...]:
    """The high-water mark in epoch seconds (-1 before anything was seen)."""
    high_water = cursor.get("high_water")
    return (-1,) if high_water is None else (int(parse_time(high_water).timestamp()),)


async def fetch_page(
    http: httpx.AsyncClient, object_type: str, cursor: Cursor, *, page_size: int | None = None
) -> FetchedPage:
    """One query: the records changed since the cursor, oldest change first."""
    entity = _entity(object_type)
    size = max(1, min(page_size or MAX_RESULTS, MAX_RESULTS))
    if cursor.get("tie") is not None:
        size = TIE_PAGE_SIZE  # a tie group is read in the largest pages: fewest, or one
    strict = bool(cursor.get("strict")) and cursor.get("tie") is None
    since, start_position = cursor.get("since"), int(cursor.get("position", 1))
    query = _select(entity, since, start_position, size, strict=strict)
    body = await _get(http, "query", {"query": query})
    records: list[Record] = body.get("QueryResponse", {}).get(entity) or []
    next_cursor, done = _next_cursor(entity, cursor, records, size)
    return FetchedPage([_remote_object(record) for record in records], next_cursor, done)


async def sweep_ids(http: httpx.AsyncClient, object_type: str) -> set[str]:
    """Never needed: QuickBooks deactivates name lists and reports deleted transactions
    through change data capture (``fetch_tombstones``)."""
    entity = _entity(object_type)
    raise ValueError(f"QuickBooks {entity} records leave tombstones: there is nothing to sweep")


async def fetch_tombstones(
    http: httpx.AsyncClient, object_types: Sequence[str], since: datetime
) -> list[tuple[str, RemoteObject]]:
    """The transactions deleted since ``since``: change data capture's ``Deleted`` stubs.

    QuickBooks keeps them for 30 days; an older ``since`` is refused (``ProviderError``),
    and only a full pass can tell what went in between.
    """
    entities = [e for e in map(_entity, object_types) if e not in NAME_LISTS]
    if not entities:
        return []
    since = _utc(since)
    if since < datetime.now(UTC) - TOMBSTONE_WINDOW + timedelta(minutes=1):
        raise TombstoneWindowLapsed(
            400,
            "Change data capture keeps 30 days",
            [f"changedSince {_iso(since)} is more than 30 days in the past"],
        )
    try:
        changed = await _changes(http, entities, since)
    except ProviderError as error:
        text = " ".join([error.message, *error.details])
        if error.status == 400 and "changedSince" in text:  # our dates are valid: too old
            raise TombstoneWindowLapsed(400, error.message, error.details, error.code) from error
        raise
    if sum(map(len, changed.values())) >= CDC_MAX_OBJECTS:
        # The answer was cut short: read each entity on its own, moving on through time.
        changed = {entity: await _all_changes(http, entity, since) for entity in entities}
    return [
        (entity, _remote_object(record))
        for entity, records in changed.items()
        for record in records
        if _is_stub(record)
    ]


def dependents(object_type: str, objects: Sequence[RemoteObject]) -> dict[str, set[str]]:
    """The records whose derived fields these transactions move, by entity."""
    found = DEPENDENTS.get(object_type)
    if found is None:
        return {}
    entity, ref = found
    ids = {str(o.payload[ref]["value"]) for o in objects if isinstance(o.payload.get(ref), dict)}
    return {entity: ids} if ids else {}


async def fetch_by_ids(
    http: httpx.AsyncClient, object_type: str, ids: Sequence[str]
) -> list[RemoteObject]:
    """The records with these ids as they are now (inactive name-list records included)."""
    entity = _entity(object_type)
    wanted = sorted(set(ids), key=lambda i: (len(i), i))
    found: list[RemoteObject] = []
    for start in range(0, len(wanted), BY_ID_BATCH):
        batch = wanted[start : start + BY_ID_BATCH]
        conditions = ["Active IN (true, false)"] if entity in NAME_LISTS else []
        conditions.append("Id IN ({})".format(", ".join(f"'{int(i)}'" for i in batch)))
        query = f"SELECT * FROM {entity} WHERE {' AND '.join(conditions)} MAXRESULTS {MAX_RESULTS}"
        body = await _get(http, "query", {"query": query})
        found += map(_remote_object, body.get("QueryResponse", {}).get(entity) or [])
    return found


# --- requests ------------------------------------------------------------------------


async def _get(http: httpx.AsyncClient, path: str, params: dict[str, str]) -> Record:
    """An answer checked to hold what ``path`` answers (a query with no rows still has its
    ``QueryResponse``); asked again, then a provider error, if it does not."""
    key, kind = _ANSWERS[path]

    def read(response: httpx.Response) -> Record:
        body = read_json(response)
        require(body, key, kind, f"QuickBooks {path}")
        return body

    return await get_checked(http, path, read, params={**params, "minorversion": MINOR_VERSION})


_ANSWERS: dict[str, tuple[str, type]] = {
    "query": ("QueryResponse", dict),
    "cdc": ("CDCResponse", list),
}


def _select(
    entity: str, since: str | None, start_position: int, size: int, *, strict: bool = False
) -> str:
    conditions = ["Active IN (true, false)"] if entity in NAME_LISTS else []
    if since is not None:
        conditions.append(f"{LAST_UPDATED} {'>' if strict else '>='} '{since}'")
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return (
        f"SELECT * FROM {entity}{where} ORDERBY {LAST_UPDATED} "
        f"STARTPOSITION {start_position} MAXRESULTS {size}"
    )


async def _changes(
    http: httpx.AsyncClient, entities: list[str], since: datetime
) -> dict[str, list[Record]]:
    """One change-data-capture call: each entity's changes and stubs, oldest first."""
    params = {"entities": ",".join(entities), "changedSince": _iso(since)}
    body = await _get(http, "cdc", params)
    changed: dict[str, list[Record]] = {entity: [] for entity in entities}
    for capture in body.get("CDCResponse") or []:
        for answer in capture.get("QueryResponse") or []:
            for entity, records in answer.items():
                if entity in changed and isinstance(records, list):
                    changed[entity].extend(records)
    return changed


async def _all_changes(http: httpx.AsyncClient, entity: str, since: datetime) -> list[Record]:
    """Every change of one entity since then, however many: full answers are followed
    from their newest change (re-read, then kept once)."""
    found: dict[str, Record] = {}
    while True:
        records = (await _changes(http, [entity], since))[entity]
        found.update((str(record["Id"]), record) for record in records)
        if len(records) < CDC_MAX_OBJECTS:
            return list(found.values())
        newest = max(_updated_at(record) for record in records)
        if newest <= since:
            raise ProviderError(
                200,
                f"More than {CDC_MAX_OBJECTS} {entity} changes share one second: "
                "change data capture cannot page through them",
            )
        since = newest


# --- records and cursors -------------------------------------------------------------


def _remote_object(record: Record) -> RemoteObject:
    token = record.get("SyncToken")
    return RemoteObject(
        external_id=str(record["Id"]),
        payload=record,
        updated_at=_updated_at(record),
        version=None if token is None else str(token),
        deleted=_is_stub(record) or record.get("Active") is False,
    )


def _is_stub(record: Record) -> bool:
    return record.get("status") == "Deleted"


def _next_cursor(
    entity: str, cursor: Cursor, records: list[Record], size: int
) -> tuple[Cursor, bool]:
    """The cursor after a page of ``records``, and whether the run is done."""
    since, high_water = cursor.get("since"), cursor.get("high_water")
    full = len(records) >= size
    position_after = int(cursor.get("position", 1)) + len(records)
    tie = cursor.get("tie")
    if tie is not None:  # reading a group larger than a page that shares one second
        at = parse_time(tie["at"])
        members = [r for r in records if parse_time(_time_of(r)) == at]
        tie = tie_add(tie, [str(r["Id"]) for r in members])
        if full and len(members) == len(records):  # the group goes on
            return {**_at(since, high_water), "position": position_after, "tie": tie}, False
        if tie_settled(tie) or int(cursor.get("position", 1)) == 1:  # or read in one answer
            newest = _latest(high_water, *map(_time_of, records))
            return {**_at(tie["at"], newest), "strict": True}, False
        return {**_at(tie["at"], high_water), "tie": tie_again(tie, entity)}, False
    if not records:
        return cursor, True
    newest = _latest(None, *map(_time_of, records))
    assert newest is not None
    if not full:
        return _at(newest, _latest(high_water, newest)), True
    if since is None or cursor.get("strict") or parse_time(newest) > parse_time(since):
        return _at(newest, _latest(high_water, newest)), False
    # A whole page sharing the second ``since``: a group larger than a page, read again
    # from its start in the largest pages.
    return {**_at(since, _latest(high_water, since)), "tie": tie_reading(since)}, False


def _at(since: str | None, high_water: str | None) -> Cursor:
    return {"since": since, "position": 1, "high_water": high_water}


def _time_of(record: Record) -> str:
    text: str = record["MetaData"]["LastUpdatedTime"]
    return text


def _latest(first: str | None, *others: str) -> str | None:
    """The latest of these QuickBooks times (``first`` may be None)."""
    times = [t for t in (first, *others) if t is not None]
    return max(times, key=parse_time, default=None)


def _updated_at(record: Record) -> datetime:
    return _utc(parse_time(record["MetaData"]["LastUpdatedTime"]))


def parse_time(text: str) -> datetime:
    """A QuickBooks date-time (``2015-07-24T10:33:39-07:00``), aware; UTC if it has no offset."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso(moment: datetime) -> str:
    return _utc(moment).isoformat(timespec="seconds")


def _entity(object_type: str) -> str:
    if object_type not in OBJECT_TYPES:
        raise ValueError(f"Unknown QuickBooks object type {object_type!r}")
    return object_type


def remote_object(object_type: str, record: Record) -> RemoteObject:
    """One record as pull sees it (tombstone flag included), e.g. a record push just wrote."""
    return _remote_object(record)
