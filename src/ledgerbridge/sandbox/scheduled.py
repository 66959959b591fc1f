"""Changes the sandbox makes by itself while a client reads: the churn of a provider's day.

A scheduled change is posted to ``POST /_sandbox/changes``: create, update or delete one
record (through the same control adapters as ``/_sandbox/{provider}/...``, so the
provider's own rules apply), made once ``after_requests`` API answers of the account
whose path and query contain ``matching`` (a text, or several that must all appear; case
does not matter) have been computed, and before the last of them is sent. A test can so
edit a record between two pages of a listing, exactly as a provider's user could,
without racing the client. Changes are applied in the order posted; one that the
provider refuses records its error and is not retried.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Record = dict[str, Any]


class ScheduledChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal["xero", "quickbooks", "lightspeed"]
    account_id: str
    object_type: str
    action: Literal["create", "update", "delete"]
    record_id: str | None = Field(None, description="For update and delete.")
    body: Record = Field(default_factory=dict, description="For create and update.")
    after_requests: int = Field(1, ge=1, description="Made after this many matching answers.")
    matching: str | list[str] = Field(
        "", description="Counts only API calls whose path?query has this (all of these)."
    )
    # Filled in by the sandbox:
    seen: int = 0
    applied: bool = False
    error: str | None = None


class Scheduled:
    """The changes waiting for their request, and the ones already made."""

    def __init__(self) -> None:
        self._changes: list[ScheduledChange] = []
        self._lock = threading.Lock()

    def add(self, change: ScheduledChange) -> None:
        with self._lock:
            self._changes.append(change)

    def all(self) -> list[ScheduledChange]:
        with self._lock:
            return [c.model_copy() for c in self._changes]

    def clear(self) -> None:
        with self._lock:
            self._changes.clear()

    def due(self, provider: str, account: str | None, request: str) -> list[ScheduledChange]:
        """Count one answered API call; the changes it makes due, in the order posted."""
        lowered = request.lower()
        ready: list[ScheduledChange] = []
        with self._lock:
            for change in self._changes:
                if change.applied or change.provider != provider:
                    continue
                if change.account_id != account or not _matches(change.matching, lowered):
                    continue
                change.seen += 1
                if change.seen >= change.after_requests:
                    change.applied = True
                    ready.append(change)
        return ready


def _matches(matching: str | list[str], request: str) -> bool:
    wanted = [matching] if isinstance(matching, str) else matching
    return all(part.lower() in request for part in wanted)
