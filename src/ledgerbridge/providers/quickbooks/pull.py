"""Pulling a QuickBooks Online company: incremental, resumable pages of each entity.

**Listing.** Every entity is read with the query endpoint, oldest change first::

    SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '<since>'
      ORDERBY MetaData.LastUpdatedTime STARTPOSITION <position> MAXRESULTS <page size>

Name lists (Customer, Vendor, Item, Account) add ``Active IN (true, false)``: QuickBooks
never deletes them, it deactivates them, and a plain query hides inactive ones. An
inactive record is a tombstone (``deleted=True``); reactivated, it comes back alive.

**Cursor** (JSON)::

    {"since": "2024-06-01T10:00:00-07:00" | null,       # lower bound of the next query
     "position": 1,                                      # its STARTPOSITION (1-based)
     "high_water": "2024-06-01T10:00:00-07:00" | null}   # newest LastUpdatedTime handed over

Times are kept as QuickBooks wrote them (company time, to the second). After a page whose
newest record is later than ``since``, the next page starts at position 1 of the query
from that record's time (re-reading the records that share it); when a whole page shares
``since``, the next page is the next position of the same query. A page shorter than the
page size ends the run. So no record is skipped when more records share one second than
fit in a page, and a record that changes while a run pages moves to the end of the
listing, where the run still finds it. (One case is left: inside a group sharing one
second and larger than a page, a record already read that changes before the next page
shifts the rest of the group up by one; QuickBooks' rate limits make such groups unlikely
at the default page size of 1,000.)

``start`` begins a run ``overlap`` before the saved high-water mark, once per run.
``position`` is the high-water mark, which never moves back, not even while a run re-reads
the overlap. With nothing changed a run costs one request per entity.

**Deletions.** Transactions (Invoice, Bill, Payment, PurchaseOrder) are deleted for good:
the listing stops showing them, and only change data capture (``/cdc``) reports them, as
``{"status": "Deleted"}`` stubs, for at most 30 days (``fetch_tombstones``). A voided
invoice or payment is not deleted: it stays, with zero amounts. Nothing vanishes without
a tombstone, so there is nothing to sweep.

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
)
from ledgerbridge.providers.quickbooks.errors import read_json
from ledgerbridge.unified import Model

OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType("Customer", Model.contact),
        ObjectType("Vendor", Model.contact),
        ObjectType("Invoice", Model.invoice),
        ObjectType("Bill", Model.invoice),
        ObjectType("Payment", Model.payment),
        ObjectType("Item", Model.item),
        ObjectType("Account", Model.account),
        ObjectType("PurchaseOrder", Model.purchase_order),
    )
}
NAME_LISTS = frozenset({"Customer", "Vendor", "Item", "Account"})

MINOR_VERSION = "75"
MAX_RESULTS = 1000  # QuickBooks' largest page, also the default: fewer calls
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
    query = _select(entity, cursor.get("since"), int(cursor.get("position", 1)), size)
    body = await _get(http, "query", {"query": query})
    records: list[Record] = body.get("QueryResponse", {}).get(entity) or []
    return FetchedPage(
        objects=[_remote_object(record) for record in records],
        cursor=_next_cursor(cursor, records),
        done=len(records) < size,
    )


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
    changed = await _changes(http, entities, since)
    if sum(map(len, changed.values())) >= CDC_MAX_OBJECTS:
        # The answer was cut short: read each entity on its own, moving on through time.
        changed = {entity: await _all_changes(http, entity, since) for entity in entities}
    return [
        (entity, _remote_object(record))
        for entity, records in changed.items()
        for record in records
        if _is_stub(record)
    ]


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


def _select(entity: str, since: str | None, start_position: int, size: int) -> str:
    conditions = ["Active IN (true, false)"] if entity in NAME_LISTS else []
    if since is not None:
        conditions.append(f"{LAST_UPDATED} >= '{since}'")
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


def _next_cursor(cursor: Cursor, records: list[Record]) -> Cursor:
    if not records:
        return cursor
    since, high_water = cursor.get("since"), cursor.get("high_water")
    newest = max((r["MetaData"]["LastUpdatedTime"] for r in records), key=parse_time)
    if high_water is None or parse_time(newest) > parse_time(high_water):
        high_water = newest
    if since is None or parse_time(newest) > parse_time(since):
        return {"since": newest, "position": 1, "high_water": high_water}
    position_after = int(cursor.get("position", 1)) + len(records)
    return {"since": since, "position": position_after, "high_water": high_water}


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
