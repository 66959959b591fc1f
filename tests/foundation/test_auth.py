"""JWTs (HS256 and RS256 via JWKS), API keys, roles, scopes."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from ledgerbridge.app import create_app
from ledgerbridge.settings import Settings
from tests.conftest import JWT_SECRET, make_settings
from tests.support import serve_in_thread


def _token(secret: str = JWT_SECRET, **claims: object) -> str:
    payload: dict[str, object] = {
        "sub": "u1",
        "org_id": "org-a",
        "role": "admin",
        "exp": datetime.now(UTC) + timedelta(minutes=5),
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret, algorithm="HS256")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_token(secret="another-secret-" + "y" * 40), id="other-secret"),
        pytest.param(_token(exp=datetime.now(UTC) - timedelta(hours=1)), id="expired"),
        pytest.param(_token(exp=None), id="no-exp"),
        pytest.param(_token(role="superuser"), id="unknown-role"),
        pytest.param(_token(org_id=None), id="no-org"),
        pytest.param("not-a-jwt", id="garbage"),
        pytest.param(
            jwt.encode(
                {"sub": "u", "org_id": "o", "role": "admin", "exp": 9999999999},
                None,
                algorithm="none",
            ),
            id="alg-none",
        ),
    ],
)
def test_bad_tokens_get_401(client: TestClient, token: str) -> None:
    response = client.get("/v1/api-keys", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_no_credentials_and_wrong_scheme_get_401(client: TestClient) -> None:
    assert client.get("/v1/api-keys").status_code == 401
    basic = client.get("/v1/api-keys", headers={"Authorization": "Basic dTpw"})
    assert basic.status_code == 401


def test_viewer_cannot_create_keys_admin_can_and_the_key_works(
    client: TestClient, auth, tenant: str
) -> None:
    viewer = client.post("/v1/api-keys", json={"name": "k"}, headers=auth(tenant, "viewer"))
    assert viewer.status_code == 403
    assert viewer.json()["error"] == "forbidden"

    created = client.post(
        "/v1/api-keys", json={"name": "ci", "role": "admin"}, headers=auth(tenant, "admin")
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("lb_")

    listed = client.get("/v1/api-keys", headers={"X-API-Key": key})
    assert listed.status_code == 200
    [row] = listed.json()["data"]
    assert row["id"] == created.json()["id"]
    assert "key" not in row and "secret_hash" not in row
    assert key not in listed.text
    # The use is recorded beside the request, in a transaction of its own.
    for _ in range(100):
        again = client.get("/v1/api-keys", headers=auth(tenant, "admin")).json()
        if again["data"][0]["last_used_at"] is not None:
            break
        time.sleep(0.05)
    assert again["data"][0]["last_used_at"] is not None


def test_revoked_and_forged_keys_get_401(client: TestClient, auth, tenant: str) -> None:
    created = client.post("/v1/api-keys", json={"name": "k", "role": "admin"}, headers=auth(tenant))
    key, key_id = created.json()["key"], created.json()["id"]
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert client.get("/v1/api-keys", headers={"X-API-Key": forged}).status_code == 401
    assert client.delete(f"/v1/api-keys/{key_id}", headers=auth(tenant)).status_code == 204
    assert client.get("/v1/api-keys", headers={"X-API-Key": key}).status_code == 401
    listed = client.get("/v1/api-keys?include_revoked=true", headers=auth(tenant)).json()
    assert listed["data"][0]["revoked_at"] is not None


def test_scopes_and_role_ceiling(client: TestClient, auth, tenant: str) -> None:
    narrowed = client.post(
        "/v1/api-keys",
        json={"name": "sync only", "role": "admin", "scopes": ["sync"]},
        headers=auth(tenant),
    ).json()["key"]
    denied = client.get("/v1/api-keys", headers={"X-API-Key": narrowed})
    assert denied.status_code == 403
    assert "api-keys" in denied.json()["message"]
    above = client.post(
        "/v1/api-keys", json={"name": "x", "role": "owner"}, headers=auth(tenant, "admin")
    )
    assert above.status_code == 403


def test_list_pages_with_cursor_and_limit(client: TestClient, auth, tenant: str) -> None:
    for index in range(5):
        client.post("/v1/api-keys", json={"name": f"k{index}"}, headers=auth(tenant))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/api-keys", params=params, headers=auth(tenant)).json()
        seen += [row["name"] for row in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"k{i}" for i in range(5)]
    assert client.get("/v1/api-keys?limit=101", headers=auth(tenant)).status_code == 422
    bad = client.get("/v1/api-keys?cursor=%%%", headers=auth(tenant))
    assert bad.status_code == 400


def test_rs256_tokens_verified_through_jwks(database_url: str, tmp_path) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    public_jwk.update(kid="key-1", use="sig", alg="RS256")

    async def jwks(_request: object) -> JSONResponse:
        return JSONResponse({"keys": [public_jwk]})

    with serve_in_thread(Starlette(routes=[Route("/jwks.json", jwks)])) as origin:
        settings: Settings = make_settings(
            database_url, tmp_path, jwt_jwks_url=f"{origin}/jwks.json", jwt_audience="lb"
        )
        app: FastAPI = create_app(settings)
        claims = {
            "sub": "u1",
            "org_id": "org-rs",
            "role": "viewer",
            "aud": "lb",
            "exp": datetime.now(UTC) + timedelta(minutes=5),
        }
        good = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "key-1"})
        unknown_kid = jwt.encode(claims, private, algorithm="RS256", headers={"kid": "nope"})
        wrong_aud = jwt.encode(
            {**claims, "aud": "other"}, private, algorithm="RS256", headers={"kid": "key-1"}
        )
        with TestClient(app) as client:
            ok = client.get("/v1/api-keys", headers={"Authorization": f"Bearer {good}"})
            assert ok.status_code == 403  # authenticated as a viewer; keys need admin
            for bad in (unknown_kid, wrong_aud):
                response = client.get("/v1/api-keys", headers={"Authorization": f"Bearer {bad}"})
                assert response.status_code == 401
