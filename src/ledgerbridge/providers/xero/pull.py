"""Pulling a Xero organisation: incremental, resumable pages of each object type.

**Listing.** ``GET /<Resource>`` with ``If-Modified-Since`` (inclusive: records whose
``UpdatedDateUTC`` is at or after it) and ``order=UpdatedDateUTC ASC``, so records come
oldest change first. Paged resources take ``page`` (1-based) and ``pageSize``; Items and
Accounts come whole in one answer. Contacts and Accounts are listed with
``includeArchived=true`` and documents with ``unitdp=4`` (unit prices to four places).

**Cursor** (JSON)::

    {"since": "2024-06-01T10:00:00.123+00:00" | null,  # If-Modified-Since of the next request
     "strict": true,                                    # (optional) records after ``since`` only
     "page": 1,                                         # page of that listing
     "high_water": "2024-06-01T10:00:00.123+00:00" | null,  # every change before it was read
     "tie": {...}}                                      # (optional) reading a tie group

**Why no record can be skipped.** One answer is a consistent slice of the listing in
change order, and a record that changes moves to its end. After a page whose newest
record is later than ``since``, the next page is page 1 of the listing modified since
that record, inclusive: everything before it was in the answer, and the records sharing
its timestamp are read again. Only a group sharing one timestamp and larger than a page
must be paged by page number (``order`` cannot be relied on to break ties by id, and a
``where`` cannot express a position after an id), and there a member already read that
changes shifts the rest up by one, so the member moved onto the page already read would
be lost. Such a group is therefore read again from its start in pages of 1,000: one
answer holding the whole group is a consistent read by itself; a larger group is read
whole, again and again, until two consecutive reads find the same members
(``pulling.tie_settled`` says why that proves nothing was skipped; a group still
changing after ``MAX_TIE_READS`` reads fails the run rather than skip); only then does
the listing move past its timestamp (``If-Modified-Since`` one millisecond later,
``"strict"``, with any record not later dropped), and ``high_water``, from which a later
run starts, never passes a group not yet read consistently. When the listing is
exhausted the cursor rests at ``{"since": high_water, "page": 1}``.

A run starts ``overlap`` before the saved ``high_water`` (``start``), once; its
``position`` is the high-water mark, which never moves back, not even while the run
re-reads the overlap. With nothing changed a run costs one request per object type.

**Derived fields.** Xero documents that not every change moves ``UpdatedDateUTC``
(``DueDate`` and ``SentToContact`` on partly paid transactions, contact balances). The
mirror keeps no contact balances (listings do not carry them), so ``dependents`` is
empty; the rest only a full pass catches.

**Deletions.** Tombstones are records whose status is ``DELETED`` or ``ARCHIVED`` (and a
contact's ``GDPRREQUEST``); a ``VOIDED`` document is not deleted. Items are deleted for
good: ``sweep_ids`` lists the ones that still exist.

**Adding an object type**: an ``ObjectType`` in ``OBJECT_TYPES`` (plus its listing
parameters in ``_PARAMS`` or ``_UNPAGED`` if any) and a mapper in ``mapping.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from ledgerbridge.providers.answers import get_checked, read_json, require
from ledgerbridge.providers.pulling import (
    Cursor,
    FetchedPage,
    ObjectType,
    RemoteObject,
    tie_add,
    tie_again,
    tie_reading,
    tie_settled,
)
from ledgerbridge.providers.xero.dates import iso, parse_utc
from ledgerbridge.providers.xero.errors import raise_for_error
from ledgerbridge.unified import Model

OBJECT_TYPES: dict[str, ObjectType] = {
    t.name: t
    for t in (
        ObjectType("Contacts", Model.contact),
        ObjectType("Invoices", Model.invoice),
        ObjectType("Payments", Model.payment),
        ObjectType("Items", Model.item, hard_deletes=True),
        ObjectType("Accounts", Model.account),
        ObjectType("BankTransactions", Model.bank_transaction),
        ObjectType("CreditNotes", Model.credit_note),
        ObjectType("PurchaseOrders", Model.purchase_order),
    )
}
DEFAULT_PAGE_SIZE = 1000  # Xero's largest: fewer calls against its 60-a-minute limit
TIE_PAGE_SIZE = DEFAULT_PAGE_SIZE  # pages of a group sharing one timestamp
_UNPAGED = frozenset({"Items", "Accounts"})
_PARAMS: dict[str, dict[str, str]] = {
    "Contacts": {"includeArchived": "true"},
    "Accounts": {"includeArchived": "true"},
    "Invoices": {"unitdp": "4"},
    "CreditNotes": {"unitdp": "4"},
    "BankTransactions": {"unitdp": "4"},
    "Items": {"unitdp": "4"},
}
_TOMBSTONES = frozenset({"DELETED", "ARCHIVED", "GDPRREQUEST"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def start(saved: Cursor | None, overlap: timedelta) -> Cursor:
    """Where a run begins: the beginning, or ``overlap`` before the saved high-water mark."""
    high_water = saved.get("high_water") if saved else None
    if high_water is None:
        return {"since": None, "page": 1, "high_water": None}
    return {"since": iso(parse_utc(high_water) - overlap), "page": 1, "high_water": high_water}


def position(cursor: Cursor) -> tuple[Any, ...]:
    """The high-water mark in epoch milliseconds (-1 before anything was seen)."""
    high_water = cursor.get("high_water")
    if high_water is None:
        return (-1,)
    return ((parse_utc(high_water) - _EPOCH) // timedelta(milliseconds=1),)


async def fetch_page(
    http: httpx.AsyncClient, object_type: str, cursor: Cursor, *, page_size: int | None = None
) -> FetchedPage:
    """One request: the records changed since the cursor, oldest change first."""
    name = _object_type(object_type).name
    since = _timestamp(cursor.get("since"))
    high_water = _timestamp(cursor.get("high_water"))
    page = int(cursor.get("page", 1))
    tie = cursor.get("tie")
    strict = bool(cursor.get("strict")) and tie is None
    size = TIE_PAGE_SIZE if tie is not None else page_size or DEFAULT_PAGE_SIZE
    params = {"order": "UpdatedDateUTC ASC", **_PARAMS.get(name, {})}
    paged = name not in _UNPAGED
    if paged:
        params |= {"page": str(page), "pageSize": str(size)}
    modified_since = since + timedelta(milliseconds=1) if since and strict else since
    headers = {"If-Modified-Since": iso(modified_since)} if modified_since else {}
    body = await _get(http, name, params, headers)
    objects = [_remote_object(name, record) for record in body.get(name) or []]
    last = not paged or _last_page(body, page, size, len(objects))
    if strict and since is not None:  # already read whole with the group at ``since``
        objects = [o for o in objects if o.updated_at is None or o.updated_at > since]
    stamps = [o.updated_at for o in objects if o.updated_at is not None]
    newest = max(stamps, default=None)

    if tie is not None:  # reading a group larger than a page that shares one timestamp
        at = parse_utc(tie["at"])
        members = [o.external_id for o in objects if o.updated_at == at]
        tie = tie_add(tie, members)
        if not last and len(members) == len(objects):  # the group goes on
            return FetchedPage(objects, _cursor(at, page + 1, high_water, tie), done=False)
        if tie_settled(tie) or page == 1:  # or read in one answer: consistent by itself
            newest_seen = max(filter(None, (high_water, newest)))
            settled = _cursor(at, 1, newest_seen) | {"strict": True}
            return FetchedPage(objects, settled, done=False)
        again = _cursor(at, 1, high_water, tie_again(tie, name))
        return FetchedPage(objects, again, done=False)
    if newest is not None and (high_water is None or newest > high_water):
        high_water = newest
    if not objects or last:
        return FetchedPage(objects, _cursor(high_water, 1, high_water), done=True)
    if newest is not None and (since is None or strict or newest > since):
        return FetchedPage(objects, _cursor(newest, 1, high_water), done=False)
    # A whole page sharing the timestamp ``since``: a group larger than a page, read again
    # from its start in the largest pages.
    assert since is not None
    return FetchedPage(objects, _cursor(since, 1, high_water, tie_reading(iso(since))), False)


async def sweep_ids(http: httpx.AsyncClient, object_type: str) -> set[str]:
    """Every id that exists now, for types deleted without a tombstone (Items)."""
    kind = _object_type(object_type)
    if not kind.hard_deletes:
        raise ValueError(f"Xero {kind.name} keep their tombstones: there is nothing to sweep")
    # Only unpaged resources are hard-deleted, so one request lists them all.
    body = await _get(http, kind.name, {}, {})
    id_field = _id_field(kind.name)
    return {str(record[id_field]) for record in body.get(kind.name) or []}


async def fetch_tombstones(
    http: httpx.AsyncClient, object_types: Sequence[str], since: datetime
) -> list[tuple[str, RemoteObject]]:
    """Xero's listings show their own tombstones: nothing more to fetch."""
    return []


async def _get(
    http: httpx.AsyncClient, name: str, params: dict[str, str], headers: dict[str, str]
) -> dict[str, Any]:
    """The answer, checked to hold the ``name`` collection (Xero sends an empty one when
    nothing matches); asked again, then a provider error, if it does not."""

    def read(response: httpx.Response) -> dict[str, Any]:
        body = read_json(response, lambda answer, _: raise_for_error(answer), "Xero")
        require(body, name, list, f"Xero {name}")
        return body

    return await get_checked(http, name, read, params=params, headers=headers)


def _remote_object(name: str, record: dict[str, Any]) -> RemoteObject:
    updated = record.get("UpdatedDateUTC")
    status = record.get("ContactStatus" if name == "Contacts" else "Status")
    return RemoteObject(
        external_id=str(record[_id_field(name)]),
        payload=record,
        updated_at=parse_utc(updated) if updated else None,
        deleted=status in _TOMBSTONES,
    )


def _last_page(body: dict[str, Any], page: int, size: int, count: int) -> bool:
    pagination = body.get("pagination")
    if isinstance(pagination, dict) and "pageCount" in pagination:
        return page >= int(pagination["pageCount"])
    return count < size


def _cursor(
    since: datetime | None,
    page: int,
    high_water: datetime | None,
    tie: dict[str, Any] | None = None,
) -> Cursor:
    cursor: Cursor = {
        "since": iso(since) if since else None,
        "page": page,
        "high_water": iso(high_water) if high_water else None,
    }
    return cursor if tie is None else cursor | {"tie": tie}


def _timestamp(value: str | None) -> datetime | None:
    return parse_utc(value) if value else None


def _id_field(name: str) -> str:
    return f"{name[:-1]}ID"  # Invoices -> InvoiceID, BankTransactions -> BankTransactionID


def _object_type(object_type: str) -> ObjectType:
    try:
        return OBJECT_TYPES[object_type]
    except KeyError:
        raise ValueError(f"Unknown Xero object type {object_type!r}") from None


def remote_object(object_type: str, record: dict[str, Any]) -> RemoteObject:
    """One record as pull sees it (tombstone flag included), e.g. a record push just wrote."""
    return _remote_object(object_type, record)
