"""The webhook endpoints in-process, on both databases: signatures, handshakes, resends,
unknown accounts and hostile bodies, and a burst coalesced into one targeted sync."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.inbound import service
from ledgerbridge.sandbox.serve import serving
from ledgerbridge.sandbox.webhooks import payloads
from ledgerbridge.services import Services
from ledgerbridge.sync.models import SyncRun
from tests.connections.conftest import accounts, connect
from tests.inbound.conftest import KEYS, XERO_KEY, coalescing, notifications, signed

ACCOUNT_OF = {"xero": 0, "quickbooks": 0, "lightspeed": 0}
OBJECT_TYPE = {"xero": "Invoices", "quickbooks": "Invoice", "lightspeed": "sales"}


def connected(
    lb: TestClient, sandbox: httpx.Client, auth: Any, tenant: str, provider: str
) -> tuple[str, str]:
    account = accounts(sandbox, provider)[0]["account_id"]
    (connection,) = connect(lb, auth(tenant), provider, [account])
    return connection["id"], account


def post(lb: TestClient, provider: str, body: bytes, headers: dict[str, str]) -> Any:
    return lb.post(f"/v1/provider-webhooks/{provider}", content=body, headers=headers)


@pytest.mark.parametrize("provider", ["xero", "quickbooks", "lightspeed"])
def test_a_wrong_or_missing_signature_is_401_and_nothing_is_stored(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str, provider: str
) -> None:
    connection_id, account = connected(lb, sandbox, auth, tenant, provider)
    body, headers = signed(provider, account, OBJECT_TYPE[provider], "1", key="not-the-key")
    good_body, good_headers = signed(provider, account, OBJECT_TYPE[provider], "1")
    attempts = [
        (body, headers),  # signed with another key
        (good_body, {"content-type": good_headers["content-type"]}),  # no signature
        (good_body + b" ", good_headers),  # the body changed after signing
        (good_body, {k: v.upper() for k, v in good_headers.items()}),  # mangled signature
    ]
    for attempt_body, attempt_headers in attempts:
        answer = post(lb, provider, attempt_body, attempt_headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"] == "invalid_signature"
        assert KEYS[provider] not in answer.text
    assert notifications(svc, connection_id) == []
    assert coalescing(svc, connection_id) == []


def test_a_provider_without_a_key_refuses_everything(
    sandbox_url: str, database_url: str, tmp_path: Any
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(database_url, tmp_path, sandbox_url=sandbox_url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        body, headers = signed("xero", "5e7f2a9c-1d3b-4c8e-9f60-a1b2c3d4e5f6", "Invoices", "1")
        assert post(client, "xero", body, headers).status_code == 401
        intent, intent_headers = payloads.delivery("xero", [], XERO_KEY)
        assert post(client, "xero", intent, intent_headers).status_code == 401


def test_xero_intent_to_receive(lb: TestClient, svc: Services) -> None:
    body, headers = payloads.delivery("xero", [], XERO_KEY)
    answer = post(lb, "xero", body, headers)
    assert answer.status_code == 200 and answer.content == b""
    assert "set-cookie" not in answer.headers
    bad, bad_headers = payloads.delivery("xero", [], XERO_KEY, signed=False)
    assert post(lb, "xero", bad, bad_headers).status_code == 401


def test_the_sandbox_registration_checks_intent_to_receive_over_http(
    svc: Services, sandbox: httpx.Client
) -> None:
    with serving(create_app(svc=svc)) as origin:
        url = f"{origin}/v1/provider-webhooks/xero"
        good = sandbox.put("/_sandbox/webhooks/xero", json={"url": url, "key": XERO_KEY})
        assert good.status_code == 200, good.text
        assert good.json()["active"] is True
        assert [c["status"] for c in good.json()["intent_to_receive"]] == [200, 401, 200]
        wrong = sandbox.put("/_sandbox/webhooks/xero", json={"url": url, "key": "other"})
        assert wrong.json()["active"] is False  # our 401s to its "good" checks fail it
        assert wrong.json()["disabled_reason"] == "intent to receive failed"


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest",
        "http://[fe80::1]/hook",
        "http://example.com/hook",
        "http://127.0.0.1.nip.io/hook",
        "ftp://127.0.0.1/hook",
    ],
)
def test_the_sandbox_sends_webhooks_to_loopback_only(sandbox: httpx.Client, url: str) -> None:
    # Refused from the URL's text alone: no name is resolved, no packet is sent.
    answer = sandbox.put("/_sandbox/webhooks/quickbooks", json={"url": url, "key": "k"})
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_url"
    assert sandbox.get("/_sandbox/webhooks").json()["registrations"] == []


@pytest.mark.parametrize(
    ("provider", "options"),
    [
        ("xero", {}),
        ("quickbooks", {}),
        ("quickbooks", {"quickbooks_format": "cloudevents"}),
        ("lightspeed", {}),
    ],
)
def test_a_resent_notification_is_stored_once_and_claimed_by_one_targeted_sync(
    lb: TestClient,
    svc: Services,
    sandbox: httpx.Client,
    auth: Any,
    tenant: str,
    provider: str,
    options: dict[str, str],
) -> None:
    connection_id, account = connected(lb, sandbox, auth, tenant, provider)
    body, headers = signed(provider, account, OBJECT_TYPE[provider], "77", **options)
    for _ in range(3):
        answer = post(lb, provider, body, headers)
        assert answer.status_code == 200, answer.text
    (stored,) = notifications(svc, connection_id)
    assert (stored.object_type, stored.claimed_at, stored.tenant_id) == (
        OBJECT_TYPE[provider],
        None,
        tenant,
    )
    assert coalescing(svc, connection_id) == [service.coalesce_id(int(connection_id), stored.id)]

    run_id = service.claim(svc, int(connection_id))  # what the coalescing workflow does
    assert run_id is not None
    with svc.db.system(read_only=True) as session:
        run = session.get(SyncRun, run_id)
        assert run is not None
        assert (run.trigger, run.object_types, run.full_resync) == (
            "webhook",
            [OBJECT_TYPE[provider]],
            False,
        )
    assert service.claim(svc, int(connection_id)) is None  # nothing left to claim
    assert post(lb, provider, body, headers).status_code == 200  # resent after the sync
    (again,) = notifications(svc, connection_id)
    assert again.sync_run_id == run_id


def test_fifty_notifications_in_a_burst_become_one_sync(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    connection_id, realm = connected(lb, sandbox, auth, tenant, "quickbooks")
    for n in range(50):
        entity = ("Invoice", "Customer", "Payment")[n % 3]
        body, headers = signed("quickbooks", realm, entity, str(n))
        assert post(lb, "quickbooks", body, headers).status_code == 200
    stored = notifications(svc, connection_id)
    assert len(stored) == 50
    assert coalescing(svc, connection_id) == [service.coalesce_id(int(connection_id), stored[0].id)]
    run_id = service.claim(svc, int(connection_id))
    assert {n.sync_run_id for n in notifications(svc, connection_id)} == {run_id}
    with svc.db.system(read_only=True) as session:
        run = session.get(SyncRun, run_id)
        assert run is not None and sorted(run.object_types) == ["Customer", "Invoice", "Payment"]


def test_an_account_no_connection_reaches_is_dropped(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    connection_id, _ = connected(lb, sandbox, auth, tenant, "xero")
    stranger = "0a1b2c3d-0000-4000-8000-000000000000"
    body, headers = signed("xero", stranger, "Invoices", "1")
    assert post(lb, "xero", body, headers).status_code == 200  # Xero must not retry it
    assert notifications(svc, connection_id) == []
    with svc.db.system(read_only=True) as session:
        from sqlalchemy import func, select

        from ledgerbridge.inbound.models import ProviderNotification

        assert (
            session.scalar(select(func.count()).where(ProviderNotification.tenant_id == tenant))
            == 0
        )


def test_hostile_bodies_are_4xx_and_nothing_is_stored(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    connection_id, account = connected(lb, sandbox, auth, tenant, "xero")
    huge = json.dumps({"events": [], "pad": "x" * 600_000}).encode()
    assert post(lb, "xero", huge, {"content-type": "application/json"}).status_code == 413
    deep = b'{"events": ' + b"[" * 200 + b"]" * 200 + b"}"
    too_deep = post(lb, "xero", deep, {"content-type": "application/json"})
    assert too_deep.status_code == 422
    event = payloads.event("xero", account, "Invoices", "1", None, "update", 1)
    assert event is not None
    for bad in ({**event, "tenantId": "' OR 1=1 --"}, {**event, "eventCategory": 5}):
        body, headers = payloads.delivery("xero", [bad], XERO_KEY)
        answer = post(lb, "xero", body, headers)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_payload"
        assert "OR 1=1" not in answer.text
    assert notifications(svc, connection_id) == []


def test_a_burst_that_goes_on_is_waited_for_but_not_for_ever(
    lb: TestClient, svc: Services, sandbox: httpx.Client, auth: Any, tenant: str
) -> None:
    connection_id, realm = connected(lb, sandbox, auth, tenant, "quickbooks")
    for n in range(2):
        body, headers = signed("quickbooks", realm, "Invoice", str(n))
        assert post(lb, "quickbooks", body, headers).status_code == 200
    first, newest = notifications(svc, connection_id)
    cid = int(connection_id)
    window = svc.settings.provider_webhook_coalesce_seconds
    going_on = service.unsettled(svc, cid, newest.received_at + timedelta(seconds=1))
    assert going_on is not None and going_on[0] == first.id
    assert 0 < going_on[1] <= window - 1
    assert service.unsettled(svc, cid, newest.received_at + timedelta(seconds=window)) is None
    svc.settings.provider_webhook_max_wait_seconds = 0.5  # this test's own settings
    assert service.unsettled(svc, cid, newest.received_at + timedelta(seconds=1)) is None
    service.claim(svc, cid)
    assert service.unsettled(svc, cid, newest.received_at) is None  # nothing pending
