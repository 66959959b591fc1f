"""Creating, changing and deleting records, as the API and a store's back office do it.

Shared by the API routes and the control API. Unknown stores, collections and records
raise ``LookupError``; bodies Lightspeed would refuse raise ``InvalidRecord`` (a
``ValueError``). ``version`` forces the change's version (tests use it to make two
records share one); otherwise the store's next version is taken.
"""

from __future__ import annotations

import re
import unicodedata

from ledgerbridge.sandbox.lightspeed.changes import (
    PROVIDER,
    collection,
    find_by,
    provider_data,
    save,
)
from ledgerbridge.sandbox.lightspeed.records import (
    OBJECT_TYPES,
    TEMPLATES,
    TIMESTAMPED,
    Record,
    is_deleted,
    iso,
    new_id,
)
from ledgerbridge.sandbox.lightspeed.validation import CHECKS, InvalidRecord, check_any
from ledgerbridge.sandbox.state import SandboxState

# Fields only the store sets; a body naming them is ignored there.
_OWN_FIELDS = frozenset({"id", "version", "created_at"})


def create(
    state: SandboxState,
    domain_prefix: str,
    object_type: str,
    body: Record,
    version: int | None = None,
) -> Record:
    _known(state, domain_prefix, object_type)
    body = CHECKS.get(object_type, check_any)(_without_own_fields(body), partial=False)
    now = iso(state.clock.now_ms())
    with state.store.lock:
        record: Record = {"id": new_id(), **TEMPLATES[object_type], **body}
        if object_type in TIMESTAMPED:
            record |= {"created_at": now, "updated_at": now}
        if object_type == "sales" and not record["sale_date"]:
            record["sale_date"] = now
        if object_type == "customers":
            record = _complete_customer(state, domain_prefix, record)
        elif object_type == "products":
            record = _complete_product(state, domain_prefix, record, body)
        return save(state, domain_prefix, object_type, record, version)


def update(
    state: SandboxState,
    domain_prefix: str,
    object_type: str,
    record_id: str,
    patch: Record,
    version: int | None = None,
) -> Record:
    """Shallow-merge ``patch`` into the record; it moves to the end of the change order."""
    _known(state, domain_prefix, object_type)
    patch = CHECKS.get(object_type, check_any)(_without_own_fields(patch), partial=True)
    now = iso(state.clock.now_ms())
    with state.store.lock:
        record = {**existing(state, domain_prefix, object_type, record_id), **patch}
        if object_type in TIMESTAMPED:
            record["updated_at"] = now
        if object_type == "customers":
            record = _complete_customer(state, domain_prefix, record)
        elif object_type == "products":
            record = _complete_product(state, domain_prefix, record, patch)
        return save(state, domain_prefix, object_type, record, version)


def delete(
    state: SandboxState,
    domain_prefix: str,
    object_type: str,
    record_id: str,
    version: int | None = None,
) -> Record:
    """Lightspeed's delete: sales are voided, everything else gets ``deleted_at``.

    Either way the record takes a new version, so an incremental list finds the tombstone.
    """
    _known(state, domain_prefix, object_type)
    now = iso(state.clock.now_ms())
    with state.store.lock:
        record = dict(existing(state, domain_prefix, object_type, record_id))
        if object_type == "sales":
            if record["status"] == "VOIDED":
                raise LookupError(f"sale {record_id} is already voided")
            record["status"] = "VOIDED"
        elif is_deleted(record):
            raise LookupError(f"{object_type} record {record_id} is already deleted")
        else:
            record["deleted_at"] = now
        if object_type in TIMESTAMPED:
            record["updated_at"] = now
        return save(state, domain_prefix, object_type, record, version)


def existing(state: SandboxState, domain_prefix: str, object_type: str, record_id: str) -> Record:
    found = collection(state, domain_prefix, object_type).get(record_id)
    if found is None:
        raise LookupError(f"no {object_type} record {record_id} in store {domain_prefix}")
    return found


def default_tax_rate(state: SandboxState, domain_prefix: str) -> float:
    """The rate of the store's default tax, which product prices are quoted with."""
    for tax in collection(state, domain_prefix, "taxes").all():
        if tax["is_default"] and not is_deleted(tax):
            return float(sum(rate["rate"] for rate in tax["rates"]))
    return 0.0


def _known(state: SandboxState, domain_prefix: str, object_type: str) -> None:
    if state.store.account(PROVIDER, domain_prefix) is None:
        raise LookupError(f"no Lightspeed store {domain_prefix!r}")
    if object_type not in OBJECT_TYPES:
        raise LookupError(f"Lightspeed has no {object_type!r} collection")


def _without_own_fields(body: Record) -> Record:
    return {name: value for name, value in body.items() if name not in _OWN_FIELDS}


def _complete_customer(state: SandboxState, domain_prefix: str, record: Record) -> Record:
    if not record.get("customer_group_id"):
        record["customer_group_id"] = provider_data(state).customer_groups.get(domain_prefix, "")
    if not record.get("customer_code"):
        record["customer_code"] = _free_customer_code(state, domain_prefix, record)
    clash = [
        other
        for other in find_by(state, domain_prefix, "customers", record["customer_code"])
        if other["id"] != record["id"] and not is_deleted(other)
    ]
    if clash:
        raise InvalidRecord({"customer_code": "has already been taken"})
    names = [record.get("first_name"), record.get("last_name")]
    record["name"] = " ".join(name for name in names if name) or record.get("company_name")
    return record


def _complete_product(
    state: SandboxState, domain_prefix: str, record: Record, body: Record
) -> Record:
    if "is_active" in body:
        record["active"] = body["is_active"]
    elif "active" in body:
        record["is_active"] = body["active"]
    if not record.get("handle"):
        record["handle"] = _slug(record["name"])
    if not record.get("variant_name"):
        record["variant_name"] = record["name"]
    if record.get("sku"):
        clash = [
            other
            for other in find_by(state, domain_prefix, "products", record["sku"])
            if other["id"] != record["id"] and not is_deleted(other)
        ]
        if clash:
            raise InvalidRecord({"sku": "has already been taken"})
    else:
        record["sku"] = _free_sku(state, domain_prefix)
    rate = default_tax_rate(state, domain_prefix)
    if "price_including_tax" in body:
        record["price_excluding_tax"] = round(body["price_including_tax"] / (1 + rate), 5)
    elif "price_excluding_tax" in body:
        record["price_including_tax"] = round(body["price_excluding_tax"] * (1 + rate), 5)
    return record


def _free_customer_code(state: SandboxState, domain_prefix: str, record: Record) -> str:
    stem = _slug(record.get("first_name") or record.get("company_name") or "customer").title()
    number = len(collection(state, domain_prefix, "customers"))
    while find_by(state, domain_prefix, "customers", code := f"{stem}-{number:04X}"):
        number += 1
    return code


def _free_sku(state: SandboxState, domain_prefix: str) -> str:
    number = 10_000 + len(collection(state, domain_prefix, "products"))
    while find_by(state, domain_prefix, "products", str(number)):
        number += 1
    return str(number)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "item"
