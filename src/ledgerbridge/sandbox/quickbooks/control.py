"""Control-API adapters: change a company's records as its user would in QuickBooks.

The changes go through the same rules as the API (SyncToken and LastUpdatedTime move,
names stay unique, balances follow), so an incremental sync finds them. A ``"_stamp"``
key (epoch milliseconds) forces the change's LastUpdatedTime, e.g. to make two records
share one. Core's control routes hold the store lock and turn ``LookupError`` into 404
and ``ValueError`` into 422.
"""

from __future__ import annotations

from collections.abc import Callable

from ledgerbridge.sandbox.quickbooks import writes
from ledgerbridge.sandbox.quickbooks.company import Company, find_company, records
from ledgerbridge.sandbox.quickbooks.entities import NAME_LISTS, OBJECT_TYPES, Record, is_deleted
from ledgerbridge.sandbox.quickbooks.errors import QboFault
from ledgerbridge.sandbox.state import SandboxState


def control_create(state: SandboxState, account_id: str, object_type: str, body: Record) -> Record:
    company = _company(state, account_id, object_type)
    fields, stamp = _split_stamp(body)
    fields.pop("Id", None)
    return _translated(lambda: writes.create(state, company, object_type, fields, stamp))


def control_update(
    state: SandboxState, account_id: str, object_type: str, record_id: str, patch: Record
) -> Record:
    """A shallow merge of ``patch`` into the record; no SyncToken needed."""
    company = _company(state, account_id, object_type)
    _existing(state, company, object_type, record_id)
    fields, stamp = _split_stamp(patch)
    body = {**fields, "Id": record_id, "sparse": True}
    return _translated(
        lambda: writes.update(
            state, company, object_type, body, check_sync_token=False, stamp=stamp
        )
    )


def control_delete(
    state: SandboxState, account_id: str, object_type: str, record_id: str
) -> Record | None:
    """Name lists are deactivated (the record is answered); transactions are hard-deleted
    (the ``Deleted`` stub change data capture reports is answered)."""
    company = _company(state, account_id, object_type)
    _existing(state, company, object_type, record_id)
    if object_type in NAME_LISTS:
        return _translated(lambda: writes.deactivate(state, company, object_type, record_id))
    body = {"Id": record_id}
    return _translated(
        lambda: writes.delete(state, company, object_type, body, check_sync_token=False)
    )


def _company(state: SandboxState, account_id: str, object_type: str) -> Company:
    company = find_company(state, account_id)
    if company is None:
        raise LookupError(f"No QuickBooks company (realm) {account_id!r}.")
    if object_type not in OBJECT_TYPES:
        raise LookupError(f"QuickBooks has no {object_type!r} here ({', '.join(OBJECT_TYPES)}).")
    return company


def _existing(state: SandboxState, company: Company, object_type: str, record_id: str) -> None:
    found = records(state, company.realm_id, object_type).get(record_id)
    if found is None or is_deleted(found):
        raise LookupError(f"No {object_type} {record_id!r} in realm {company.realm_id}.")


def _split_stamp(body: Record) -> tuple[Record, int | None]:
    fields = dict(body)
    stamp = fields.pop("_stamp", None)
    if stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, int)):
        raise ValueError("_stamp must be epoch milliseconds (an integer).")
    return fields, stamp


def _translated(change: Callable[[], Record]) -> Record:
    try:
        result: Record = change()
    except QboFault as fault:
        raise ValueError(str(fault)) from fault
    except (KeyError, TypeError, AttributeError) as exc:  # a body of the wrong shape
        raise ValueError(f"malformed record: {exc!r}") from exc
    return result
