"""Connect flows against the sandbox over HTTP: each provider, reconnect, manual, disconnect."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import text

from ledgerbridge.connections.models import OAuthGrant
from ledgerbridge.connections.tokens import read_token
from ledgerbridge.db.engine import Database
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from tests.connections.conftest import accounts, connect, open_start_link


def test_xero_consent_covering_two_organisations_makes_two_connections(
    lb: TestClient, sandbox: httpx.Client, auth, tenant: str
) -> None:
    orgs = accounts(sandbox, "xero")
    made = connect(lb, auth(tenant), "xero", [o["account_id"] for o in orgs])
    assert sorted(c["external_account_id"] for c in made) == sorted(o["account_id"] for o in orgs)
    assert {c["external_account_name"] for c in made} == {o["name"] for o in orgs}
    assert all(c["status"] == "active" and c["provider"] == "xero" for c in made)
    assert "offline_access" in made[0]["scopes"]
    listed = lb.get("/v1/connections?provider=xero", headers=auth(tenant, "viewer")).json()
    assert len(listed["data"]) == 2
    assert "token" not in str(listed).replace("access_token_expires_at", "")


def test_quickbooks_and_lightspeed_flows_name_their_account(
    lb: TestClient, sandbox: httpx.Client, auth, tenant: str
) -> None:
    for provider in ("quickbooks", "lightspeed"):
        account = accounts(sandbox, provider)[1]
        [made] = connect(lb, auth(tenant), provider, [account["account_id"]])
        assert made["external_account_id"] == account["account_id"]
        assert made["external_account_name"] == account["name"]


def test_reconnecting_updates_tokens_without_duplicates(
    lb: TestClient, sandbox: httpx.Client, auth, tenant: str
) -> None:
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    [first] = connect(lb, auth(tenant), "quickbooks", [realm])
    [again] = connect(lb, auth(tenant), "quickbooks", [realm])
    assert again["id"] == first["id"]
    assert again["last_refreshed_at"] >= first["last_refreshed_at"]
    listed = lb.get("/v1/connections", headers=auth(tenant)).json()["data"]
    assert [c["id"] for c in listed] == [first["id"]]


def test_manual_connect_with_a_code_obtained_elsewhere(
    lb: TestClient, sandbox: httpx.Client, lb_settings: Settings, auth, tenant: str
) -> None:
    from ledgerbridge.providers import Provider, oauth

    store = accounts(sandbox, "lightspeed")[0]["account_id"]
    redirect_uri = "http://127.0.0.1:9999/playground"
    url = oauth.authorization_url(
        lb_settings, Provider.lightspeed, state="s1", redirect_uri=redirect_uri, code_verifier=None
    )
    from ledgerbridge.sandbox.consent import approve_consent

    params = httpx.URL(approve_consent(url, [store])).params
    response = lb.post(
        "/v1/connections/lightspeed/connect",
        json={
            "authorization_code": params["code"],
            "redirect_uri": redirect_uri,
            "domain_prefix": params["domain_prefix"],
        },
        headers=auth(tenant),
    )
    assert response.status_code == 201, response.text
    assert response.json()["connections"][0]["external_account_id"] == store
    replay = lb.post(
        "/v1/connections/lightspeed/connect",
        json={
            "authorization_code": params["code"],
            "redirect_uri": redirect_uri,
            "domain_prefix": store,
        },
        headers=auth(tenant),
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"


def test_state_is_single_use_and_checked(
    lb: TestClient, sandbox: httpx.Client, auth, tenant: str
) -> None:
    from ledgerbridge.sandbox.consent import approve_consent

    started = lb.post("/v1/connections/quickbooks/authorize", json={}, headers=auth(tenant)).json()
    callback = httpx.URL(approve_consent(open_start_link(lb, started)))
    cookies = dict(lb.cookies)  # the browser's binding, cleared by the callback
    assert lb.get(callback.path, params=dict(callback.params)).status_code == 200
    assert not lb.cookies
    lb.cookies.update(cookies)
    reused = lb.get(callback.path, params=dict(callback.params))
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_state"
    forged = lb.get(callback.path, params={**dict(callback.params), "state": "forged"})
    assert forged.status_code == 403  # no cookie was ever set for that state
    assert (
        lb.post("/v1/connections/myob/authorize", json={}, headers=auth(tenant)).status_code == 404
    )
    viewer = lb.post("/v1/connections/xero/authorize", json={}, headers=auth(tenant, "viewer"))
    assert viewer.status_code == 403
    offsite = lb.post(
        "/v1/connections/xero/authorize",
        json={"redirect_after": "https://evil.example/x"},
        headers=auth(tenant),
    )
    assert offsite.status_code == 400


def test_redirect_after_sends_the_browser_back_to_the_host_app(
    lb: TestClient, sandbox: httpx.Client, auth, tenant: str
) -> None:
    from ledgerbridge.sandbox.consent import approve_consent

    started = lb.post(
        "/v1/connections/quickbooks/authorize",
        json={"redirect_after": "https://host.example/settings/integrations"},
        headers=auth(tenant),
    ).json()
    callback = httpx.URL(approve_consent(open_start_link(lb, started)))
    response = lb.get(callback.path, params=dict(callback.params), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "https://host.example/settings/integrations"


def test_disconnect_revokes_at_the_provider_and_keeps_history(
    lb: TestClient, sandbox: httpx.Client, lb_settings: Settings, auth, tenant: str
) -> None:
    orgs = [o["account_id"] for o in accounts(sandbox, "xero")]
    first, second = connect(lb, auth(tenant), "xero", orgs)
    realm = accounts(sandbox, "quickbooks")[0]["account_id"]
    [qbo] = connect(lb, auth(tenant), "quickbooks", [realm])

    gone = lb.delete(f"/v1/connections/{first['id']}", headers=auth(tenant))
    assert gone.status_code == 200 and gone.json()["status"] == "disconnected"
    lb.delete(f"/v1/connections/{second['id']}", headers=auth(tenant))
    lb.delete(f"/v1/connections/{qbo['id']}", headers=auth(tenant))

    ledger = sandbox.get("/_sandbox/ledger").json()["entries"]
    paths = [(e["method"], e["path"]) for e in ledger]
    assert any(m == "DELETE" and p.startswith("/xero/connections/") for m, p in paths)
    assert ("POST", "/xero/identity/connect/revocation") in paths
    assert ("POST", "/quickbooks/oauth2/v1/tokens/revoke") in paths
    kept = lb.get(f"/v1/connections/{first['id']}", headers=auth(tenant)).json()
    assert kept["status"] == "disconnected" and kept["disconnected_at"]
    db = Database.connect(lb_settings)
    with db.system() as session:
        grants = session.query(OAuthGrant).filter(OAuthGrant.tenant_id == tenant).all()
        assert grants and all(g.access_token is None and g.refresh_token is None for g in grants)
    db.dispose()


def test_tokens_are_encrypted_at_rest_and_bound_to_their_row(
    lb: TestClient, sandbox: httpx.Client, lb_settings: Settings, auth, tenant: str
) -> None:
    import pytest

    from ledgerbridge.security.vault import VaultError

    realms = [a["account_id"] for a in accounts(sandbox, "quickbooks")]
    connect(lb, auth(tenant), "quickbooks", [realms[0]])
    connect(lb, auth(tenant), "quickbooks", [realms[1]])
    svc = Services.build(lb_settings)
    with svc.db.system() as session:
        a, b = (
            session.query(OAuthGrant)
            .filter(OAuthGrant.tenant_id == tenant)
            .order_by(OAuthGrant.id)
            .all()
        )
        plain_a = read_token(svc.vault, a, "access")
        refresh_a = read_token(svc.vault, a, "refresh")
        assert plain_a and refresh_a
        raw = session.execute(text("SELECT * FROM oauth_grants WHERE id = :id"), {"id": a.id}).one()
        assert plain_a not in str(raw) and refresh_a not in str(raw)
        # The provider accepts the decrypted token: it really is the one we were given.
        ok = httpx.get(
            f"{lb_settings.sandbox_url}/quickbooks/v3/company/{realms[0]}/companyinfo/{realms[0]}",
            headers={"Authorization": f"Bearer {plain_a}", "Accept": "application/json"},
        )
        assert ok.status_code == 200
        a.access_token, b.access_token = b.access_token, a.access_token
        with pytest.raises(VaultError):
            read_token(svc.vault, a, "access")
        with pytest.raises(VaultError):
            read_token(svc.vault, b, "access")
        session.rollback()
    svc.db.dispose()
