"""OAuth against the sandbox over HTTP: each provider's code flow and rotation rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from ledgerbridge.sandbox.consent import approve_consent

from .helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    accounts_of,
    authorize_url,
    pkce_pair,
    redirect_params,
    token_url,
)

Connect = Callable[..., dict[str, Any]]


def refresh(
    sandbox_url: str, provider: str, refresh_token: str, account: str = ""
) -> httpx.Response:
    return httpx.post(
        token_url(sandbox_url, provider, account),
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )


def advance_clock(sandbox: httpx.Client, seconds: float) -> None:
    sandbox.post("/_sandbox/clock", json={"advance_seconds": seconds}).raise_for_status()


# --- the code flow, per provider -----------------------------------------------------


def test_xero_code_flow_covers_several_organisations(
    sandbox: httpx.Client, connect: Connect
) -> None:
    tenants = accounts_of(str(sandbox.base_url), "xero")
    assert len(tenants) >= 2

    tokens = connect("xero")

    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 1800
    assert set(tokens) >= {"access_token", "refresh_token", "id_token", "scope"}
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["client_id"] == CLIENT_ID
    connections = sandbox.get(
        "/xero/connections", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert sorted(c["tenantId"] for c in connections) == sorted(tenants)
    assert {c["tenantType"] for c in connections} == {"ORGANISATION"}
    assert len({c["authEventId"] for c in connections}) == 1
    invoices = sandbox.get(
        "/xero/api.xro/2.0/Invoices",
        headers={"Authorization": f"Bearer {tokens['access_token']}", "xero-tenant-id": tenants[1]},
    )
    assert invoices.status_code == 200


def test_xero_consent_can_pick_one_organisation(sandbox: httpx.Client, connect: Connect) -> None:
    first, second = accounts_of(str(sandbox.base_url), "xero")[:2]
    tokens = connect("xero", [second])
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    connections = sandbox.get("/xero/connections", headers=headers).json()
    assert [c["tenantId"] for c in connections] == [second]
    forbidden = sandbox.get(
        "/xero/api.xro/2.0/Contacts", headers={**headers, "xero-tenant-id": first}
    )
    assert forbidden.status_code == 403
    assert forbidden.json()["Title"] == "Forbidden"


def test_quickbooks_code_flow_redirects_with_realm(sandbox: httpx.Client, connect: Connect) -> None:
    realm = accounts_of(str(sandbox.base_url), "quickbooks")[-1]
    tokens = connect("quickbooks", [realm])

    assert tokens["redirect"]["realmId"] == realm
    assert tokens["token_type"] == "bearer"
    assert tokens["expires_in"] == 3600
    assert tokens["x_refresh_token_expires_in"] == 100 * 86_400


def test_lightspeed_code_flow_uses_the_store_token_endpoint(
    sandbox: httpx.Client, connect: Connect
) -> None:
    store = accounts_of(str(sandbox.base_url), "lightspeed")[0]
    tokens = connect("lightspeed", [store])

    assert tokens["redirect"]["domain_prefix"] == store
    assert tokens["domain_prefix"] == store
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires"] > 1_600_000_000
    assert tokens["expires_in"] > 0


def test_quickbooks_accepts_client_secret_in_the_body_or_basic(sandbox_url: str) -> None:
    for use_basic in (True, False):
        location = approve_consent(authorize_url(sandbox_url, "quickbooks"))
        code = redirect_params(location)["code"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        if use_basic:
            answer = httpx.post(
                token_url(sandbox_url, "quickbooks"), data=form, auth=(CLIENT_ID, CLIENT_SECRET)
            )
        else:
            form |= {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
            answer = httpx.post(token_url(sandbox_url, "quickbooks"), data=form)
        assert answer.status_code == 200, answer.text


def test_denied_consent_redirects_with_access_denied(sandbox_url: str) -> None:
    location = approve_consent(authorize_url(sandbox_url, "xero", state="s1"), allow=False)
    assert redirect_params(location) == {"error": "access_denied", "state": "s1"}


def test_unregistered_redirect_uri_gets_an_error_page(sandbox: httpx.Client) -> None:
    url = authorize_url(str(sandbox.base_url), "xero", redirect_uri="https://evil.example.com/cb")
    page = sandbox.get(url)
    assert page.status_code == 400
    assert "redirect_uri" in page.text


def test_registered_client_with_its_own_redirect_uri(sandbox: httpx.Client) -> None:
    client = {
        "client_id": "acme",
        "client_secret": "s3cret",
        "redirect_uris": ["https://acme.test/cb"],
    }
    assert sandbox.post("/_sandbox/clients", json=client).status_code == 201
    url = authorize_url(
        str(sandbox.base_url), "quickbooks", client_id="acme", redirect_uri="https://acme.test/cb"
    )
    params = redirect_params(approve_consent(url))
    answer = sandbox.post(
        "/quickbooks/oauth2/v1/tokens/bearer",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": "https://acme.test/cb",
        },
        auth=("acme", "s3cret"),
    )
    assert answer.status_code == 200
    wrong_secret = sandbox.post(
        "/quickbooks/oauth2/v1/tokens/bearer",
        data={"grant_type": "refresh_token", "refresh_token": answer.json()["refresh_token"]},
        auth=("acme", "nope"),
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"


# --- invalid_grant exactly where the providers give it --------------------------------


@pytest.mark.parametrize("provider", ["xero", "quickbooks", "lightspeed"])
def test_a_code_works_once(sandbox_url: str, provider: str) -> None:
    params = redirect_params(approve_consent(authorize_url(sandbox_url, provider)))
    account = params.get("domain_prefix", "")
    form = {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert httpx.post(token_url(sandbox_url, provider, account), data=form).status_code == 200
    again = httpx.post(token_url(sandbox_url, provider, account), data=form)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("provider", ["xero", "quickbooks", "lightspeed"])
def test_wrong_redirect_uri_is_invalid_grant(sandbox_url: str, provider: str) -> None:
    params = redirect_params(approve_consent(authorize_url(sandbox_url, provider)))
    answer = httpx.post(
        token_url(sandbox_url, provider, params.get("domain_prefix", "")),
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": "http://127.0.0.1:9999/other",
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_an_expired_code_is_invalid_grant(sandbox: httpx.Client) -> None:
    params = redirect_params(approve_consent(authorize_url(str(sandbox.base_url), "xero")))
    advance_clock(sandbox, 301)
    answer = sandbox.post(
        "/xero/identity/connect/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant"}


def test_lightspeed_code_for_another_store_is_invalid_grant(sandbox_url: str) -> None:
    cafe, boutique = accounts_of(sandbox_url, "lightspeed")[:2]
    params = redirect_params(approve_consent(authorize_url(sandbox_url, "lightspeed"), [cafe]))
    answer = httpx.post(
        token_url(sandbox_url, "lightspeed", boutique),
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT_URI,
        },
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert answer.json()["error"] == "invalid_grant"


def test_xero_pkce_without_a_client_secret(sandbox: httpx.Client) -> None:
    verifier, challenge = pkce_pair()
    url = authorize_url(
        str(sandbox.base_url), "xero", code_challenge=challenge, code_challenge_method="S256"
    )
    code = redirect_params(approve_consent(url))["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
    }
    wrong = sandbox.post("/xero/identity/connect/token", data={**form, "code_verifier": "x" * 50})
    assert wrong.json() == {"error": "invalid_grant"}

    code = redirect_params(approve_consent(url))["code"]
    tokens = sandbox.post(
        "/xero/identity/connect/token", data={**form, "code": code, "code_verifier": verifier}
    ).json()
    renewed = sandbox.post(
        "/xero/identity/connect/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": CLIENT_ID,
        },
    )
    assert renewed.status_code == 200


# --- refresh-token rotation ----------------------------------------------------------


def test_xero_rotates_with_a_grace_period_for_the_previous_token(
    sandbox: httpx.Client, connect: Connect
) -> None:
    url = str(sandbox.base_url)
    first = connect("xero")["refresh_token"]
    second = refresh(url, "xero", first).json()["refresh_token"]
    assert second != first

    advance_clock(sandbox, 29 * 60)
    replay = refresh(url, "xero", first)
    assert replay.status_code == 200, "the previous token still works within 30 minutes"

    advance_clock(sandbox, 2 * 60)
    late = refresh(url, "xero", first)
    assert late.status_code == 400
    assert late.json() == {"error": "invalid_grant"}
    assert refresh(url, "xero", replay.json()["refresh_token"]).status_code == 200


def test_quickbooks_rotates_and_refuses_a_stale_token(sandbox_url: str, connect: Connect) -> None:
    first = connect("quickbooks")["refresh_token"]
    second = refresh(sandbox_url, "quickbooks", first)
    assert second.status_code == 200

    stale = refresh(sandbox_url, "quickbooks", first)
    assert stale.status_code == 400
    assert stale.json()["error"] == "invalid_grant"
    assert refresh(sandbox_url, "quickbooks", second.json()["refresh_token"]).status_code == 200


def test_lightspeed_revokes_the_old_refresh_token_at_once(
    sandbox_url: str, connect: Connect
) -> None:
    tokens = connect("lightspeed")
    store = tokens["domain_prefix"]
    renewed = refresh(sandbox_url, "lightspeed", tokens["refresh_token"], store)
    assert renewed.status_code == 200
    assert renewed.json()["domain_prefix"] == store

    reused = refresh(sandbox_url, "lightspeed", tokens["refresh_token"], store)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


@pytest.mark.sandbox(settings={"xero_access_token_seconds": 60})
def test_access_tokens_expire_after_their_configured_lifetime(
    sandbox: httpx.Client, connect: Connect
) -> None:
    tokens = connect("xero")
    assert tokens["expires_in"] == 60
    headers = {
        "Authorization": f"Bearer {tokens['access_token']}",
        "xero-tenant-id": tokens["accounts"][0],
    }
    assert sandbox.get("/xero/api.xro/2.0/Items", headers=headers).status_code == 200

    advance_clock(sandbox, 61)
    expired = sandbox.get("/xero/api.xro/2.0/Items", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["Detail"].startswith("TokenExpired")


def test_token_lifetimes_change_at_runtime(sandbox: httpx.Client, connect: Connect) -> None:
    patched = sandbox.patch("/_sandbox/settings", json={"quickbooks_access_token_seconds": 5})
    assert patched.json()["quickbooks_access_token_seconds"] == 5
    assert connect("quickbooks")["expires_in"] == 5
    assert sandbox.patch("/_sandbox/settings", json={"nonsense": 1}).status_code == 422


# --- revocation ----------------------------------------------------------------------


def test_xero_revocation_removes_the_connections(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("xero")
    answer = sandbox.post(
        "/xero/identity/connect/revocation",
        data={"token": tokens["refresh_token"]},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert answer.status_code == 200
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert sandbox.get("/xero/connections", headers=headers).status_code == 401
    assert refresh(str(sandbox.base_url), "xero", tokens["refresh_token"]).status_code == 400


def test_quickbooks_revocation_takes_json(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("quickbooks")
    answer = sandbox.post(
        "/quickbooks/oauth2/v1/tokens/revoke",
        json={"token": tokens["refresh_token"]},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert answer.status_code == 200
    assert refresh(str(sandbox.base_url), "quickbooks", tokens["refresh_token"]).status_code == 400


def test_deleting_a_xero_connection_disconnects_one_tenant(
    sandbox: httpx.Client, connect: Connect
) -> None:
    tokens = connect("xero")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    connections = sandbox.get("/xero/connections", headers=headers).json()
    gone = connections[0]

    assert sandbox.delete(f"/xero/connections/{gone['id']}", headers=headers).status_code == 204
    left = sandbox.get("/xero/connections", headers=headers).json()
    assert [c["id"] for c in left] == [c["id"] for c in connections[1:]]
    denied = sandbox.get(
        "/xero/api.xro/2.0/Items", headers={**headers, "xero-tenant-id": gone["tenantId"]}
    )
    assert denied.status_code == 403
    assert sandbox.delete(f"/xero/connections/{gone['id']}", headers=headers).status_code == 404


def test_control_api_revokes_a_grant_as_the_user_would(
    sandbox: httpx.Client, connect: Connect
) -> None:
    tokens = connect("quickbooks")
    realm = tokens["redirect"]["realmId"]
    answer = sandbox.post(
        "/_sandbox/grants/revoke", json={"provider": "quickbooks", "account_id": realm}
    )
    assert answer.json() == {"revoked": 1}
    assert (
        refresh(str(sandbox.base_url), "quickbooks", tokens["refresh_token"]).json()["error"]
        == "invalid_grant"
    )


def test_quickbooks_discovery_document(sandbox: httpx.Client) -> None:
    document = sandbox.get("/quickbooks/.well-known/openid_configuration").json()
    assert document["token_endpoint"].endswith("/quickbooks/oauth2/v1/tokens/bearer")
    assert document["authorization_endpoint"].endswith("/quickbooks/connect/oauth2")
