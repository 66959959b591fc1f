"""End to end through the real service (``ledgerbridge up``, DBOS for real) and the
sandbox over HTTP: a record changed in the sandbox → the provider's webhook → verified →
one targeted sync → the change in the mirror and a ``record.updated`` in the event feed."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.inbound.conftest import QUICKBOOKS_KEY, XERO_KEY
from tests.processes import ORG, Service, connect, service

WEBHOOK_SETTINGS = {"rate_limits": False, "webhook_retry_scale": 0.00001}
# provider -> (object type, record id field, a change the control API makes)
CHANGES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "xero": ("Invoices", "InvoiceID", {"Reference": "changed by webhook test"}),
    "quickbooks": ("Invoice", "Id", {"PrivateNote": "changed by webhook test"}),
    "lightspeed": ("sales", "id", {"note": "changed by webhook test"}),
}
KEYS = {"xero": XERO_KEY, "quickbooks": QUICKBOOKS_KEY, "lightspeed": "sandbox-client-secret"}


def lb_service(database: str, sandbox_url: str, tmp_path: Path, coalesce: float) -> Any:
    return service(
        database,
        sandbox_url,
        tmp_path,
        LEDGERBRIDGE_XERO_WEBHOOK_KEY=XERO_KEY,
        LEDGERBRIDGE_QUICKBOOKS_WEBHOOK_VERIFIER=QUICKBOOKS_KEY,
        LEDGERBRIDGE_PROVIDER_WEBHOOK_COALESCE_SECONDS=str(coalesce),
    )


def until(check: Any, timeout: float = 90, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def events(lb: Service, headers: dict[str, str], after: str = "0") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = httpx.get(
            f"{lb.url}/v1/events", params={"after": after, "limit": 100}, headers=headers
        ).json()
        found += page["data"]
        if not page["next_after"]:
            return found
        after = page["next_after"]


def synced(lb: Service, headers: dict[str, str], run_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        run: dict[str, Any] = httpx.get(f"{lb.url}/v1/sync-runs/{run_id}", headers=headers).json()
        return run if run["status"] in ("succeeded", "failed") else None

    run: dict[str, Any] = until(finished, what=f"sync run {run_id}")
    assert run["status"] == "succeeded", run
    return run


def webhook_runs(lb: Service, headers: dict[str, str], after: str) -> list[dict[str, Any]]:
    runs = []
    for event in events(lb, headers, after):
        if event["type"].startswith("sync.") and event["type"] != "sync.deferred":
            run = httpx.get(
                f"{lb.url}/v1/sync-runs/{event['data']['sync_run_id']}", headers=headers
            ).json()
            if run["trigger"] == "webhook":
                runs.append(run)
    return runs


def prepare(
    lb: Service, sandbox: httpx.Client, headers: dict[str, str], provider: str
) -> tuple[str, str, str]:
    """Connect the provider's first account, sync the object type once, register the
    sandbox's webhook: (account, connection id, the event feed's position)."""
    object_type = CHANGES[provider][0]
    account = next(
        a["account_id"]
        for a in sandbox.get("/_sandbox/accounts").json()
        if a["provider"] == provider
    )
    connection_id = connect(lb, headers, provider, account)
    first = httpx.post(
        f"{lb.url}/v1/connections/{connection_id}/syncs",
        json={"object_types": [object_type]},
        headers=headers,
    ).json()
    synced(lb, headers, first["sync_run_id"])
    position = events(lb, headers)[-1]["id"]
    registered = sandbox.put(
        f"/_sandbox/webhooks/{provider}",
        json={"url": f"{lb.url}/v1/provider-webhooks/{provider}", "key": KEYS[provider]},
    )
    assert registered.status_code == 200 and registered.json()["active"], registered.text
    return account, connection_id, position


@pytest.mark.sandbox(seed=3, size=12, settings=WEBHOOK_SETTINGS)
@pytest.mark.parametrize("provider", ["xero", "quickbooks", "lightspeed"])
def test_a_change_in_the_sandbox_reaches_the_mirror_through_the_webhook(
    database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any, provider: str
) -> None:
    headers = auth(ORG, "admin")
    object_type, id_field, change = CHANGES[provider]
    with lb_service(database, sandbox_url, tmp_path, coalesce=1) as lb:
        account, connection_id, position = prepare(lb, sandbox, headers, provider)
        record = sandbox.get(f"/_sandbox/{provider}/{account}/{object_type}").json()[-1]
        record_id = str(record[id_field])
        patched = sandbox.patch(
            f"/_sandbox/{provider}/{account}/{object_type}/{record_id}", json=change
        )
        assert patched.status_code == 200, patched.text

        def updated() -> dict[str, Any] | None:
            return next(
                (
                    e
                    for e in events(lb, headers, position)
                    if e["type"] == "record.updated" and e["data"]["remote_id"] == record_id
                ),
                None,
            )

        event = until(updated, what="record.updated from the webhook-triggered sync")
        assert event["data"]["connection_id"] == connection_id
        (run,) = until(lambda: webhook_runs(lb, headers, position), what="the webhook's sync run")
        assert run["object_types"] == [object_type] and run["status"] == "succeeded"
        mirrored = httpx.get(
            f"{lb.url}/v1/connections/{connection_id}/records/{event['data']['model']}/"
            f"{event['data']['record_id']}",
            headers=headers,
        ).json()
        remote = mirrored["remote_data"]
        assert all(remote[field] == value for field, value in change.items()), remote
        deliveries = sandbox.get("/_sandbox/webhooks", params={"provider": provider}).json()
        assert [d["status"] for d in deliveries["deliveries"]] == ["delivered"]


@pytest.mark.sandbox(seed=3, size=60, settings=WEBHOOK_SETTINGS)
def test_fifty_changes_in_a_burst_make_one_sync_run(
    database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any
) -> None:
    headers = auth(ORG, "admin")
    with lb_service(database, sandbox_url, tmp_path, coalesce=2) as lb:
        realm, _, position = prepare(lb, sandbox, headers, "quickbooks")
        invoices = sandbox.get(f"/_sandbox/quickbooks/{realm}/Invoice").json()[:50]
        assert len(invoices) == 50
        for n, invoice in enumerate(invoices):
            sandbox.patch(
                f"/_sandbox/quickbooks/{realm}/Invoice/{invoice['Id']}",
                json={"PrivateNote": f"burst {n}"},
            ).raise_for_status()

        def all_delivered() -> bool:
            found = sandbox.get("/_sandbox/webhooks").json()["deliveries"]
            return len(found) == 50 and all(d["status"] == "delivered" for d in found)

        until(all_delivered, what="50 deliveries")
        (run,) = until(lambda: webhook_runs(lb, headers, position), what="the burst's sync run")
        assert run["object_types"] == ["Invoice"] and run["counts"]["updated"] >= 50
        time.sleep(4)  # past another coalescing window: no second run follows
        assert len(webhook_runs(lb, headers, position)) == 1


@pytest.mark.sandbox(seed=3, size=12, settings=WEBHOOK_SETTINGS)
def test_an_acknowledged_notification_survives_a_sigkill(
    database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth: Any
) -> None:
    headers = auth(ORG, "admin")
    with lb_service(database, sandbox_url, tmp_path, coalesce=3) as lb:
        realm, _, position = prepare(lb, sandbox, headers, "quickbooks")
        invoice = sandbox.get(f"/_sandbox/quickbooks/{realm}/Invoice").json()[0]
        sandbox.patch(
            f"/_sandbox/quickbooks/{realm}/Invoice/{invoice['Id']}", json={"PrivateNote": "kill"}
        ).raise_for_status()
        until(
            lambda: (
                sandbox.get("/_sandbox/webhooks").json()["deliveries"][0]["status"] == "delivered"
            ),
            what="the delivery",
        )
        lb.kill()  # acknowledged, but its coalescing window has not ended yet
        assert webhook_runs_offline(database) == 0
        lb.start()
        (run,) = until(lambda: webhook_runs(lb, headers, position), what="the sync after restart")
        assert run["object_types"] == ["Invoice"] and run["counts"]["updated"] >= 1


def webhook_runs_offline(database: str) -> int:
    """Webhook-triggered runs, read from the database while the service is down."""
    from sqlalchemy import create_engine, func, select

    from ledgerbridge.settings import normalise_database_url
    from ledgerbridge.sync.models import SyncRun

    engine = create_engine(normalise_database_url(database))
    try:
        with engine.connect() as connection:
            count = connection.scalar(
                select(func.count()).select_from(SyncRun).where(SyncRun.trigger == "webhook")
            )
            return int(count or 0)
    finally:
        engine.dispose()
