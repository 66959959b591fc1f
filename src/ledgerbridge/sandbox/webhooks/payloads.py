"""Each provider's webhook payload and signature, as the provider sends them.

- Xero: ``{"events": [...], "firstEventSequence", "lastEventSequence", "entropy"}`` for
  Contacts, Invoices and CreditNotes only; ``x-xero-signature`` = base64 HMAC-SHA256 of the
  body keyed with the webhook key.
- QuickBooks: the classic ``{"eventNotifications": [...]}`` or a CloudEvents array (the
  registration's ``format``); ``intuit-signature`` = base64 HMAC-SHA256 keyed with the
  verifier token.
- Lightspeed: a form with ``payload`` (the object as JSON), ``type``, ``domain_prefix`` and
  ``environment``; ``X-Signature: signature=<hex HMAC-SHA256 of the body keyed with the
  client secret>,algorithm=HMAC-SHA256`` (Lightspeed leaves the encoding and the bytes
  hashed open: this is the reading ledgerbridge verifies).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

Record = dict[str, Any]
Event = dict[str, Any]

XERO_CATEGORIES = {"Contacts": "CONTACT", "Invoices": "INVOICE", "CreditNotes": "CREDITNOTE"}
QUICKBOOKS_OPERATIONS = {"create": "Create", "update": "Update", "delete": "Delete"}
CLOUD_EVENT_VERBS = {"create": "created", "update": "updated", "delete": "deleted"}
LIGHTSPEED_TYPES = {
    "customers": "customer.update",
    "products": "product.update",
    "sales": "sale.update",
    "inventory": "inventory.update",
}


def _hmac(key: str, body: bytes) -> bytes:
    return hmac.new(key.encode(), body, hashlib.sha256).digest()


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def event(
    provider: str,
    account_id: str,
    object_type: str,
    record_id: str,
    record: Record | None,
    action: str,
    now_ms: int,
    quickbooks_format: str = "classic",
) -> Event | None:
    """The provider's event for one change, or None when the provider sends none for it."""
    when = _when(now_ms)
    if provider == "xero":
        category = XERO_CATEGORIES.get(object_type)
        if category is None or action == "delete":  # Xero never hard-deletes these
            return None
        return {
            "resourceUrl": f"https://api.xero.com/api.xro/2.0/{object_type}/{record_id}",
            "resourceId": record_id,
            "eventDateUtc": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3],
            "eventType": "CREATE" if action == "create" else "UPDATE",
            "eventCategory": category,
            "tenantId": account_id,
            "tenantType": "ORGANISATION",
        }
    if provider == "quickbooks":
        if "." in object_type:  # the emulator's own indexes ("Customer.active"), not entities
            return None
        if quickbooks_format == "cloudevents":
            return {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "intuit.sandbox",
                "type": f"qbo.{object_type.lower()}.{CLOUD_EVENT_VERBS[action]}.v1",
                "datacontenttype": "application/json",
                "time": when.isoformat().replace("+00:00", "Z"),
                "intuitentityid": record_id,
                "intuitaccountid": account_id,
                "data": {},
            }
        return {
            "realmId": account_id,
            "dataChangeEvent": {
                "entities": [
                    {
                        "name": object_type,
                        "id": record_id,
                        "operation": QUICKBOOKS_OPERATIONS[action],
                        "lastUpdated": when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                    }
                ]
            },
        }
    kind = LIGHTSPEED_TYPES.get(object_type)
    if kind is None or record is None:
        return None
    return {"type": kind, "domain_prefix": account_id, "payload": record}


def delivery(
    provider: str, events: list[Event], key: str, sequence: int = 1, signed: bool = True
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery of ``events`` (one Lightspeed event), signed
    with ``key`` (or deliberately mis-signed, for Xero's intent-to-receive check)."""
    if provider == "xero":
        body = json.dumps(
            {
                "events": events,
                "firstEventSequence": sequence if events else 0,
                "lastEventSequence": sequence + len(events) - 1 if events else 0,
                "entropy": secrets.token_urlsafe(15),
            }
        ).encode()
        signature = base64.b64encode(_hmac(key if signed else key + "x", body)).decode()
        return body, {"content-type": "application/json", "x-xero-signature": signature}
    if provider == "quickbooks":
        cloud = bool(events) and "specversion" in events[0]
        body = json.dumps(events if cloud else {"eventNotifications": events}).encode()
        media = "application/cloudevents+json" if cloud else "application/json"
        signature = base64.b64encode(_hmac(key, body)).decode()
        return body, {"content-type": media, "intuit-signature": signature}
    (one,) = events
    body = urlencode(
        {
            "environment": "sandbox",
            "domain_prefix": one["domain_prefix"],
            "type": one["type"],
            "payload": json.dumps(one["payload"]),
        }
    ).encode()
    signature = f"signature={_hmac(key, body).hex()},algorithm=HMAC-SHA256"
    return body, {"content-type": "application/x-www-form-urlencoded", "x-signature": signature}
