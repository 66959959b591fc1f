"""Listing a Xero resource: filters, If-Modified-Since and pages.

Records are kept in change order (``UpdatedDateUTC``, then the order of writes), so
paging is stable and "modified since" is a bisect. Without other filters a page is a
slice of the store. With filters (``where``, ``Statuses``, ``IDs``, ``searchTerm``, and
the archived contacts Xero hides by default) the matching records are worked out once
and cached until the next write, so paging through them stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledgerbridge.sandbox.state import SandboxState
from ledgerbridge.sandbox.xero.data import collection, xero_data
from ledgerbridge.sandbox.xero.dates import modified_since_ms
from ledgerbridge.sandbox.xero.resources import Resource
from ledgerbridge.sandbox.xero.where import Predicate, WhereError, parse_where

Record = dict[str, Any]
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
_CACHED_VIEWS = 32
_SEARCHED = (
    "Name",
    "FirstName",
    "LastName",
    "ContactNumber",
    "EmailAddress",
    "InvoiceNumber",
    "Reference",
)


class QueryError(ValueError):
    pass


@dataclass(frozen=True)
class ListQuery:
    modified_since_ms: int | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    where: str = ""
    statuses: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    include_archived: bool = False
    search: str = ""
    summary_only: bool = False

    def filter_key(self) -> tuple[Any, ...]:
        return (self.where, self.statuses, self.ids, self.include_archived, self.search)


def parse_query(params: Mapping[str, str], if_modified_since: str | None) -> ListQuery:
    """Read a list request's parameters (names are case-insensitive, as in Xero)."""
    lowered = {k.lower(): v for k, v in params.items()}
    since = None
    if if_modified_since:
        try:
            since = modified_since_ms(if_modified_since)
        except ValueError as error:
            raise QueryError(str(error)) from None
    return ListQuery(
        modified_since_ms=since,
        page=max(1, _integer(lowered, "page", 1)),
        page_size=min(MAX_PAGE_SIZE, max(1, _integer(lowered, "pagesize", DEFAULT_PAGE_SIZE))),
        where=lowered.get("where", "").strip(),
        statuses=_csv(lowered.get("statuses", "")),
        ids=frozenset(i.lower() for i in _csv(lowered.get("ids", ""))),
        include_archived=lowered.get("includearchived", "").lower() == "true",
        search=lowered.get("searchterm", "").strip().casefold(),
        summary_only=lowered.get("summaryonly", "").lower() == "true",
    )


def _integer(params: Mapping[str, str], name: str, default: int) -> int:
    if name not in params or params[name] == "":
        return default
    try:
        return int(params[name])
    except ValueError:
        raise QueryError(f"{name} must be a whole number") from None


def _csv(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def list_records(
    state: SandboxState, tenant_id: str, resource: Resource, query: ListQuery
) -> tuple[list[Record], dict[str, int] | None]:
    """One page of matching records and its ``pagination`` (None for unpaged resources)."""
    records = collection(state, tenant_id, resource.name)
    since = query.modified_since_ms
    with state.store.lock:
        if _needs_filter(resource, query):
            matching = _filtered(state, tenant_id, resource, query)
            total = len(matching)
            if not resource.paged:
                return matching, None
            start = (query.page - 1) * query.page_size
            page = matching[start : start + query.page_size]
        elif not resource.paged:
            return records.page_since(since), None
        else:
            total = records.count_since(since)
            offset = (query.page - 1) * query.page_size
            page = records.page_since(since, offset=offset, limit=query.page_size)
    pagination = {
        "page": query.page,
        "pageSize": query.page_size,
        "pageCount": math.ceil(total / query.page_size),
        "itemCount": total,
    }
    return page, pagination


def _needs_filter(resource: Resource, query: ListQuery) -> bool:
    hides_archived = resource.name == "Contacts" and not query.include_archived and not query.ids
    return hides_archived or any(query.filter_key()[:3]) or bool(query.search)


def _filtered(
    state: SandboxState, tenant_id: str, resource: Resource, query: ListQuery
) -> list[Record]:
    data = xero_data(state)
    key = (tenant_id, resource.name, query.modified_since_ms, query.filter_key(), data.writes)
    cached = data.views.get(key)
    if cached is not None:
        return cached
    test = _predicate(resource, query)
    since = query.modified_since_ms
    matching = [r for r in collection(state, tenant_id, resource.name).page_since(since) if test(r)]
    if len(data.views) >= _CACHED_VIEWS:
        data.views.pop(next(iter(data.views)))
    data.views[key] = matching
    return matching


def _predicate(resource: Resource, query: ListQuery) -> Predicate:
    tests: list[Predicate] = []
    if resource.name == "Contacts" and not query.include_archived and not query.ids:
        tests.append(lambda r: r.get("ContactStatus") != "ARCHIVED")
    if query.ids:
        id_field = resource.id_field
        tests.append(lambda r: str(r.get(id_field, "")).lower() in query.ids)
    if query.statuses and resource.status_field:
        status_field = resource.status_field
        tests.append(lambda r: r.get(status_field) in query.statuses)
    if query.where:
        try:
            tests.append(parse_where(query.where))
        except WhereError as error:
            raise QueryError(str(error)) from None
    if query.search:
        tests.append(lambda r: any(query.search in str(r.get(f, "")).casefold() for f in _SEARCHED))
    return lambda r: all(test(r) for test in tests)


def summary(record: Record) -> Record:
    """A record as ``summaryOnly=true`` lists it: without its heavy parts."""
    return {k: v for k, v in record.items() if k not in ("LineItems", "Addresses", "Phones")}
