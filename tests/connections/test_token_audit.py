"""Calls to token endpoints (code exchange, refresh, revocation) are in the audit log, with
no token or secret in it."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledgerbridge.audit.models import ProviderCall
from ledgerbridge.connections.models import Connection, OAuthGrant, OAuthState
from ledgerbridge.connections.tokens import access_token, read_token
from ledgerbridge.sandbox.consent import approve_consent
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from tests.connections.conftest import accounts, open_start_link


def _tokens(svc: Services, connection_id: int) -> list[str]:
    with svc.db.system(read_only=True) as session:
        connection = session.get(Connection, connection_id)
        assert connection is not None and connection.grant_id is not None
        grant = session.get(OAuthGrant, connection.grant_id)
        assert grant is not None
        found = [read_token(svc.vault, grant, "access"), read_token(svc.vault, grant, "refresh")]
    assert all(found)
    return [t for t in found if t]


def _verifier(svc: Services, state: str) -> list[str]:
    digest = hashlib.sha256(state.encode()).hexdigest()
    with svc.db.system(read_only=True) as session:
        pending = session.scalars(select(OAuthState).where(OAuthState.state_hash == digest)).one()
        if pending.code_verifier is None:
            return []
        return [svc.vault.decrypt(pending.code_verifier, context=f"oauth_state:{digest}")]


def _stored_text(svc: Services, tenant: str) -> str:
    """Every value of every audit row of the tenant, as one text."""
    with svc.db.system(read_only=True) as session:
        rows = session.scalars(select(ProviderCall).where(ProviderCall.tenant_id == tenant)).all()
        assert rows
        return "\n".join(
            str(getattr(row, column.key)) for row in rows for column in ProviderCall.__table__.c
        )


@pytest.mark.parametrize("provider", ["xero", "quickbooks", "lightspeed"])
def test_exchange_refresh_and_revocation_are_audited_without_secrets(
    provider: str,
    lb: TestClient,
    lb_settings: Settings,
    sandbox: httpx.Client,
    auth: Any,
    tenant: str,
) -> None:
    svc = Services.build(lb_settings)
    account = accounts(sandbox, provider)[0]["account_id"]
    started = lb.post(f"/v1/connections/{provider}/authorize", json={}, headers=auth(tenant))
    assert started.status_code == 200, started.text
    callback = httpx.URL(approve_consent(open_start_link(lb, started.json()), [account]))
    code, state = callback.params["code"], callback.params["state"]
    secrets = [code, *_verifier(svc, state)]
    answer = lb.get(callback.path, params=dict(callback.params))
    assert answer.status_code == 200, answer.text
    connection_id = int(answer.json()["connections"][0]["id"])
    secrets += _tokens(svc, connection_id)

    # A forced refresh: the provider is said to have refused the current access token.
    rejected = secrets[-2]
    assert access_token(svc.db, svc.vault, svc.settings, connection_id, rejected=rejected)
    secrets += _tokens(svc, connection_id)
    gone = lb.delete(f"/v1/connections/{connection_id}", headers=auth(tenant))
    assert gone.status_code == 200, gone.text

    log = lb.get(f"/v1/audit-log?connection_id={connection_id}", headers=auth(tenant)).json()
    calls = [c for c in log["data"] if c["entity_type"] == "token"]
    grants = ["authorization_code", "refresh_token"]
    revocable = provider != "lightspeed"
    assert len(calls) == len(grants) + revocable, calls
    for call, grant_type in zip(calls, grants, strict=False):
        assert call["method"] == "POST" and call["status"] == 200, call
        assert f"grant_type={grant_type}" in call["request_body"]
        assert '"access_token": "[REDACTED]"' in call["response_body"]
        assert call["duration_ms"] >= 0 and call["attempt"] == 1
    assert "code=[REDACTED]" in calls[0]["request_body"]
    assert "refresh_token=[REDACTED]" in calls[1]["request_body"]
    if revocable:
        assert "token=[REDACTED]" in calls[2]["request_body"]
        assert calls[2]["path"].endswith(("/revocation", "/revoke"))
    assert len({c["entity_id"] for c in calls}) == 1  # the grant's id, on each
    discovery = [c for c in log["data"] if c["entity_type"] == "account"]
    assert discovery and all(c["method"] == "GET" and c["status"] == 200 for c in discovery)
    assert {c["entity_id"] for c in discovery} == {calls[0]["entity_id"]}

    client_id, client_secret = lb_settings.oauth_client(provider) or ("", "")
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    stored = _stored_text(svc, tenant)
    assert len(secrets) >= 5
    for secret in [*secrets, client_secret, basic]:
        assert secret not in stored
    svc.db.dispose()


def test_a_refused_code_is_audited_before_any_connection_exists(
    lb: TestClient, lb_settings: Settings, auth: Any, tenant: str
) -> None:
    refused = lb.post(
        "/v1/connections/quickbooks/connect",
        json={
            "authorization_code": "not-a-code-the-provider-issued",
            "redirect_uri": "http://127.0.0.1:8765/callback",
            "realm_id": "9341453000000001",
        },
        headers=auth(tenant),
    )
    assert refused.status_code == 400, refused.text
    [call] = lb.get("/v1/audit-log", headers=auth(tenant)).json()["data"]
    assert call["connection_id"] is None and call["entity_type"] == "token"
    assert call["status"] == 400 and "invalid_grant" in call["response_body"]
    assert "not-a-code-the-provider-issued" not in str(call)
