"""Both directions at once, through the real service (``ledgerbridge up``, DBOS for real):
an invoice changed in the sandbox → the emulated provider's signed webhook → verified →
one targeted sync → a ``record.updated`` delivered to the host app's receiver, signed so
that ``standardwebhooks`` verifies it; the receiver's 500 is retried with the same
``webhook-id``, and a replay carries it again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.inbound.conftest import QUICKBOOKS_KEY, XERO_KEY
from tests.inbound.test_end_to_end import CHANGES, WEBHOOK_SETTINGS, prepare
from tests.processes import ORG, service
from tests.webhooks.receiver import receiving
from tests.webhooks.test_processes import SETTINGS, deliveries, endpoint, until


@pytest.mark.sandbox(seed=4, size=12, settings=WEBHOOK_SETTINGS)
@pytest.mark.parametrize("provider", ["xero", "quickbooks", "lightspeed"])
def test_a_provider_change_reaches_the_host_app_signed_retried_and_replayed(
    database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any, provider: str
) -> None:
    admin = auth(ORG, "admin")
    object_type, id_field, change = CHANGES[provider]
    with (
        receiving() as receiver,
        service(
            database,
            sandbox_url,
            tmp_path,
            LEDGERBRIDGE_XERO_WEBHOOK_KEY=XERO_KEY,
            LEDGERBRIDGE_QUICKBOOKS_WEBHOOK_VERIFIER=QUICKBOOKS_KEY,
            LEDGERBRIDGE_PROVIDER_WEBHOOK_COALESCE_SECONDS="1",
            **SETTINGS,
        ) as lb,
    ):
        account, connection_id, _ = prepare(lb, sandbox, admin, provider)
        made = endpoint(lb, receiver, admin, event_types=["record.updated"])
        record = sandbox.get(f"/_sandbox/{provider}/{account}/{object_type}").json()[-1]
        record_id = str(record[id_field])
        receiver.answer(500, "not now")
        sandbox.patch(
            f"/_sandbox/{provider}/{account}/{object_type}/{record_id}", json=change
        ).raise_for_status()

        until("a retry after the 500", lambda: len(receiver.received) >= 2, timeout=90)
        first, second = receiver.received[:2]
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        assert first.body == second.body
        payload = Webhook(made["secret"]).verify(second.body, second.headers)
        assert payload["type"] == "record.updated"
        assert payload["data"]["remote_id"] == record_id
        assert payload["data"]["connection_id"] == connection_id
        [delivery] = until(
            "the delivery to succeed",
            lambda: deliveries(lb, made["id"], admin, status="succeeded"),
        )
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]
        replay = httpx.post(f"{lb.url}/v1/webhook-deliveries/{delivery['id']}/retry", headers=admin)
        assert replay.status_code == 202, replay.text
        until("the replay", lambda: len(receiver.received) >= 3)
        third = receiver.received[2]
        assert third.headers["webhook-id"] == first.headers["webhook-id"]
        Webhook(made["secret"]).verify(third.body, third.headers)
