"""Lightspeed Retail (X-Series) webhooks: a form-encoded POST whose ``payload`` field holds
the changed object as JSON, with ``type`` (``sale.update``, ``customer.update``, ...) and,
usually, ``domain_prefix``.

Signature: ``X-Signature: signature=<HMAC-SHA256>,algorithm=HMAC-SHA256``, keyed with the
app's client secret. Lightspeed's documentation leaves open whether the HMAC covers the raw
body or the ``payload`` field and whether it is hex or base64: we read it as the raw
request body, hex encoded (base64 is accepted too), and the sandbox signs the same way.
Lightspeed gives no event id: the store, the type and the payload's text make one.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from urllib.parse import parse_qs

from ledgerbridge.providers import Provider, identifiers
from ledgerbridge.providers.webhooks import (
    InvalidPayload,
    Notice,
    event_key,
    hmac_sha256,
    load_json,
    mapping,
    text,
)

SIGNATURE_HEADER = "x-signature"
# Webhook type -> the pull object type it changes (inventory, register closures and
# consignments are not mirrored).
TYPES: dict[str, str | None] = {
    "sale.update": "sales",
    "customer.update": "customers",
    "product.update": "products",
    "inventory.update": None,
    "register_closure.create": None,
    "consignment.send": None,
    "consignment.receive": None,
}


def _signature(header: str | None) -> bytes | None:
    """The signature bytes of an ``X-Signature`` header naming HMAC-SHA256, else None."""
    if not header:
        return None
    fields = dict(part.strip().partition("=")[::2] for part in header.split(","))
    if fields.get("algorithm", "").upper() != "HMAC-SHA256":
        return None
    value = fields.get("signature", "")
    try:
        return bytes.fromhex(value) if len(value) == 64 else base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return None


def verify(body: bytes, headers: Mapping[str, str], key: str) -> bool:
    given = _signature(headers.get(SIGNATURE_HEADER))
    return given is not None and hmac.compare_digest(hmac_sha256(key, body), given)


def parse(body: bytes, headers: Mapping[str, str]) -> list[Notice]:
    try:
        form = parse_qs(body.decode(), strict_parsing=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise InvalidPayload("the body is not a form") from None
    fields = {name: values[0] for name, values in form.items() if len(values) == 1}
    kind = text(fields.get("type"), "type")
    if kind not in TYPES:
        raise InvalidPayload("type is not a Lightspeed webhook type")
    payload = fields.get("payload")
    if payload is None:
        raise InvalidPayload("payload is missing")
    mapping(load_json(payload.encode()), "payload")
    prefix = fields.get("domain_prefix")
    object_type = TYPES[kind]
    if object_type is None:
        return []
    if prefix is None:
        raise InvalidPayload("domain_prefix is missing: the store cannot be told")
    if not identifiers.is_valid(Provider.lightspeed, prefix):
        raise InvalidPayload("domain_prefix is not a Lightspeed domain prefix")
    return [Notice(prefix, object_type, event_key(prefix, kind, payload))]
