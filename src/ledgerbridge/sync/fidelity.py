"""Does a connection's mirror of an object type equal the provider's own records?

Object by object and by content: the raw payload the mirror keeps must be exactly the
provider's record (canonical JSON, numbers exact), with the same tombstone flag, and
whatever the mirror still holds as live must still exist at the provider. The churn test
and benchmark compare with it; the provider's records come from wherever the caller read
them (the sandbox's control API, or a full listing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from ledgerbridge.mirror.encoding import dumps
from ledgerbridge.providers import Provider
from ledgerbridge.sync.catalog import MODULES
from ledgerbridge.sync.models import RawObject


@dataclass
class Comparison:
    compared: int = 0
    mismatches: list[str] = field(default_factory=list)

    def add(self, other: Comparison) -> None:
        self.compared += other.compared
        self.mismatches += other.mismatches


def compare(
    session: Session,
    connection_id: int,
    provider: Provider,
    object_type: str,
    records: Iterable[dict[str, Any]],
) -> Comparison:
    """The mirror of ``object_type`` against ``records``, every object the provider keeps."""
    puller, _ = MODULES[provider]
    remote = {o.external_id: o for o in (puller.remote_object(object_type, r) for r in records)}
    mirrored = {
        raw.external_id: raw
        for raw in session.scalars(
            select(RawObject)
            .where(RawObject.connection_id == connection_id, RawObject.object_type == object_type)
            .options(load_only(RawObject.external_id, RawObject.payload, RawObject.deleted))
        )
    }
    result = Comparison(compared=len(remote.keys() | mirrored.keys()))
    for external_id, obj in remote.items():
        raw = mirrored.get(external_id)
        if raw is None:
            result.mismatches.append(f"{object_type} {external_id}: missing from the mirror")
        elif raw.payload != dumps(obj.payload):
            result.mismatches.append(f"{object_type} {external_id}: content differs")
        elif raw.deleted != obj.deleted:
            result.mismatches.append(f"{object_type} {external_id}: deleted is {raw.deleted}")
    for external_id, raw in mirrored.items():
        if external_id not in remote and not raw.deleted:
            result.mismatches.append(f"{object_type} {external_id}: gone, but live in the mirror")
    return result
