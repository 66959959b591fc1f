"""Xero's private sandbox state, and the one way a Xero record is written to the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledgerbridge.sandbox.state import SandboxState
from ledgerbridge.sandbox.store import Collection
from ledgerbridge.sandbox.xero.dates import ms_date

Record = dict[str, Any]


@dataclass(frozen=True)
class Organisation:
    tenant_id: str
    name: str
    currency: str
    country: str
    short_code: str
    tax_rate: float  # on OUTPUT2 / INPUT2 lines
    created_ms: int


@dataclass
class XeroData:
    organisations: dict[str, Organisation] = field(default_factory=dict)
    # Bumped by every write; filtered listings are cached against it (see query.py).
    writes: int = 0
    # (tenant, Idempotency-Key) -> (status, body) of the first answer
    idempotent_answers: dict[tuple[str, str], tuple[int, bytes]] = field(default_factory=dict)
    views: dict[tuple[Any, ...], list[Record]] = field(default_factory=dict)


def xero_data(state: SandboxState) -> XeroData:
    data = state.provider_data.get("xero")
    if data is None:
        data = state.provider_data["xero"] = XeroData()
    assert isinstance(data, XeroData)
    return data


def collection(state: SandboxState, tenant_id: str, resource: str) -> Collection:
    return state.store.collection("xero", tenant_id, resource)


def save(
    state: SandboxState,
    tenant_id: str,
    resource: str,
    id_field: str,
    record: Record,
    stamp: int | None = None,
) -> Record:
    """Store ``record`` as changed now (or at ``stamp``), stamping its ``UpdatedDateUTC``."""
    stamp = state.clock.now_ms() if stamp is None else stamp
    record["UpdatedDateUTC"] = ms_date(stamp)
    collection(state, tenant_id, resource).put(record[id_field], record, stamp)
    xero_data(state).writes += 1
    return record
