"""The control API's hands in a Lightspeed store: changes as made in the store's back office.

Each change takes the store's next version, so an incremental list finds it. A ``_stamp``
key in a body forces the version instead (to make two records share one).
"""

from __future__ import annotations

from ledgerbridge.sandbox.lightspeed import writes
from ledgerbridge.sandbox.lightspeed.records import Record
from ledgerbridge.sandbox.state import SandboxState


def control_create(state: SandboxState, account_id: str, object_type: str, body: Record) -> Record:
    fields, version = _split_stamp(body)
    return writes.create(state, account_id, object_type, fields, version)


def control_update(
    state: SandboxState, account_id: str, object_type: str, record_id: str, patch: Record
) -> Record:
    fields, version = _split_stamp(patch)
    return writes.update(state, account_id, object_type, record_id, fields, version)


def control_delete(
    state: SandboxState, account_id: str, object_type: str, record_id: str
) -> Record | None:
    """Soft delete (``deleted_at``), or ``VOIDED`` for a sale; returns the tombstone."""
    return writes.delete(state, account_id, object_type, record_id)


def _split_stamp(body: Record) -> tuple[Record, int | None]:
    fields = dict(body)
    stamp = fields.pop("_stamp", None)
    if stamp is not None and (not isinstance(stamp, int) or isinstance(stamp, bool) or stamp < 1):
        raise ValueError("_stamp must be a positive integer (the version to give the change)")
    return fields, stamp
