"""Reading: one record by id, queries, and change data capture.

A query that filters only on ``MetaData.LastUpdatedTime`` from below and pages in change
order (QuickBooks' incremental sync) is answered by a bisect and a slice of the store's
change order, however large the collection; any other filter scans the candidates.

Callers hold ``state.store.lock``. Errors are :class:`QboFault`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ledgerbridge.sandbox.quickbooks import errors
from ledgerbridge.sandbox.quickbooks.company import Company, Shelf, company_info, records, shelf
from ledgerbridge.sandbox.quickbooks.dates import parse_time
from ledgerbridge.sandbox.quickbooks.entities import (
    FILTERABLE,
    FieldKind,
    Record,
    field_value,
)
from ledgerbridge.sandbox.quickbooks.query import MAX_RESULTS_LIMIT, Condition, Query, Value
from ledgerbridge.sandbox.state import SandboxState
from ledgerbridge.sandbox.store import Collection

CDC_MAX_OBJECTS = 1000
LAST_UPDATED = "MetaData.LastUpdatedTime"

Predicate = Callable[[Record], bool]


def get_record(state: SandboxState, company: Company, entity: str, record_id: str) -> Record:
    found = records(state, company.realm_id, entity).get(record_id)
    if found is None:
        raise errors.object_not_found(entity, record_id)
    return found


def entity_named(name: str) -> str:
    """The entity a query names, matched as QuickBooks does, regardless of case."""
    for entity in FILTERABLE:
        if entity.lower() == name.lower():
            return entity
    raise errors.query_validation_error(f"Entity '{name}' is not supported")


def run_query(state: SandboxState, company: Company, query: Query) -> Record:
    """The ``QueryResponse`` object for a parsed query."""
    if query.entity.lower() == "companyinfo":
        return {"CompanyInfo": [company_info(company)], "startPosition": 1, "maxResults": 1}
    entity = entity_named(query.entity)
    kinds = FILTERABLE[entity]
    conditions = [Condition(_field_named(kinds, c.field), c.op, c.values) for c in query.conditions]
    order = [(_field_named(kinds, o.field), o.descending) for o in query.order]

    lower_ms: int | None = None
    predicates: list[Predicate] = []
    filters_active = False
    for condition in conditions:
        if condition.field == LAST_UPDATED and condition.op in (">", ">="):
            seconds = _seconds(company, condition.values[0])
            bound = (seconds + (1 if condition.op == ">" else 0)) * 1000
            lower_ms = bound if lower_ms is None else max(lower_ms, bound)
            continue
        if condition.field == "Active":
            wanted = set(condition.values) if condition.op in ("=", "in") else set()
            if wanted == {True}:
                continue  # what the active collection holds anyway
            filters_active = True
            if wanted == {True, False}:
                continue  # everything
        predicates.append(_predicate(company, kinds[condition.field], condition))

    # Name lists show only active records unless the query asks about Active.
    source = shelf(state, company.realm_id, entity).queryable(include_inactive=filters_active)
    start = query.start_position - 1
    limit = min(query.max_results, MAX_RESULTS_LIMIT)
    in_change_order = not order or order == [(LAST_UPDATED, False)]
    newest_first = order == [(LAST_UPDATED, True)]

    if not predicates and (in_change_order or newest_first):
        count = source.count_since(lower_ms)
        if query.count:
            return {"totalCount": count}
        page = _slice_in_change_order(source, lower_ms, count, start, limit, newest_first)
    else:
        matches = [r for r in source.page_since(lower_ms) if all(p(r) for p in predicates)]
        if query.count:
            return {"totalCount": len(matches)}
        if newest_first:
            matches.reverse()
        elif not in_change_order:
            _sort(company, kinds, matches, order)
        page = matches[start : start + limit]
    if not page:
        return {}
    return {entity: page, "startPosition": query.start_position, "maxResults": len(page)}


def _slice_in_change_order(
    source: Collection, lower_ms: int | None, count: int, start: int, limit: int, newest: bool
) -> list[Record]:
    if not newest:
        return source.page_since(lower_ms, offset=start, limit=limit)
    stop = count - start
    if stop <= 0:
        return []
    first = max(stop - limit, 0)
    return source.page_since(lower_ms, offset=first, limit=stop - first)[::-1]


def change_data_capture(
    state: SandboxState, company: Company, entities: list[str], since_seconds: int
) -> list[Record]:
    """One ``QueryResponse`` per entity, oldest change first, at most 1,000 objects in all.

    Hard-deleted transactions come back as their ``Deleted`` stubs.
    """
    budget = CDC_MAX_OBJECTS
    responses: list[Record] = []
    for entity in entities:
        changed = _changed_since(shelf(state, company.realm_id, entity), since_seconds, budget)
        budget -= len(changed)
        if changed:
            responses.append({entity: changed, "startPosition": 1, "maxResults": len(changed)})
        else:
            responses.append({})
    return responses


def _changed_since(entity_shelf: Shelf, since_seconds: int, limit: int) -> list[Record]:
    """Records and stubs changed since then, merged in stamp order."""
    stamped: list[tuple[int, Record]] = []
    for collection in (entity_shelf.records, entity_shelf.deleted):
        if collection is None:
            continue
        for record in collection.page_since(since_seconds * 1000, limit=limit):
            stamped.append((collection.stamp_of(record["Id"]) or 0, record))
    stamped.sort(key=lambda pair: pair[0])
    return [record for _, record in stamped[:limit]]


# --- conditions ----------------------------------------------------------------------


def _field_named(kinds: dict[str, FieldKind], name: str) -> str:
    for known in kinds:
        if known.lower() == name.lower():
            return known
    raise errors.query_validation_error(f"property '{name}' is not queryable")


def _seconds(company: Company, value: Value) -> int:
    try:
        return parse_time(str(value), company.realm.offset_minutes)
    except ValueError as exc:
        raise errors.query_validation_error(f"value '{value}' is not a valid date-time") from exc


def _converter(company: Company, kind: FieldKind, name: str) -> Callable[[Any], Any]:
    """Turns a literal, or a record's value, into something comparable for ``kind``."""

    def convert(value: Any) -> Any:
        try:
            if kind == "id":
                return int(value)
            if kind == "number":
                return Decimal(str(value))
            if kind == "bool":
                if isinstance(value, bool):
                    return value
                if str(value).lower() in ("true", "false"):
                    return str(value).lower() == "true"
                raise ValueError(value)
            if kind == "date":
                return date.fromisoformat(str(value)[:10])
            if kind == "datetime":
                return parse_time(str(value), company.realm.offset_minutes)
            return str(value).casefold()
        except (ValueError, InvalidOperation) as exc:
            raise errors.query_validation_error(
                f"value '{value}' is not valid for property '{name}'"
            ) from exc

    return convert


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b),
    "<": lambda a, b: bool(a < b),
    ">": lambda a, b: bool(a > b),
    "<=": lambda a, b: bool(a <= b),
    ">=": lambda a, b: bool(a >= b),
}


def _predicate(company: Company, kind: FieldKind, condition: Condition) -> Predicate:
    convert = _converter(company, kind, condition.field)
    path = condition.field
    if condition.op == "like":
        if kind != "string":
            raise errors.query_validation_error(
                f"operator LIKE is not supported for property '{path}'"
            )
        parts = (re.escape(part) for part in str(condition.values[0]).split("%"))
        pattern = re.compile(".*".join(parts), re.IGNORECASE | re.DOTALL)

        def like(record: Record) -> bool:
            value = field_value(record, path)
            return value is not None and pattern.fullmatch(str(value)) is not None

        return like
    wanted = [convert(v) for v in condition.values]
    if condition.op == "in":
        allowed = set(wanted)

        def member(record: Record) -> bool:
            value = field_value(record, path)
            return value is not None and convert(value) in allowed

        return member
    compare, target = _COMPARE[condition.op], wanted[0]

    def matches(record: Record) -> bool:
        value = field_value(record, path)
        return value is not None and compare(convert(value), target)

    return matches


def _sort(
    company: Company,
    kinds: dict[str, FieldKind],
    matches: list[Record],
    order: list[tuple[str, bool]],
) -> None:
    """Sort in place; records without the field come first, as nulls do."""
    for path, descending in reversed(order):
        convert = _converter(company, kinds[path], path)

        def key(record: Record, path: str = path, convert: Callable[[Any], Any] = convert) -> Any:
            value = field_value(record, path)
            return (0, 0) if value is None else (1, convert(value))

        matches.sort(key=key, reverse=descending)
