"""The control API's hands on Xero data: changes as a Xero user would make them."""

from __future__ import annotations

from typing import Any

from ledgerbridge.sandbox.state import SandboxState
from ledgerbridge.sandbox.xero.amounts import price_lines
from ledgerbridge.sandbox.xero.data import collection, save
from ledgerbridge.sandbox.xero.resources import RESOURCES, Resource
from ledgerbridge.sandbox.xero.writes import delete, new_id, write, writer

Record = dict[str, Any]
_SALES_TYPES = frozenset({"ACCREC", "ACCRECCREDIT", "RECEIVE"})


def control_create(state: SandboxState, account_id: str, object_type: str, body: Record) -> Record:
    """Create a record through Xero's own rules (defaults, totals, validation)."""
    resource = _resource(object_type)
    fields = dict(body)
    stamp = fields.pop("_stamp", None)
    return write(writer(state, account_id, stamp), resource, fields, create_only=True)


def control_update(
    state: SandboxState, account_id: str, object_type: str, record_id: str, patch: Record
) -> Record:
    """Shallow-merge ``patch`` into the record and stamp it changed; totals follow new lines."""
    resource = _resource(object_type)
    w = writer(state, account_id)
    record = collection(state, account_id, resource.name).get(record_id)
    if record is None:
        raise LookupError(f"No {resource.name} record {record_id!r}.")
    fields = dict(patch)
    stamp = fields.pop("_stamp", None)
    updated = {**record, **fields}
    if "LineItems" in fields or "LineAmountTypes" in fields:
        sales = updated.get("Type") in _SALES_TYPES
        amount_types = updated.get("LineAmountTypes", "Exclusive")
        lines, totals = price_lines(
            updated["LineItems"], amount_types, w.org.tax_rate, sales, new_id
        )
        updated.update(totals, LineItems=lines)
        if "AmountDue" in updated:
            paid = updated.get("AmountPaid", 0.0) + updated.get("AmountCredited", 0.0)
            updated["AmountDue"] = round(updated["Total"] - paid, 2)
    return save(state, account_id, resource.name, resource.id_field, updated, stamp)


def control_delete(
    state: SandboxState, account_id: str, object_type: str, record_id: str
) -> Record | None:
    """Archive contacts and accounts, delete or void documents, hard-delete items."""
    return delete(writer(state, account_id), _resource(object_type), record_id)


def _resource(object_type: str) -> Resource:
    resource = RESOURCES.get(object_type)
    if resource is None:
        raise LookupError(f"Unknown Xero object type {object_type!r}.")
    return resource
