"""Webhooks through the real service (``ledgerbridge up``, DBOS for real) and a receiver
on 127.0.0.1: an invoice changed in the sandbox arrives as a signed ``record.updated``,
is retried after a 500 with the same webhook-id and replayed on request; a SIGKILL between
attempts loses no delivery and sends none twice."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.processes import ORG, Service, connect, service
from tests.webhooks.receiver import Receiver, receiving

SETTINGS = {
    "LEDGERBRIDGE_PROVIDER_CALL_BUDGETS": "false",
    "LEDGERBRIDGE_WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",  # the receiver is on 127.0.0.1
    "LEDGERBRIDGE_WEBHOOK_RETRY_SCHEDULE": "0,3,3,3,3",
    "LEDGERBRIDGE_WEBHOOK_DISPATCH_SECONDS": "1",
}


def until(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout}s")


def sync(lb: Service, connection_id: str, headers: dict[str, str]) -> None:
    started = httpx.post(f"{lb.url}/v1/connections/{connection_id}/syncs", json={}, headers=headers)
    assert started.status_code == 202, started.text
    run_id = started.json()["sync_run_id"]

    def finished() -> Any:
        run = httpx.get(f"{lb.url}/v1/sync-runs/{run_id}", headers=headers).json()
        return run if run["status"] in ("succeeded", "failed") else None

    assert until("the sync", finished)["status"] == "succeeded"


def endpoint(lb: Service, receiver: Receiver, headers: dict[str, str], **body: Any) -> Any:
    made = httpx.post(
        f"{lb.url}/v1/webhook-endpoints",
        json={"url": f"{receiver.url}/hooks", **body},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    return made.json()


def deliveries(lb: Service, endpoint_id: str, headers: dict[str, str], **params: str) -> Any:
    answer = httpx.get(
        f"{lb.url}/v1/webhook-endpoints/{endpoint_id}/deliveries", params=params, headers=headers
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


@pytest.mark.sandbox(seed=21, size=5, settings={"rate_limits": False})
def test_a_changed_invoice_arrives_signed_is_retried_and_replayed(
    database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any
) -> None:
    admin = auth(ORG, "admin")
    org = next(a for a in sandbox.get("/_sandbox/accounts").json() if a["provider"] == "xero")
    with receiving() as receiver, service(database, sandbox_url, tmp_path, **SETTINGS) as lb:
        connection_id = connect(lb, admin, "xero", org["account_id"])
        sync(lb, connection_id, admin)  # the backfill comes before the endpoint
        made = endpoint(lb, receiver, admin, event_types=["record.updated"])
        invoice = sandbox.get(f"/_sandbox/xero/{org['account_id']}/Invoices").json()[0]
        changed = sandbox.patch(
            f"/_sandbox/xero/{org['account_id']}/Invoices/{invoice['InvoiceID']}",
            json={"Reference": "changed for the webhook"},
        )
        changed.raise_for_status()
        receiver.answer(500, "not now")
        sync(lb, connection_id, admin)
        until("a retry after the 500", lambda: len(receiver.received) >= 2)
        first, second = receiver.received[:2]
        payload = Webhook(made["secret"]).verify(second.body, second.headers)
        assert payload["type"] == "record.updated"
        assert payload["data"]["remote_id"] == invoice["InvoiceID"]
        assert payload["data"]["connection_id"] == connection_id
        assert payload["data"]["record"]["reference"] == "changed for the webhook"
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert first.body == second.body
        [delivery] = until(
            "the delivery to succeed",
            lambda: deliveries(lb, made["id"], admin, status="succeeded"),
        )
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
        assert delivery["attempts"][0]["response_body"] == "not now"
        replay = httpx.post(f"{lb.url}/v1/webhook-deliveries/{delivery['id']}/retry", headers=admin)
        assert replay.status_code == 202, replay.text
        until("the replay", lambda: len(receiver.received) >= 3)
        third = receiver.received[2]
        assert third.headers["webhook-id"] == first.headers["webhook-id"]
        Webhook(made["secret"]).verify(third.body, third.headers)
        time.sleep(2)  # nothing else comes: one record changed, one delivery
        assert len(receiver.received) == 3


@pytest.mark.slow
@pytest.mark.sandbox(seed=22, size=5, settings={"rate_limits": False})
def test_a_sigkill_between_attempts_loses_no_delivery(
    database: str, sandbox_url: str, tmp_path: Path, auth: Any
) -> None:
    admin = auth(ORG, "admin")
    count = 6
    with receiving() as receiver, service(database, sandbox_url, tmp_path, **SETTINGS) as lb:
        made = endpoint(lb, receiver, admin)
        for _ in range(count):
            receiver.answer(500, "down")
        sent = [
            httpx.post(f"{lb.url}/v1/webhook-endpoints/{made['id']}/test", headers=admin)
            for _ in range(count)
        ]
        assert all(s.status_code == 202 for s in sent), [s.text for s in sent]

        def all_failed_once() -> bool:
            found = deliveries(lb, made["id"], admin, status="pending")
            return len(found) == count and all(len(d["attempts"]) == 1 for d in found)

        until("every first attempt recorded", all_failed_once)
        lb.kill()  # the retries are waiting (3 s) in the durable runtime
        time.sleep(1)
        lb.start()
        done = until(
            "every delivery to succeed after the restart",
            lambda: (
                (found := deliveries(lb, made["id"], admin, status="succeeded"))
                and len(found) == count
                and found
            ),
            timeout=90,
        )
        time.sleep(4)  # past another retry delay: nothing more arrives
    ids = {d["webhook_id"] for d in done}
    assert len(ids) == count
    per_id = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert per_id == dict.fromkeys(ids, 2), per_id  # one 500 and one success each, no more
    for delivery in done:
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
    for request in receiver.received:
        Webhook(made["secret"]).verify(request.body, request.headers)
