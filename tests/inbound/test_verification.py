"""Signatures and payloads of each provider's webhooks: what the sandbox sends verifies and
parses; anything else is refused (signatures in constant time, payloads strictly)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from ledgerbridge.providers.lightspeed import webhooks as lightspeed
from ledgerbridge.providers.quickbooks import webhooks as quickbooks
from ledgerbridge.providers.webhooks import MAX_EVENTS, InvalidPayload
from ledgerbridge.providers.xero import webhooks as xero
from ledgerbridge.sandbox.webhooks import payloads

KEY = "webhook-key-for-tests-0123456789"
TENANT = "5e7f2a9c-1d3b-4c8e-9f60-a1b2c3d4e5f6"
REALM = "9341453000000001"
INVOICE = "0f3c1a52-7b9e-4d21-8c6f-2e4a9b7d1c05"


def sandbox_event(provider: str, object_type: str, account: str, **options: str) -> bytes:
    event = payloads.event(
        provider,
        account,
        object_type,
        "42",
        {"id": "42", "name": "x"},
        "update",
        1_765_000_000_000,
        **options,
    )
    assert event is not None
    return payloads.delivery(provider, [event], KEY)[0]


def headers_of(provider: str, body: bytes, key: str = KEY) -> dict[str, str]:
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    if provider == "xero":
        return {"x-xero-signature": base64.b64encode(digest).decode()}
    if provider == "quickbooks":
        return {"intuit-signature": base64.b64encode(digest).decode()}
    return {"x-signature": f"signature={digest.hex()},algorithm=HMAC-SHA256"}


MODULES = {"xero": xero, "quickbooks": quickbooks, "lightspeed": lightspeed}


@pytest.mark.parametrize(
    ("provider", "object_type", "account", "expected"),
    [
        ("xero", "Invoices", TENANT, "Invoices"),
        ("xero", "Contacts", TENANT, "Contacts"),
        ("quickbooks", "Invoice", REALM, "Invoice"),
        ("lightspeed", "sales", "kowhai-store", "sales"),
        ("lightspeed", "customers", "kowhai-store", "customers"),
    ],
)
def test_what_the_sandbox_sends_verifies_and_names_the_object_type(
    provider: str, object_type: str, account: str, expected: str
) -> None:
    event = payloads.event(provider, account, object_type, "42", {"id": "42"}, "update", 1)
    assert event is not None
    body, headers = payloads.delivery(provider, [event], KEY)
    module = MODULES[provider]
    assert module.verify(body, headers, KEY)
    assert not module.verify(body, headers, KEY + "x")
    assert not module.verify(body + b" ", headers, KEY)
    assert not module.verify(body, {}, KEY)
    notices = module.parse(body, headers)
    assert [(n.account_id, n.object_type) for n in notices] == [(account, expected)]
    assert module.parse(body, headers)[0].key == notices[0].key  # a resend has the same key


def test_quickbooks_cloud_events_verify_and_parse() -> None:
    body = sandbox_event("quickbooks", "Customer", REALM, quickbooks_format="cloudevents")
    assert json.loads(body)[0]["type"] == "qbo.customer.updated.v1"
    headers = headers_of("quickbooks", body)
    assert quickbooks.verify(body, headers, KEY)
    (notice,) = quickbooks.parse(body, headers)
    assert (notice.account_id, notice.object_type) == (REALM, "Customer")


def test_xero_intent_to_receive_has_no_events_and_the_bad_one_fails() -> None:
    body, headers = payloads.delivery("xero", [], KEY)
    assert xero.verify(body, headers, KEY) and xero.parse(body, headers) == []
    bad_body, bad_headers = payloads.delivery("xero", [], KEY, signed=False)
    assert not xero.verify(bad_body, bad_headers, KEY)


def test_lightspeed_accepts_a_base64_signature_and_refuses_other_algorithms() -> None:
    body = sandbox_event("lightspeed", "customers", "kowhai-store")
    digest = hmac.new(KEY.encode(), body, hashlib.sha256).digest()
    b64 = base64.b64encode(digest).decode()
    assert lightspeed.verify(body, {"x-signature": f"signature={b64},algorithm=HMAC-SHA256"}, KEY)
    for header in (
        f"signature={digest.hex()},algorithm=MD5",
        f"signature={digest.hex()}",
        "signature=zz,algorithm=HMAC-SHA256",
        "",
    ):
        assert not lightspeed.verify(body, {"x-signature": header}, KEY)


def _xero(events: object) -> bytes:
    return json.dumps({"events": events, "firstEventSequence": 1, "lastEventSequence": 1}).encode()


def _xero_event(**changes: object) -> dict[str, object]:
    event: dict[str, object] = {
        "resourceUrl": "https://api.xero.com/api.xro/2.0/Invoices/1",
        "resourceId": INVOICE,
        "eventDateUtc": "2026-12-07T09:00:00.000",
        "eventType": "UPDATE",
        "eventCategory": "INVOICE",
        "tenantId": TENANT,
        "tenantType": "ORGANISATION",
    }
    return {**event, **changes}


HOSTILE = [
    ("xero", b"not json"),
    ("xero", b"[" * 100_000),
    ("xero", json.dumps({"events": "nope"}).encode()),
    ("xero", _xero([_xero_event(tenantId="../../etc/passwd")])),
    ("xero", _xero([_xero_event(tenantId=TENANT.upper())])),
    ("xero", _xero([_xero_event(tenantId=TENANT + "\n")])),
    ("xero", _xero([_xero_event(eventCategory="WORMHOLE")])),
    ("xero", _xero([_xero_event(resourceId=12)])),
    ("xero", _xero([_xero_event(resourceId="x" * 10_000)])),
    ("xero", _xero([_xero_event()] * (MAX_EVENTS + 1))),
    ("quickbooks", json.dumps({"eventNotifications": [{"realmId": "12a"}]}).encode()),
    ("quickbooks", json.dumps({"eventNotifications": [{"realmId": "١٢٣"}]}).encode()),
    ("quickbooks", json.dumps([{"specversion": "0.3"}]).encode()),
    (
        "quickbooks",
        json.dumps([{"specversion": "1.0", "intuitaccountid": REALM, "type": "x"}]).encode(),
    ),
    ("quickbooks", json.dumps("a string").encode()),
    ("lightspeed", b"type=sale.update&payload=%7B%7D&domain_prefix=Not.A.Label"),
    ("lightspeed", b"type=sale.update&payload=not-json&domain_prefix=store"),
    ("lightspeed", b"type=sale.update&payload=%7B%7D"),
    ("lightspeed", b"type=rocket.launch&payload=%7B%7D&domain_prefix=store"),
    ("lightspeed", b"\xff\xfe"),
    ("lightspeed", b"type=a&type=b&payload=%7B%7D&domain_prefix=store"),
]


@pytest.mark.parametrize(("provider", "body"), HOSTILE)
def test_signed_but_hostile_payloads_are_refused(provider: str, body: bytes) -> None:
    module = MODULES[provider]
    headers = headers_of(provider, body)
    assert module.verify(body, headers, KEY)  # signed: only the parser stands in the way
    with pytest.raises(InvalidPayload):
        module.parse(body, headers)


def test_events_the_mirror_does_not_keep_are_skipped() -> None:
    subscription = _xero([_xero_event(eventCategory="SUBSCRIPTION", tenantType="APPLICATION")])
    assert xero.parse(subscription, {}) == []
    inventory = urlencode({"type": "inventory.update", "payload": "{}", "domain_prefix": "s"})
    assert lightspeed.parse(inventory.encode(), {}) == []
    unknown_entity = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": REALM,
                    "dataChangeEvent": {
                        "entities": [
                            {
                                "name": "TimeActivity",
                                "id": "1",
                                "operation": "Create",
                                "lastUpdated": "2026-12-07T09:00:00Z",
                            }
                        ]
                    },
                }
            ]
        }
    ).encode()
    assert quickbooks.parse(unknown_entity, {}) == []
