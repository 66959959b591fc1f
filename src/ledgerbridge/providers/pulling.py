"""What every provider's pull module offers the sync engine (``providers/<name>/pull.py``).

The sync engine knows nothing of a provider's paging or filters: it asks the provider's
``start`` for the cursor a run begins at, calls ``fetch_page`` until a page says
``done``, commits each page together with the cursor that page returned, and refuses any
cursor whose ``position`` would move backwards.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledgerbridge.unified import Model

Cursor = dict[str, Any]  # JSON-serialisable; opaque to everything outside the provider


@dataclass(frozen=True)
class RemoteObject:
    external_id: str
    payload: dict[str, Any]  # exactly as the provider sent it
    updated_at: datetime | None  # the provider's updated time, UTC
    version: str | None = None  # Lightspeed version / QuickBooks SyncToken, when there is one
    deleted: bool = False  # a tombstone: status DELETED/VOIDED/ARCHIVED, deleted_at, CDC stub


@dataclass(frozen=True)
class FetchedPage:
    objects: list[RemoteObject]
    cursor: Cursor  # where the next page starts; persisted when this page is committed
    done: bool  # the run has reached the end of what changed


@dataclass(frozen=True)
class ObjectType:
    name: str  # the provider's own name: "Invoices" (Xero), "Invoice" (QuickBooks), "sales"
    model: Model  # the unified model its records map to
    hard_deletes: bool = False  # vanishes without a tombstone: found only by ``sweep_ids``


class ProviderError(Exception):
    """A provider answered with an error that retrying will not fix."""

    def __init__(
        self,
        status: int,
        message: str,
        details: list[str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []
        self.code = code  # e.g. the QuickBooks Fault code


class TombstoneWindowLapsed(ProviderError):
    """A deleted-object feed no longer reaches back to when it was last read (QuickBooks
    change data capture keeps 30 days): only a full pass can tell what was deleted since."""


# --- groups sharing one timestamp, on listings that page by offset ----------------------

MAX_TIE_READS = 8  # reads of one tie group that may disagree before the run gives up


def tie_reading(at: str) -> dict[str, Any]:
    """The state of a first read of the group of records sharing the timestamp ``at``."""
    return {"at": at, "reads": 1, "count": 0, "digest": "0", "previous": None}


def tie_add(tie: dict[str, Any], ids: list[str]) -> dict[str, Any]:
    """``tie`` with the members ``ids`` (one page of the group) counted in."""
    digest = int(tie["digest"], 16)
    for external_id in ids:  # a sum: a group read in any order gives one digest
        digest += int.from_bytes(hashlib.sha256(external_id.encode()).digest()[:8], "big")
    return {**tie, "count": tie["count"] + len(ids), "digest": format(digest % 2**64, "x")}


def tie_settled(tie: dict[str, Any]) -> bool:
    """Did this complete read of the group find exactly the members the one before did?

    A listing paged by offset skips a member only when another, already counted by the
    same read, leaves the group (an edit gives it a later timestamp) and the rest shift up
    by one. The member that left is then missing from the next read. So when two
    consecutive reads find the same members, the earlier one skipped none; members that
    left are read again at their new timestamp.
    """
    return bool(tie["previous"] == [tie["count"], tie["digest"]])


def tie_again(tie: dict[str, Any], object_type: str) -> dict[str, Any]:
    """The state of the next read of the group, after one that disagreed with its previous."""
    if tie["reads"] >= MAX_TIE_READS:
        raise ProviderError(
            200,
            f"The {object_type} records sharing the timestamp {tie['at']} changed during each "
            f"of {tie['reads']} reads: they cannot be read consistently now",
        )
    return {
        "at": tie["at"],
        "reads": tie["reads"] + 1,
        "count": 0,
        "digest": "0",
        "previous": [tie["count"], tie["digest"]],
    }
