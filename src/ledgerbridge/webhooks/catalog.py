"""The event types a webhook endpoint can subscribe to, and their names on the wire.

Deliveries carry what the event feed holds; one feed type is renamed to the name host apps
subscribe to.
"""

from __future__ import annotations

RENAMED = {"operation.succeeded": "operation.synced"}
TEST = "webhook.test"
ENDPOINT_DISABLED = "endpoint.disabled"
RECORD_TYPES = ("record.created", "record.updated", "record.deleted")

EVENT_TYPES = (
    *RECORD_TYPES,
    "sync.completed",
    "sync.failed",
    "sync.deferred",
    "operation.synced",
    "operation.failed",
    "reconciliation.completed",
    "reconciliation.failed",
    "connection.created",
    "connection.reconnected",
    "connection.needs_reauth",
    "connection.disconnected",
    "tenant_data.erased",
    "tenant_data.erasure_failed",
    ENDPOINT_DISABLED,
)


def wire_type(feed_type: str) -> str:
    return RENAMED.get(feed_type, feed_type)


def unknown(types: list[str]) -> list[str]:
    return [t for t in types if t not in EVENT_TYPES]
