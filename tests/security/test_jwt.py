"""Host-app tokens: audience, issuer, lifetime, algorithm choice, and a JWKS that misbehaves.

Before: a token for another audience or from another issuer was accepted when none was
configured to be checked... and a 10-year token was accepted; HS256 stayed on beside a
JWKS; the JWKS was fetched under one lock for up to 30 s per request, so 60 anonymous
RS256 requests against a slow JWKS stalled ``/health`` and every HS256 caller, and its
fetch errors were echoed to the caller.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ledgerbridge.app import create_app
from ledgerbridge.settings import Settings, load_settings
from tests.conftest import JWT_SECRET
from tests.support import serve_in_thread

# Tokens touch no table: SQLite is enough.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
NEVER_CONTACTED = "http://127.0.0.1:9/jwks.json"


def _settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {"database_url": database_url, "data_dir": tmp_path}
    base["secret_key"] = "k" * 48
    return load_settings(**{**base, **overrides})


def _claims(**extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {"sub": "u1", "org_id": "org-jwt", "role": "viewer", "iat": now}
    claims["exp"] = now + timedelta(minutes=5)
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}


def _hs256(**extra: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(_claims(**extra), JWT_SECRET, 'HS256')}"}


def _rs256(kid: str = "key-1", **extra: Any) -> dict[str, str]:
    token = jwt.encode(_claims(**extra), PRIVATE, algorithm="RS256", headers={"kid": kid})
    return {"Authorization": f"Bearer {token}"}


def _status(client: TestClient, headers: dict[str, str]) -> tuple[int, str]:
    answer = client.get("/v1/api-keys", headers=headers)
    return answer.status_code, answer.json().get("message", "") if answer.status_code >= 400 else ""


def test_audience_and_issuer_are_enforced_when_configured(
    database_url: str, tmp_path: Path
) -> None:
    settings = _settings(
        database_url, tmp_path, jwt_secret=JWT_SECRET, jwt_audience="lb", jwt_issuer="host-app"
    )
    with TestClient(create_app(settings)) as client:
        assert _status(client, _hs256(aud="lb", iss="host-app"))[0] != 401
        for headers, reason in [
            (_hs256(aud="other", iss="host-app"), "another audience"),
            (_hs256(iss="host-app"), "lacks the aud claim"),
            (_hs256(aud="lb", iss="someone-else"), "another issuer"),
            (_hs256(aud="lb"), "lacks the iss claim"),
        ]:
            status, message = _status(client, headers)
            assert status == 401 and reason in message, (status, message)


def test_tokens_living_longer_than_the_max_age_are_refused(
    database_url: str, tmp_path: Path
) -> None:
    settings = _settings(database_url, tmp_path, jwt_secret=JWT_SECRET)
    assert settings.jwt_max_age == 86_400
    now = datetime.now(UTC)
    with TestClient(create_app(settings)) as client:
        ten_years = _hs256(exp=now + timedelta(days=3650))
        no_iat = _hs256(iat=None, exp=now + timedelta(days=2))
        for headers in (ten_years, no_iat):
            status, message = _status(client, headers)
            assert status == 401 and "LEDGERBRIDGE_JWT_MAX_AGE" in message
        assert _status(client, _hs256(exp=now + timedelta(hours=23)))[0] != 401
        assert _status(client, _hs256(iat=None, exp=now + timedelta(hours=23)))[0] != 401


def test_hs256_is_refused_beside_a_jwks_unless_both_are_set_on_purpose(
    database_url: str, tmp_path: Path
) -> None:
    jwks_only = _settings(database_url, tmp_path, jwt_jwks_url=NEVER_CONTACTED)
    jwks_only.jwt_secret = SecretStr(JWT_SECRET)  # as a generated default would be
    with TestClient(create_app(jwks_only)) as client:
        status, message = _status(client, _hs256())
        assert status == 401 and "algorithm" in message
    both = _settings(database_url, tmp_path, jwt_jwks_url=NEVER_CONTACTED, jwt_secret=JWT_SECRET)
    with TestClient(create_app(both)) as client:
        assert _status(client, _hs256())[0] != 401


class Jwks:
    """A local JWKS endpoint that can be held, or made to fail, and counts its fetches."""

    def __init__(self) -> None:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(PRIVATE.public_key()))
        self.keys = {"keys": [{**public, "kid": "key-1", "use": "sig", "alg": "RS256"}]}
        self.fetches = 0
        self.failing = False
        self.asked = threading.Event()
        self.release = threading.Event()
        self.release.set()

    async def endpoint(self, _request: Request) -> JSONResponse:
        self.fetches += 1
        self.asked.set()
        await anyio.to_thread.run_sync(self.release.wait, 20)
        if self.failing:
            return JSONResponse({"detail": "secret internal detail"}, status_code=500)
        return JSONResponse(self.keys)


@contextmanager
def _service(database_url: str, tmp_path: Path, **overrides: Any) -> Iterator[tuple[Jwks, str]]:
    jwks = Jwks()
    with serve_in_thread(Starlette(routes=[Route("/jwks.json", jwks.endpoint)])) as jwks_origin:
        settings = _settings(
            database_url,
            tmp_path,
            jwt_secret=JWT_SECRET,
            jwt_jwks_url=f"{jwks_origin}/jwks.json",
            **overrides,
        )
        with serve_in_thread(create_app(settings)) as origin:
            yield jwks, origin


def test_a_slow_jwks_stalls_no_one_else(database_url: str, tmp_path: Path) -> None:
    with _service(database_url, tmp_path, jwks_timeout_seconds=10) as (jwks, origin):
        jwks.release.clear()
        url = f"{origin}/v1/api-keys"
        with ThreadPoolExecutor(max_workers=60) as pool:
            anonymous = [
                pool.submit(httpx.get, url, headers=_rs256(), timeout=30) for _ in range(60)
            ]
            assert jwks.asked.wait(10)
            # The JWKS is still answering: these must not wait for it.
            assert httpx.get(f"{origin}/health", timeout=5).status_code == 200
            assert httpx.get(url, headers=_hs256(), timeout=5).status_code != 401
            jwks.release.set()
            statuses = [future.result().status_code for future in anonymous]
        assert 401 not in statuses  # once the keys arrive, every waiter is verified
        assert jwks.fetches == 1  # one fetch for sixty requests (more than the thread pool)


def test_jwks_failures_are_cached_briefly_and_never_echoed(
    database_url: str, tmp_path: Path
) -> None:
    with _service(database_url, tmp_path, jwks_failure_cache_seconds=4) as (jwks, origin):
        jwks.failing = True
        url = f"{origin}/v1/api-keys"
        first = httpx.get(url, headers=_rs256(), timeout=10)
        assert first.status_code == 401
        message = first.json()["message"]
        assert "127.0.0.1" not in message and "500" not in message and "secret" not in message
        assert httpx.get(url, headers=_rs256(), timeout=10).status_code == 401
        assert jwks.fetches == 1  # refused from the failure cache, no second fetch
        unknown = httpx.get(url, headers=_rs256(kid="not-there"), timeout=10)
        assert unknown.status_code == 401 and jwks.fetches == 1
        jwks.failing = False
        threading.Event().wait(4.2)  # the failure period ends
        assert httpx.get(url, headers=_rs256(), timeout=10).status_code != 401
        assert jwks.fetches == 2
        for _ in range(3):  # an unknown kid refetches at most once per failure period
            httpx.get(url, headers=_rs256(kid="not-there"), timeout=10)
        assert jwks.fetches == 2
