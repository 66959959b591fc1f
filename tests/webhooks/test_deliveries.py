"""Deliveries from the event feed to a receiver on 127.0.0.1: signed as Standard Webhooks
says (checked with the ``standardwebhooks`` package), retried with the same webhook-id,
re-sent on request, dead-lettered, and endpoints disabled when they are gone."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ledgerbridge import housekeeping
from ledgerbridge.db.base import utcnow
from ledgerbridge.events.service import append
from ledgerbridge.services import Services
from ledgerbridge.webhooks.models import WebhookCursor, WebhookDelivery, WebhookEndpoint
from tests.webhooks.conftest import Attempt, dispatch_once
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_endpoints import create


def emit(svc: Services, tenant: str, type: str, **data: Any) -> str:
    with svc.db.tenant(tenant) as session:
        event = append(session, tenant, type, f"test:{type}", **data)
        session.flush()
        return str(event.id)


def deliveries(lb: TestClient, headers: dict[str, str], endpoint: str, **params: str) -> Any:
    answer = lb.get(f"/v1/webhook-endpoints/{endpoint}/deliveries", headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def verified(secret: str, request: Any) -> Any:
    return Webhook(secret).verify(request.body, request.headers)


RECORD = {"model": "invoice", "record_id": "9", "remote_id": "INV-9", "connection_id": "3"}


def test_a_record_event_is_delivered_once_and_verifies_with_standardwebhooks(
    lb: TestClient, svc: Services, auth: Any, tenant: str, receiver: Receiver, attempt: Attempt
) -> None:
    admin = auth(tenant, "admin")
    emit(svc, tenant, "record.updated", **RECORD)  # before the endpoint: never sent
    made = create(lb, admin, f"{receiver.url}/hooks", event_types=["record.updated"])
    emit(svc, tenant, "sync.completed", sync_run_id="1")  # not subscribed
    event_id = emit(svc, tenant, "record.updated", **RECORD)
    assert dispatch_once(svc) >= 1
    [delivery] = deliveries(lb, admin, made["id"])
    assert delivery["event_id"] == event_id and delivery["status"] == "pending"
    assert attempt(delivery["id"]) is None
    [request] = receiver.received
    assert request.path == "/hooks"
    payload = verified(made["secret"], request)
    assert payload["id"] == event_id and payload["type"] == "record.updated"
    assert payload["data"] == RECORD and payload["timestamp"].endswith("Z")
    assert request.headers["webhook-id"] == delivery["webhook_id"]
    assert request.headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(request.body, request.headers)
    # The recipe docs/webhooks.md gives for verifying without a library, byte for byte.
    key = base64.b64decode(made["secret"].removeprefix("whsec_"))
    headers = request.headers
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
    mac = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"].split(" ") == [f"v1,{mac}"]
    [done] = deliveries(lb, admin, made["id"])
    assert done["status"] == "succeeded"
    [tried] = done["attempts"]
    assert tried["status_code"] == 200 and tried["response_body"] == "ok"
    assert tried["latency_ms"] is not None and tried["error"] is None
    # The cursor moved with the deliveries; read the whole feed again: nothing new.
    with svc.db.tenant(tenant) as session:
        session.execute(update(WebhookCursor).values(after_xid=-1, after_id=0))
    dispatch_once(svc)
    assert len(deliveries(lb, admin, made["id"])) == 1


def test_a_failed_attempt_is_retried_with_the_same_webhook_id_and_can_be_replayed(
    lb: TestClient, svc: Services, auth: Any, tenant: str, receiver: Receiver, attempt: Attempt
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/h")
    emit(svc, tenant, "operation.succeeded", operation_id="5")
    dispatch_once(svc)
    [delivery] = deliveries(lb, admin, made["id"])
    receiver.answer(500, "boom")
    wait = attempt(delivery["id"])
    assert wait is not None and 0.5 < wait < 1.5  # the schedule's second wait, jittered
    pending = deliveries(lb, admin, made["id"], status="pending")
    assert [a["status_code"] for a in pending[0]["attempts"]] == [500]
    assert pending[0]["attempts"][0]["response_body"] == "boom"
    assert attempt(delivery["id"]) is None
    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery["webhook_id"]
    assert first.body == second.body
    assert verified(made["secret"], second)["type"] == "operation.synced"
    replayed = lb.post(
        f"/v1/webhook-deliveries/{delivery['id']}/retry", headers=auth(tenant, "developer")
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["status"] == "pending"
    again = lb.post(f"/v1/webhook-deliveries/{delivery['id']}/retry", headers=admin)
    assert again.status_code == 409  # still being attempted
    assert attempt(delivery["id"]) is None
    third = receiver.received[2]
    assert third.headers["webhook-id"] == delivery["webhook_id"] and third.body == first.body
    verified(made["secret"], third)
    log = lb.get(f"/v1/webhook-deliveries/{delivery['id']}", headers=admin).json()
    assert log["status"] == "succeeded"
    assert [(a["replay"], a["number"], a["status_code"]) for a in log["attempts"]] == [
        (0, 0, 500),
        (0, 1, 200),
        (1, 0, 200),
    ]


def test_a_test_delivery_is_handed_over_at_once_not_left_to_the_dispatcher(
    lb: TestClient, svc: Services, auth: Any, tenant: str, receiver: Receiver
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/h")
    sent = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin)
    assert sent.status_code == 202, sent.text
    with svc.db.system(read_only=True) as session:
        delivery = session.get(WebhookDelivery, int(sent.json()["id"]))
        assert delivery is not None and delivery.enqueued


def test_after_rotation_each_delivery_carries_both_signatures_for_a_day(
    lb: TestClient, svc: Services, auth: Any, tenant: str, receiver: Receiver, attempt: Attempt
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/h")
    new = lb.post(f"/v1/webhook-endpoints/{made['id']}/rotate-secret", headers=admin).json()
    sent = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin)
    assert sent.status_code == 202 and sent.json()["event_type"] == "webhook.test"
    attempt(sent.json()["id"])
    request = receiver.received[-1]
    signatures = request.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    assert verified(new["secret"], request)["type"] == "webhook.test"
    assert verified(made["secret"], request)["data"] == {"endpoint_id": made["id"]}
    with svc.db.tenant(tenant) as session:  # a day later, the old secret no longer signs
        session.execute(
            update(WebhookEndpoint).values(previous_secret_expires_at=utcnow() - timedelta(1))
        )
    later = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin).json()
    attempt(later["id"])
    last = receiver.received[-1]
    assert len(last.headers["webhook-signature"].split(" ")) == 1
    verified(new["secret"], last)
    with pytest.raises(WebhookVerificationError):
        verified(made["secret"], last)


def test_410_gone_disables_the_endpoint_and_an_event_says_so(
    lb: TestClient, svc: Services, auth: Any, tenant: str, receiver: Receiver, attempt: Attempt
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/h", event_types=["connection.created"])
    emit(svc, tenant, "connection.created", connection_id="1")
    emit(svc, tenant, "connection.created", connection_id="2")
    dispatch_once(svc)
    first, second = deliveries(lb, admin, made["id"])
    receiver.answer(410, "gone")
    assert attempt(first["id"]) is None
    endpoint = lb.get(f"/v1/webhook-endpoints/{made['id']}", headers=admin).json()
    assert endpoint["status"] == "disabled" and "410" in endpoint["disabled_reason"]
    states = {d["id"]: d["status"] for d in deliveries(lb, admin, made["id"])}
    assert states == {first["id"]: "failed", second["id"]: "failed"}
    assert attempt(second["id"]) is None and len(receiver.received) == 1
    events = lb.get("/v1/events", params={"type": "endpoint.disabled"}, headers=admin).json()
    [disabled] = events["data"]
    assert disabled["data"]["endpoint_id"] == made["id"]
    retry = lb.post(f"/v1/webhook-deliveries/{first['id']}/retry", headers=admin)
    assert retry.status_code == 409


def test_an_endpoint_failing_for_five_days_is_disabled(
    lb: TestClient, svc: Services, auth: Any, tenant: str, receiver: Receiver, attempt: Attempt
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/h")
    other = create(lb, admin, f"{receiver.url}/other", event_types=["endpoint.disabled"])
    with svc.db.tenant(tenant) as session:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == int(made["id"]))
            .values(failing_since=utcnow() - timedelta(days=5, minutes=1))
        )
    sent = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin).json()
    receiver.answer(503)
    assert attempt(sent["id"]) is None
    endpoint = lb.get(f"/v1/webhook-endpoints/{made['id']}", headers=admin).json()
    assert endpoint["status"] == "disabled" and "5 days" in endpoint["disabled_reason"]
    dispatch_once(svc)  # the endpoint.disabled event goes to the endpoint that wants it
    [notice] = deliveries(lb, admin, other["id"])
    assert notice["event_type"] == "endpoint.disabled"
    attempt(notice["id"])
    told = json.loads(receiver.received[-1].body)
    assert told["type"] == "endpoint.disabled" and told["data"]["endpoint_id"] == made["id"]


def test_after_the_last_attempt_the_delivery_is_failed(
    lb: TestClient, svc: Services, auth: Any, tenant: str, receiver: Receiver, attempt: Attempt
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/h")
    sent = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin).json()
    for _ in range(4):
        receiver.answer(500)
    waits = [attempt(sent["id"]) for _ in range(4)]
    assert waits[-1] is None and all(w is not None for w in waits[:-1])
    [failed] = deliveries(lb, admin, made["id"], status="failed")
    assert len(failed["attempts"]) == 4 and "after 4 attempts" in failed["last_error"]
    assert deliveries(lb, admin, made["id"], status="succeeded") == []
    endpoint = lb.get(f"/v1/webhook-endpoints/{made['id']}", headers=admin).json()
    assert endpoint["status"] == "enabled" and endpoint["failing_since"] is not None


@pytest.mark.parametrize("status", [429, 502, 504])
def test_throttling_answers_wait_for_their_retry_after(
    lb: TestClient,
    svc: Services,
    auth: Any,
    tenant: str,
    receiver: Receiver,
    attempt: Attempt,
    status: int,
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/h")
    sent = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin).json()
    receiver.answer(status, **{"Retry-After": "120"})
    wait = attempt(sent["id"])
    assert wait is not None and 119 < wait <= 120
    receiver.answer(500, **{"Retry-After": "120"})  # others keep the schedule
    wait = attempt(sent["id"])
    assert wait is not None and wait < 2


def test_a_slow_receiver_times_out(
    lb: TestClient, svc: Services, auth: Any, tenant: str, attempt: Attempt
) -> None:
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"http://127.0.0.1:{port}/slow")
    sent = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin).json()
    assert attempt(sent["id"]) is not None  # never answers: retried later
    [tried] = deliveries(lb, admin, made["id"])[0]["attempts"]
    assert tried["status_code"] is None and "within 5 s" in tried["error"]
    for conn in accepted:
        conn.close()
    listener.close()


def test_deliveries_go_only_to_enabled_matching_endpoints_of_the_tenant(
    lb: TestClient, svc: Services, auth: Any, tenant: str, receiver: Receiver
) -> None:
    admin = auth(tenant, "admin")
    wants = create(lb, admin, f"{receiver.url}/a", event_types=["sync.completed"])
    every = create(lb, admin, f"{receiver.url}/b")
    off = create(lb, admin, f"{receiver.url}/c")
    lb.patch(f"/v1/webhook-endpoints/{off['id']}", json={"enabled": False}, headers=admin)
    elsewhere = create(lb, auth(tenant + "-x", "admin"), f"{receiver.url}/d")
    emit(svc, tenant, "sync.completed", sync_run_id="1")
    emit(svc, tenant, "record.created", **RECORD)
    dispatch_once(svc)
    assert [d["event_type"] for d in deliveries(lb, admin, wants["id"])] == ["sync.completed"]
    assert [d["event_type"] for d in deliveries(lb, admin, every["id"])] == [
        "endpoint.disabled",  # the endpoint disabled above
        "sync.completed",
        "record.created",
    ]
    assert deliveries(lb, admin, off["id"]) == []
    assert deliveries(lb, auth(tenant + "-x", "admin"), elsewhere["id"]) == []
    with svc.db.tenant(tenant) as session:
        assert session.scalars(select(WebhookCursor)).one().after_id > 0


def test_finished_deliveries_are_pruned_with_their_attempts(
    lb: TestClient, svc: Services, auth: Any, tenant: str, receiver: Receiver, attempt: Attempt
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/h")
    done = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin).json()
    attempt(done["id"])
    waiting = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=admin).json()
    assert housekeeping.prune_deliveries_before(svc, utcnow()) == 0  # within the retention
    later = utcnow() + timedelta(days=svc.settings.event_retention_days + 1)
    assert housekeeping.prune_deliveries_before(svc, later) >= 1
    assert [d["id"] for d in deliveries(lb, admin, made["id"])] == [waiting["id"]]


def test_events_while_every_endpoint_was_disabled_are_not_sent_later(
    lb: TestClient, svc: Services, auth: Any, tenant: str, receiver: Receiver
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/h")
    url = f"/v1/webhook-endpoints/{made['id']}"
    assert lb.patch(url, json={"enabled": False}, headers=admin).status_code == 200
    emit(svc, tenant, "connection.created", connection_id="1")
    dispatch_once(svc)  # no enabled endpoint: the tenant's feed is not read
    assert lb.patch(url, json={"enabled": True}, headers=admin).json()["status"] == "enabled"
    after = emit(svc, tenant, "connection.created", connection_id="2")
    dispatch_once(svc)
    assert [d["event_id"] for d in deliveries(lb, admin, made["id"])] == [after]
