"""Where every Lightspeed change lands: the store-wide version counter and the lookups.

Lightspeed numbers every change in a store with one ``version`` that grows across all of
its collections; that number is also the record's stamp in the sandbox store, so "changed
after version N" is a bisect. Callers hold ``state.store.lock`` around read-modify-write.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ledgerbridge.sandbox.lightspeed.records import Record
from ledgerbridge.sandbox.state import SandboxState
from ledgerbridge.sandbox.store import Collection

PROVIDER = "lightspeed"

# The fields clients look records up by before creating one (there is no idempotency key).
LOOKUP_FIELDS: dict[str, str] = {"customers": "customer_code", "products": "sku"}


@dataclass
class LightspeedData:
    """Lightspeed's private part of the sandbox state (``state.provider_data["lightspeed"]``)."""

    versions: dict[str, int] = field(default_factory=dict)  # domain_prefix -> last version
    retailers: dict[str, Record] = field(default_factory=dict)  # domain_prefix -> /retailer
    customer_groups: dict[str, str] = field(default_factory=dict)  # domain_prefix -> default
    # (domain_prefix, collection) -> lookup value -> ids of records (deleted ones included)
    lookups: dict[tuple[str, str], defaultdict[str, set[str]]] = field(default_factory=dict)


def provider_data(state: SandboxState) -> LightspeedData:
    found = state.provider_data.get(PROVIDER)
    if not isinstance(found, LightspeedData):
        found = state.provider_data[PROVIDER] = LightspeedData()
    return found


def collection(state: SandboxState, domain_prefix: str, object_type: str) -> Collection:
    return state.store.collection(PROVIDER, domain_prefix, object_type)


def save(
    state: SandboxState,
    domain_prefix: str,
    object_type: str,
    record: Record,
    version: int | None = None,
) -> Record:
    """Store a new or changed record under the store's next version (or ``version``)."""
    data = provider_data(state)
    last = data.versions.get(domain_prefix, 0)
    if version is None:
        version = last + 1
    data.versions[domain_prefix] = max(last, version)
    record["version"] = version
    records = collection(state, domain_prefix, object_type)
    lookup_field = LOOKUP_FIELDS.get(object_type)
    if lookup_field is not None:
        index = data.lookups.setdefault((domain_prefix, object_type), defaultdict(set))
        previous = records.get(record["id"])
        if previous is not None and previous.get(lookup_field):
            index[lookup_key(previous[lookup_field])].discard(record["id"])
        if record.get(lookup_field):
            index[lookup_key(record[lookup_field])].add(record["id"])
    records.put(record["id"], record, version)
    return record


def lookup_key(value: object) -> str:
    return str(value).lower()


def find_by(state: SandboxState, domain_prefix: str, object_type: str, value: str) -> list[Record]:
    """Records whose lookup field (customer_code, sku) equals ``value``, deleted ones too.

    Case-insensitive, as Lightspeed's search (it asks for SKUs in lower case).
    """
    index = provider_data(state).lookups.get((domain_prefix, object_type))
    key = lookup_key(value)
    if index is None or key not in index:
        return []
    records = collection(state, domain_prefix, object_type)
    found = (records.get(record_id) for record_id in index[key])
    return sorted((r for r in found if r is not None), key=lambda r: int(r["version"]))
