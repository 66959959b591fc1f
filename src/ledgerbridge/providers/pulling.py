"""What every provider's pull module offers the sync engine (``providers/<name>/pull.py``).

The sync engine knows nothing of a provider's paging or filters: it asks the provider's
``start`` for the cursor a run begins at, calls ``fetch_page`` until a page says
``done``, commits each page together with the cursor that page returned, and refuses any
cursor whose ``position`` would move backwards.
"""

from __future__ import annotations

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
