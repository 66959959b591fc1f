"""What every provider's push module offers the operations engine (``providers/<name>/push.py``).

The operations engine stores what the host app asked for, then calls ``execute`` from a
durable workflow, as many times as it takes: a retry after a crash or a timeout must
never create a second record, so ``execute`` carries the provider's own idempotency
mechanism derived from ``idempotency_key`` (Xero ``Idempotency-Key``, QuickBooks
``requestid``) or, where the provider has none (Lightspeed), looks the record up by its
natural key before creating it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ledgerbridge.unified import ContactWrite, InvoiceWrite, Model, PurchaseOrderWrite


class Action(StrEnum):
    create = "create"
    update = "update"
    void = "void"  # or delete, where the provider only deletes


Write = InvoiceWrite | PurchaseOrderWrite | ContactWrite


@dataclass(frozen=True)
class PushRequest:
    """One write asked of a provider: what to do to which record, with what."""

    model: Model
    action: Action
    body: Write | None  # None for a void
    remote_id: str | None  # None for a create
    idempotency_key: str  # the same for every retry of one operation
    # The record's pull object type, for providers whose ids repeat across types.
    object_type: str | None = None


@dataclass(frozen=True)
class Pushed:
    """The provider's record after a successful write."""

    object_type: str  # the provider's own name, as pull uses it ("Invoices", "Invoice", ...)
    remote_id: str
    number: str | None  # the document number the provider assigned or kept
    payload: dict[str, Any]  # the record as the provider returned it (for the raw store)
    updated_at: datetime | None
    version: str | None = None
