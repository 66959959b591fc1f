"""API 2.0 paging, which is also its incremental sync: ``after`` a version, in version order.

A page is a slice of the collection's change order starting just past ``after``, so the
cost of a page depends on its size, not on the collection's. Soft-deleted records are
skipped unless ``deleted=true``; skipping them may need a few more slices, never a scan of
what comes before ``after``.
"""

from __future__ import annotations

from typing import Any

from ledgerbridge.sandbox.lightspeed.records import Record, is_deleted
from ledgerbridge.sandbox.store import Collection

DEFAULT_PAGE_SIZE = 100  # the spec's default
MAX_PAGE_SIZE = 1000  # larger page sizes are cut to this, as the search endpoint does


def page(
    records: Collection,
    *,
    after: int = 0,
    before: int | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    deleted: bool = False,
) -> dict[str, Any]:
    """``{"data": [...], "version": {"min", "max"}}``; an empty page has no ``version``.

    ``after`` and ``before`` are exclusive bounds on the version; the next page is
    ``after=version.max``.
    """
    size = min(max(page_size, 1), MAX_PAGE_SIZE)
    data: list[Record] = []
    skipped = 0
    while len(data) < size:
        chunk = records.page_since(after, inclusive=False, offset=skipped, limit=size - len(data))
        if not chunk:
            break
        skipped += len(chunk)
        for record in chunk:
            if before is not None and record["version"] >= before:
                return _envelope(data)
            if deleted or not is_deleted(record):
                data.append(record)
    return _envelope(data)


def _envelope(data: list[Record]) -> dict[str, Any]:
    if not data:
        return {"data": []}
    return {"data": data, "version": {"min": data[0]["version"], "max": data[-1]["version"]}}
