"""Xero webhooks: ``x-xero-signature`` = base64(HMAC-SHA256(webhook key, raw body)).

The body is ``{"events": [...], "firstEventSequence", "lastEventSequence", "entropy"}``;
each event names its ``tenantId``, ``eventCategory`` (CONTACT, INVOICE, CREDITNOTE,
SUBSCRIPTION) and ``resourceId``. The intent-to-receive check is the same envelope with no
events: answered 200 when signed correctly, 401 otherwise, like every other delivery.
Xero gives events no id: one is the event's own fields, identical when Xero retries it.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledgerbridge.providers import Provider, identifiers, webhooks

SIGNATURE_HEADER = "x-xero-signature"
# Event category -> the pull object type it changes; SUBSCRIPTION events change no data.
CATEGORIES: dict[str, str | None] = {
    "CONTACT": "Contacts",
    "INVOICE": "Invoices",
    "CREDITNOTE": "CreditNotes",
    "SUBSCRIPTION": None,
}


def verify(body: bytes, headers: Mapping[str, str], key: str) -> bool:
    return webhooks.matches_base64(webhooks.hmac_sha256(key, body), headers.get(SIGNATURE_HEADER))


def parse(body: bytes, headers: Mapping[str, str]) -> list[webhooks.Notice]:
    """The notices in a verified body; an intent-to-receive check has none."""
    envelope = webhooks.mapping(webhooks.load_json(body), "the body")
    notices = []
    for index, raw in enumerate(webhooks.items(envelope.get("events"), "events")):
        event = webhooks.mapping(raw, f"event {index}")
        tenant = webhooks.text(event.get("tenantId"), f"event {index} tenantId")
        category = webhooks.text(event.get("eventCategory"), f"event {index} eventCategory").upper()
        if category not in CATEGORIES:
            raise webhooks.InvalidPayload(f"event {index} has an unknown eventCategory")
        object_type = CATEGORIES[category]
        if object_type is None or event.get("tenantType", "ORGANISATION") != "ORGANISATION":
            continue
        if not identifiers.is_valid(Provider.xero, tenant):
            raise webhooks.InvalidPayload(f"event {index} tenantId is not a Xero tenant id")
        key = webhooks.event_key(
            tenant,
            category,
            webhooks.text(event.get("resourceId"), f"event {index} resourceId"),
            webhooks.text(event.get("eventType"), f"event {index} eventType").upper(),
            webhooks.text(event.get("eventDateUtc"), f"event {index} eventDateUtc"),
        )
        notices.append(webhooks.Notice(tenant, object_type, key))
    return notices
