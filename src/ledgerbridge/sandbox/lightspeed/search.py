"""``GET /search``: find sales, products or customers by their attributes.

Unlike the collections, search pages with ``offset`` and ``page_size`` (at most 1000).
Lookups by ``customer_code`` or ``sku``, the ones clients make before creating a record,
use the store's index; other filters look at every record of the type.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from ledgerbridge.sandbox.lightspeed.changes import LOOKUP_FIELDS, collection, find_by
from ledgerbridge.sandbox.lightspeed.records import Record, is_deleted
from ledgerbridge.sandbox.state import SandboxState

MAX_PAGE_SIZE = 1000

# Per type: the attributes that filter (each may be repeated; a leading "-" excludes).
FILTERS: dict[str, tuple[str, ...]] = {
    "customers": (
        "customer_code",
        "email",
        "first_name",
        "last_name",
        "company_name",
        "mobile",
        "phone",
    ),
    "products": (
        "sku",
        "supplier_id",
        "brand_id",
        "tag_id",
        "product_type_id",
        "variant_parent_id",
    ),
    "sales": ("status", "invoice_number", "customer_id", "user_id", "outlet_id"),
}


def search(
    state: SandboxState,
    domain_prefix: str,
    object_type: str,
    params: Mapping[str, Sequence[str]],
    *,
    offset: int = 0,
    page_size: int = MAX_PAGE_SIZE,
    deleted: bool = False,
    order_by: str | None = None,
    descending: bool = False,
) -> list[Record]:
    """The records of ``object_type`` matching every filter in ``params``."""
    candidates = _candidates(state, domain_prefix, object_type, params)
    found = [
        record
        for record in candidates
        if (deleted or not is_deleted(record))
        and _matches(record, object_type, params)
        and _in_date_range(record, params)
    ]
    if order_by is not None:
        found.sort(key=lambda record: _sort_key(record.get(order_by)), reverse=descending)
    elif descending:
        found.reverse()
    size = min(max(page_size, 1), MAX_PAGE_SIZE)
    return found[offset : offset + size]


def _candidates(
    state: SandboxState, domain_prefix: str, object_type: str, params: Mapping[str, Sequence[str]]
) -> Iterable[Record]:
    lookup_field = LOOKUP_FIELDS.get(object_type)
    values = params.get(lookup_field, ()) if lookup_field else ()
    if values:
        return sorted(
            (
                record
                for value in values
                for record in find_by(state, domain_prefix, object_type, value)
            ),
            key=lambda record: int(record["version"]),
        )
    return collection(state, domain_prefix, object_type).all()


def _matches(record: Record, object_type: str, params: Mapping[str, Sequence[str]]) -> bool:
    for name in FILTERS[object_type]:
        field = "tag_ids" if name == "tag_id" else name
        value = record.get(field)
        have = {str(v).lower() for v in value} if isinstance(value, list) else {str(value).lower()}
        wanted = {v.lower() for v in params.get(name, ())}
        if wanted and not have & wanted:
            return False
        unwanted = {v.lower() for v in params.get(f"-{name}", ())}
        if have & unwanted:
            return False
    return True


def _in_date_range(record: Record, params: Mapping[str, Sequence[str]]) -> bool:
    sale_date = record.get("sale_date")
    if not sale_date or not ("date_from" in params or "date_to" in params):
        return True
    when = _parse(sale_date)
    date_from = params.get("date_from", ())
    date_to = params.get("date_to", ())
    if date_from and when < _parse(date_from[0]):
        return False
    return not (date_to and when > _parse(date_to[0]))


def _parse(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(f"{text!r} is not a timestamp like 2016-08-08T12:00:00Z") from error
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _sort_key(value: object) -> tuple[bool, bool, float, str]:
    """Nulls last, numbers before text, each in its natural order."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (False, False, float(value), "")
    return (value is None, True, 0.0, "" if value is None else str(value).lower())
