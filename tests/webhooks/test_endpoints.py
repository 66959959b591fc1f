"""Registering and managing endpoints: the secret is shown twice only (creation and
rotation) and stored encrypted; roles, validation and tenants are enforced."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from ledgerbridge.app import create_app
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.engine import Database
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.security.vault import Vault, VaultError
from ledgerbridge.services import Services
from ledgerbridge.settings import new_encryption_key
from ledgerbridge.webhooks import endpoints
from ledgerbridge.webhooks import keys as webhook_keys
from ledgerbridge.webhooks.models import WebhookEndpoint
from tests.conftest import make_settings
from tests.webhooks.receiver import Receiver


def create(lb: TestClient, headers: dict[str, str], url: str, **extra: Any) -> dict[str, Any]:
    answer = lb.post("/v1/webhook-endpoints", json={"url": url, **extra}, headers=headers)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def test_create_shows_the_secret_once_and_stores_it_encrypted(
    lb: TestClient, svc: Services, auth: Any, tenant: str, receiver: Receiver
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/hook", event_types=["record.updated"])
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 40
    assert made["event_types"] == ["record.updated"] and made["status"] == "enabled"
    one = lb.get(f"/v1/webhook-endpoints/{made['id']}", headers=auth(tenant, "viewer"))
    assert one.status_code == 200 and "secret" not in one.json()
    listed = lb.get("/v1/webhook-endpoints", headers=admin).json()["data"]
    assert [e["id"] for e in listed] == [made["id"]] and "secret" not in listed[0]
    with svc.db.tenant(tenant) as session:
        row = session.scalars(select(WebhookEndpoint)).one()
        stored = session.execute(
            text("SELECT secret FROM webhook_endpoints WHERE id = :id"), {"id": row.id}
        ).scalar_one()
    assert made["secret"] not in stored and made["secret"][6:] not in stored
    assert stored.startswith("v1.")


def test_rotation_returns_a_new_secret_and_keeps_the_old_one_for_a_day(
    lb: TestClient, auth: Any, tenant: str, receiver: Receiver
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/hook")
    rotated = lb.post(f"/v1/webhook-endpoints/{made['id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != made["secret"]
    assert rotated.json()["previous_secret_expires_at"] is not None


def test_update_disable_enable_and_delete(
    lb: TestClient, auth: Any, tenant: str, receiver: Receiver
) -> None:
    admin = auth(tenant, "admin")
    made = create(lb, admin, f"{receiver.url}/hook", description="orders")
    url = f"/v1/webhook-endpoints/{made['id']}"
    changed = lb.patch(
        url, json={"event_types": ["sync.completed"], "enabled": False}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "disabled" and changed.json()["description"] == "orders"
    assert changed.json()["event_types"] == ["sync.completed"]
    enabled = lb.patch(url, json={"enabled": True, "description": None}, headers=admin).json()
    assert enabled["status"] == "enabled" and enabled["description"] is None
    assert lb.delete(url, headers=admin).status_code == 204
    assert lb.get(url, headers=admin).status_code == 404
    assert lb.get("/v1/webhook-endpoints", headers=admin).json()["data"] == []


def test_bad_input_is_a_clear_422_and_roles_are_enforced(
    lb: TestClient, auth: Any, tenant: str, receiver: Receiver
) -> None:
    admin = auth(tenant, "admin")
    unknown = lb.post(
        "/v1/webhook-endpoints",
        json={"url": f"{receiver.url}/h", "event_types": ["record.exploded"]},
        headers=admin,
    )
    assert unknown.status_code == 422 and "record.exploded" in unknown.json()["message"]
    for url in ("ftp://127.0.0.1/x", "not a url", "http://user:pw@127.0.0.1/x", "http:///x"):
        answer = lb.post("/v1/webhook-endpoints", json={"url": url}, headers=admin)
        assert answer.status_code == 422, (url, answer.text)
        assert answer.json()["error"] in ("unsafe_url", "validation_error")
        assert "pw" not in answer.text or "user:password" in answer.text
    developer = lb.post(
        "/v1/webhook-endpoints",
        json={"url": f"{receiver.url}/h"},
        headers=auth(tenant, "developer"),
    )
    assert developer.status_code == 403
    made = create(lb, admin, f"{receiver.url}/hook")
    viewer = auth(tenant, "viewer")
    assert lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=viewer).status_code == 403
    rotate = lb.post(
        f"/v1/webhook-endpoints/{made['id']}/rotate-secret", headers=auth(tenant, "developer")
    )
    assert rotate.status_code == 403


def test_another_tenant_can_neither_see_nor_touch_endpoints_or_deliveries(
    lb: TestClient, auth: Any, tenant: str, receiver: Receiver
) -> None:
    mine, theirs = auth(tenant, "owner"), auth(tenant + "-other", "owner")
    made = create(lb, mine, f"{receiver.url}/hook")
    sent = lb.post(f"/v1/webhook-endpoints/{made['id']}/test", headers=mine)
    assert sent.status_code == 202, sent.text
    delivery = sent.json()["id"]
    assert lb.get("/v1/webhook-endpoints", headers=theirs).json()["data"] == []
    base = f"/v1/webhook-endpoints/{made['id']}"
    for method, url in (
        ("GET", base),
        ("PATCH", base),
        ("DELETE", base),
        ("POST", f"{base}/rotate-secret"),
        ("POST", f"{base}/test"),
        ("GET", f"{base}/deliveries"),
        ("GET", f"/v1/webhook-deliveries/{delivery}"),
        ("POST", f"/v1/webhook-deliveries/{delivery}/retry"),
    ):
        answer = lb.request(method, url, headers=theirs, json={} if method == "PATCH" else None)
        assert answer.status_code == 404, (method, url, answer.status_code)
    assert lb.get(base, headers=mine).status_code == 200


def test_keys_rotate_re_encrypts_the_signing_secrets(
    tmp_path: Path, auth: Any, tenant: str, receiver: Receiver
) -> None:
    """``ledgerbridge keys rotate`` re-encrypts the endpoints' secrets too (a database of
    the test's own: rotation touches every tenant's rows)."""
    url = f"sqlite:///{tmp_path / 'rotation.db'}"
    upgrade(url)
    settings = make_settings(url, tmp_path, webhook_allow_private_networks=True)
    with TestClient(create_app(settings)) as client:
        made = create(client, auth(tenant), f"{receiver.url}/h")
        rotated = client.post(
            f"/v1/webhook-endpoints/{made['id']}/rotate-secret", headers=auth(tenant)
        ).json()
    old_key = settings.token_encryption_keys[0].get_secret_value()
    new_key = new_encryption_key()
    db = Database.connect(settings)
    both = Vault.from_keys([new_key, old_key])
    assert webhook_keys.pending(db, both) == 1
    assert webhook_keys.rotate(db, both) == 1
    assert webhook_keys.pending(db, both) == 0
    with db.system() as session:
        endpoint = session.get(WebhookEndpoint, int(made["id"]))
        assert endpoint is not None
        found = endpoints.signing_secrets(Vault.from_keys([new_key]), endpoint, utcnow())
        with pytest.raises(VaultError):
            endpoints.signing_secrets(Vault.from_keys([old_key]), endpoint, utcnow())
    assert found == [rotated["secret"], made["secret"]]
    db.dispose()
