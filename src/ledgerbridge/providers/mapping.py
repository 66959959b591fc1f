"""What every provider's mapper (``providers/<name>/mapping.py``) builds unified records
with: the fields every record has, and text that is absent when empty. Money comes from
``providers.numbers``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledgerbridge.providers.pulling import RemoteObject
from ledgerbridge.unified import Unified

Mapper = Callable[[RemoteObject], Unified]


def common(obj: RemoteObject) -> dict[str, Any]:
    """``remote_id``, ``remote_updated_at`` and ``remote_was_deleted`` of ``obj``."""
    return {
        "remote_id": obj.external_id,
        "remote_updated_at": obj.updated_at,
        "remote_was_deleted": obj.deleted,
    }


def text(value: object) -> str | None:
    """``value`` as text; ``None`` for a missing or empty one."""
    return None if value is None or value == "" else str(value)


def map_with(
    mappers: dict[str, Mapper], provider: str, object_type: str, obj: RemoteObject
) -> Unified:
    """``obj`` mapped by the mapper of its object type."""
    mapper = mappers.get(object_type)
    if mapper is None:
        raise ValueError(f"Unknown {provider} object type {object_type!r}")
    return mapper(obj)
