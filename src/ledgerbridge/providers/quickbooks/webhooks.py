"""QuickBooks Online webhooks: ``intuit-signature`` = base64(HMAC-SHA256(verifier token,
raw body)), the same for both payload formats.

- Classic: ``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name",
  "id", "operation", "lastUpdated"}]}}]}``. No event id: the entity's own fields are one.
- CloudEvents (Intuit's format from 2026): a JSON array of ``{"specversion", "id", "type":
  "qbo.<entity>.<verb>.v1", "intuitaccountid", "intuitentityid", "time", ...}``; ``id``
  stays the same when Intuit resends a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgerbridge.providers import Provider, identifiers
from ledgerbridge.providers.quickbooks.pull import OBJECT_TYPES
from ledgerbridge.providers.webhooks import (
    InvalidPayload,
    Notice,
    event_key,
    hmac_sha256,
    items,
    load_json,
    mapping,
    matches_base64,
    text,
)

SIGNATURE_HEADER = "intuit-signature"
_BY_LOWER = {name.lower(): name for name in OBJECT_TYPES}


def verify(body: bytes, headers: Mapping[str, str], key: str) -> bool:
    return matches_base64(hmac_sha256(key, body), headers.get(SIGNATURE_HEADER))


def parse(body: bytes, headers: Mapping[str, str]) -> list[Notice]:
    payload = load_json(body)
    if isinstance(payload, list):
        return _cloud_events(payload)
    return _classic(mapping(payload, "the body"))


def _realm(value: object, where: str) -> str:
    realm = text(value, where)
    if not identifiers.is_valid(Provider.quickbooks, realm):
        raise InvalidPayload(f"{where} is not a QuickBooks realm id")
    return realm


def _classic(payload: dict[str, Any]) -> list[Notice]:
    notices = []
    for n, raw in enumerate(items(payload.get("eventNotifications"), "eventNotifications")):
        notification = mapping(raw, f"notification {n}")
        realm = _realm(notification.get("realmId"), f"notification {n} realmId")
        change = mapping(notification.get("dataChangeEvent"), f"notification {n} dataChangeEvent")
        for e, raw_entity in enumerate(items(change.get("entities"), f"notification {n} entities")):
            where = f"notification {n} entity {e}"
            entity = mapping(raw_entity, where)
            name = text(entity.get("name"), f"{where} name")
            key = event_key(
                realm,
                name,
                text(entity.get("id"), f"{where} id"),
                text(entity.get("operation"), f"{where} operation"),
                text(entity.get("lastUpdated"), f"{where} lastUpdated"),
            )
            if object_type := _BY_LOWER.get(name.lower()):
                notices.append(Notice(realm, object_type, key))
    return notices


def _cloud_events(events: list[Any]) -> list[Notice]:
    notices = []
    for index, raw in enumerate(items(events, "the body")):
        event = mapping(raw, f"event {index}")
        if event.get("specversion") != "1.0":
            raise InvalidPayload(f"event {index} is not a CloudEvent 1.0")
        realm = _realm(event.get("intuitaccountid"), f"event {index} intuitaccountid")
        kind = text(event.get("type"), f"event {index} type").split(".")
        if len(kind) != 4 or kind[0] != "qbo":
            raise InvalidPayload(f"event {index} type is not qbo.<entity>.<verb>.v1")
        key = event_key(realm, text(event.get("id"), f"event {index} id"))
        if object_type := _BY_LOWER.get(kind[1]):
            notices.append(Notice(realm, object_type, key))
    return notices
