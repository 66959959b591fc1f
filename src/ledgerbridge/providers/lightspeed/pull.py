"""Pulling a Lightspeed Retail (X-Series) store: API 2.0 collections, paged by ``version``.

Every change in a store takes the next value of one store-wide ``version`` counter, and a
collection lists the records ``after=<version>`` (exclusive) in version order. Paging is
therefore the incremental sync itself: no clock is involved.

**Cursor** ``{"after": <version>}``: every record at or below that version has been handed
over. A full pass starts at ``after=0``; a run resumes at the saved cursor and ends on the
first empty page, so a run with nothing changed costs one request. Versions are exact, so
the ``overlap`` a run is started with is not needed and not applied.

After a page the next cursor is its newest version. Should several records ever share a
version (the real API gives each change its own; the sandbox can force a shared one), a
record may not be skipped where they straddle a page boundary. So after a *full* page the
cursor stops just below the page's newest version, and the next page re-reads the records
at that version (harmless duplicates). A full page holding a single version is completed
at once by asking for that version alone (``after=v-1&before=v+1``).

**Why no record can be skipped.** ``after=<version>`` is a position, not an offset: a
record that changes while a run pages takes a new, higher version and moves after every
page not yet read, and no change can shift a record the run has not read yet to below
the cursor. Within one version the re-read above reads the whole group again, so a
group straddling a page boundary is read whole however its members change.

**Derived fields**: every change takes a new version, balances included, so none move
unseen (``dependents`` is empty).

**Deletes** are soft: ``deleted=true`` lists deleted records with their ``deleted_at`` (and a
new version), which makes them tombstones. A voided sale is a sale with status ``VOIDED``,
not a tombstone. Nothing is hard-deleted, so there is no id sweep and no separate feed.

JSON numbers with a fraction are parsed as ``Decimal``, so money in a payload is exactly
the provider's text.

"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx

from ledgerbridge.providers.answers import get_checked, read_json, require
from ledgerbridge.providers.lightspeed.dates import parse_time
from ledgerbridge.providers.lightspeed.errors import raise_for_error
from ledgerbridge.providers.pulling import (
    Cursor,
    FetchedPage,
    ObjectType,
    ProviderError,
    RemoteObject,
)
from ledgerbridge.unified import Model

OBJECT_TYPES: dict[str, ObjectType] = {
    "customers": ObjectType("customers", Model.contact),
    "products": ObjectType("products", Model.item),
    "sales": ObjectType("sales", Model.sale),
    "outlets": ObjectType("outlets", Model.location),
}

PAGE_SIZE = 1000  # asked for by default; an API that serves fewer only makes more pages

Record = dict[str, Any]


def start(saved: Cursor | None, overlap: timedelta) -> Cursor:
    """The cursor a run begins at: the saved one (versions are exact: no overlap), or 0."""
    return {"after": int(saved["after"])} if saved else {"after": 0}


def position(cursor: Cursor) -> tuple[Any, ...]:
    return (int(cursor["after"]),)


async def fetch_page(
    http: httpx.AsyncClient, object_type: str, cursor: Cursor, *, page_size: int | None = None
) -> FetchedPage:
    _known(object_type)
    size = page_size or PAGE_SIZE
    after = int(cursor["after"])
    records = await _list(http, object_type, after=after, page_size=size)
    if not records:
        return FetchedPage([], {"after": after}, done=True)
    newest = int(records[-1]["version"])
    next_after = newest
    if len(records) >= size:
        below = [int(r["version"]) for r in records if int(r["version"]) < newest]
        if below:
            next_after = max(below)  # re-read the newest version: more may share it
        else:
            records = await _one_version(http, object_type, newest)
    return FetchedPage([_remote(record) for record in records], {"after": next_after}, done=False)


async def sweep_ids(http: httpx.AsyncClient, object_type: str) -> set[str]:
    _known(object_type)
    raise ValueError(
        f"Lightspeed {object_type} are never hard-deleted: deletions arrive as deleted_at"
    )


async def fetch_tombstones(
    http: httpx.AsyncClient, object_types: Sequence[str], since: datetime
) -> list[tuple[str, RemoteObject]]:
    """None needed: ``deleted=true`` puts every deletion in the normal listing."""
    for object_type in object_types:
        _known(object_type)
    return []


async def _list(http: httpx.AsyncClient, object_type: str, **params: int) -> list[Record]:
    """A page of the collection, checked to hold its ``data`` list; asked again, then a
    provider error, if it does not."""

    def read(response: httpx.Response) -> list[Record]:
        body = read_json(response, lambda answer, _: raise_for_error(answer), "Lightspeed")
        records: list[Record] = require(body, "data", list, f"Lightspeed {object_type}")
        return records

    return await get_checked(http, f"/{object_type}", read, params={"deleted": "true", **params})


async def _one_version(http: httpx.AsyncClient, object_type: str, version: int) -> list[Record]:
    """Every record at ``version``, when they fill a page on their own."""
    records = await _list(
        http, object_type, after=version - 1, before=version + 1, page_size=PAGE_SIZE
    )
    if len(records) >= PAGE_SIZE:
        raise ProviderError(
            200,
            f"{len(records)} or more {object_type} share version {version}: "
            "they cannot be paged without skipping some",
        )
    return records


def _remote(record: Record) -> RemoteObject:
    return RemoteObject(
        external_id=str(record["id"]),
        payload=record,
        updated_at=parse_time(record.get("updated_at")),
        version=str(record["version"]),
        deleted=record.get("deleted_at") is not None,
    )


def _known(object_type: str) -> None:
    if object_type not in OBJECT_TYPES:
        raise ValueError(
            f"Lightspeed has no {object_type!r} object type ({', '.join(OBJECT_TYPES)})"
        )


def remote_object(object_type: str, record: Record) -> RemoteObject:
    """One record as pull sees it (tombstone flag included), e.g. a record push just wrote."""
    return _remote(record)
