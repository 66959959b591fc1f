"""The sandbox's webhooks: each provider's payload and signature for every change made
through the control API or the provider API, sent in the background, retried on the
provider's schedule (scaled down here) when the receiver fails, to loopback only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from ledgerbridge.providers.lightspeed import webhooks as lightspeed
from ledgerbridge.providers.quickbooks import webhooks as quickbooks
from ledgerbridge.providers.xero import webhooks as xero
from ledgerbridge.sandbox.serve import serving

KEY = "receiver-key-" + "Hw3" * 8
FAST_RETRIES = {"webhook_retry_scale": 0.00001, "rate_limits": False}  # a day in 0.9 s
VERIFIERS: dict[str, Any] = {"xero": xero, "quickbooks": quickbooks, "lightspeed": lightspeed}


@dataclass
class Receiver:
    """A webhook receiver that verifies with ledgerbridge's own verifiers; it answers the
    first ``fail`` deliveries 500, and holds every answer while ``hold`` is clear."""

    url: str = ""
    fail: int = 0
    received: list[tuple[bytes, bool]] = field(default_factory=list)  # (body, verified)
    hold: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, count: int, timeout: float = 20) -> list[tuple[bytes, bool]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} deliveries"
            time.sleep(0.02)
        return self.received


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    state.hold.set()
    app = FastAPI()

    @app.post("/hooks/{provider}")
    async def hook(provider: str, request: Request) -> Response:
        body = await request.body()
        verified = VERIFIERS[provider].verify(body, request.headers, KEY)
        state.hold.wait(30)
        if not body.startswith(b'{"events": []'):  # Xero's intent to receive is not counted
            state.received.append((body, verified))
        if not verified:
            return Response(status_code=401)
        if state.fail > 0 and not body.startswith(b'{"events": []'):
            state.fail -= 1
            return Response(status_code=500)
        return Response(status_code=200)

    with serving(app) as origin:
        state.url = origin
        yield state


def register(sandbox: httpx.Client, receiver: Receiver, provider: str, **extra: str) -> Any:
    answer = sandbox.put(
        f"/_sandbox/webhooks/{provider}",
        json={"url": f"{receiver.url}/hooks/{provider}", "key": KEY, **extra},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def account(sandbox: httpx.Client, provider: str) -> str:
    return next(
        a["account_id"]
        for a in sandbox.get("/_sandbox/accounts").json()
        if a["provider"] == provider
    )


def deliveries(sandbox: httpx.Client, until: Callable[[list[Any]], bool]) -> list[Any]:
    deadline = time.monotonic() + 30
    while True:
        found: list[Any] = sandbox.get("/_sandbox/webhooks").json()["deliveries"]
        if until(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


@pytest.mark.sandbox(settings=FAST_RETRIES)
def test_xero_checks_intent_to_receive_then_sends_signed_invoice_events(
    sandbox: httpx.Client, receiver: Receiver, connect: Callable[..., dict[str, Any]]
) -> None:
    registered = register(sandbox, receiver, "xero")
    assert registered["active"] is True
    assert [c["ok"] for c in registered["intent_to_receive"]] == [True, True, True]
    tenant = account(sandbox, "xero")
    invoice = sandbox.get(f"/_sandbox/xero/{tenant}/Invoices", params={"limit": 1}).json()[0]
    sandbox.patch(
        f"/_sandbox/xero/{tenant}/Invoices/{invoice['InvoiceID']}", json={"Reference": "x"}
    )
    # A change through Xero's own API sends one too (the contact is created, then updated).
    tokens = connect("xero", [tenant])
    made = httpx.put(
        f"{sandbox.base_url}/xero/api.xro/2.0/Contacts",
        json={"Contacts": [{"Name": "Tūī Webhooks Ltd"}]},
        headers={"Authorization": f"Bearer {tokens['access_token']}", "xero-tenant-id": tenant},
    )
    assert made.status_code == 200, made.text
    received = receiver.wait_for(2)
    assert all(verified for _, verified in received)
    events = [n for body, _ in received for n in xero.parse(body, {})]
    assert {(n.account_id, n.object_type) for n in events} == {
        (tenant, "Invoices"),
        (tenant, "Contacts"),
    }


@pytest.mark.sandbox(settings=FAST_RETRIES)
@pytest.mark.parametrize("format", ["classic", "cloudevents"])
def test_quickbooks_sends_either_format(
    sandbox: httpx.Client, receiver: Receiver, format: str
) -> None:
    register(sandbox, receiver, "quickbooks", format=format)
    realm = account(sandbox, "quickbooks")
    made = sandbox.post(f"/_sandbox/quickbooks/{realm}/Customer", json={"DisplayName": "Kea Ltd"})
    assert made.status_code == 201, made.text
    ((body, verified),) = receiver.wait_for(1)
    assert verified
    assert body.startswith(b"[") == (format == "cloudevents")
    (notice,) = quickbooks.parse(body, {})
    assert (notice.account_id, notice.object_type) == (realm, "Customer")


@pytest.mark.sandbox(settings=FAST_RETRIES)
def test_lightspeed_retries_a_failing_receiver_with_the_same_delivery(
    sandbox: httpx.Client, receiver: Receiver
) -> None:
    register(sandbox, receiver, "lightspeed")
    receiver.fail = 2
    store = account(sandbox, "lightspeed")
    customer = sandbox.get(f"/_sandbox/lightspeed/{store}/customers", params={"limit": 1}).json()[0]
    sandbox.patch(f"/_sandbox/lightspeed/{store}/customers/{customer['id']}", json={"note": "n"})
    received = receiver.wait_for(3)
    assert len({body for body, _ in received}) == 1  # the same delivery, three times
    (notice,) = lightspeed.parse(received[0][0], {})
    assert (notice.account_id, notice.object_type) == (store, "customers")
    (delivery,) = deliveries(sandbox, lambda found: found[0]["status"] == "delivered")
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 200]


@pytest.mark.sandbox(settings=FAST_RETRIES)
def test_xero_gives_up_after_its_retries_and_disables_the_webhook(
    sandbox: httpx.Client, receiver: Receiver
) -> None:
    register(sandbox, receiver, "xero")
    receiver.fail = 1_000
    tenant = account(sandbox, "xero")
    sandbox.post(f"/_sandbox/xero/{tenant}/Contacts", json={"Name": "Never Delivered"})
    (delivery,) = deliveries(sandbox, lambda found: found[0]["status"] == "failed")
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 10
    (registration,) = sandbox.get("/_sandbox/webhooks").json()["registrations"]
    assert registration["active"] is False
    sandbox.post(f"/_sandbox/xero/{tenant}/Contacts", json={"Name": "Not Sent"})
    assert len(sandbox.get("/_sandbox/webhooks").json()["deliveries"]) == 1


@pytest.mark.sandbox(settings=FAST_RETRIES)
def test_a_change_never_waits_for_the_receiver(sandbox: httpx.Client, receiver: Receiver) -> None:
    register(sandbox, receiver, "quickbooks")
    receiver.hold.clear()  # the receiver now answers nothing until released
    realm = account(sandbox, "quickbooks")
    for n in range(3):
        made = sandbox.post(f"/_sandbox/quickbooks/{realm}/Customer", json={"DisplayName": f"C{n}"})
        assert made.status_code == 201
    assert receiver.received == []  # all three changes made while no delivery was answered
    receiver.hold.set()
    assert len(receiver.wait_for(3)) == 3


@pytest.mark.sandbox(settings=FAST_RETRIES)
def test_reset_forgets_webhooks_and_seeding_sends_none(
    sandbox: httpx.Client, receiver: Receiver
) -> None:
    register(sandbox, receiver, "lightspeed")
    sandbox.post("/_sandbox/reset").raise_for_status()
    assert sandbox.get("/_sandbox/webhooks").json() == {"registrations": [], "deliveries": []}
    assert receiver.received == []
