"""ledgerbridge pointed at the sandbox (``sandbox_url``, from tests/sandbox/fixtures.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.sandbox.consent import approve_consent
from ledgerbridge.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def lb_settings(database_url: str, sandbox_url: str, tmp_path: Any) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        sandbox_url=sandbox_url,
        token_refresh_skew_seconds=1,
        redirect_allowlist=["https://host.example"],
    )


@pytest.fixture
def lb(lb_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(lb_settings), raise_server_exceptions=False) as client:
        yield client


def accounts(sandbox: httpx.Client, provider: str) -> list[dict[str, Any]]:
    return [a for a in sandbox.get("/_sandbox/accounts").json() if a["provider"] == provider]


def open_start_link(lb: TestClient, started: dict[str, Any]) -> str:
    """Open the connect link as the user's browser does (the cookie stays in ``lb``):
    the provider's authorize URL it redirects to."""
    start = httpx.URL(started["authorize_url"])
    assert start.path.endswith("/start"), start
    opened = lb.get(start.path, params=dict(start.params), follow_redirects=False)
    assert opened.status_code == 302, opened.text
    location: str = opened.headers["location"]
    return location


def connect(
    lb: TestClient,
    headers: dict[str, str],
    provider: str,
    account_ids: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Drive the whole browser flow: authorize → consent page → Allow → our callback."""
    started = lb.post(f"/v1/connections/{provider}/authorize", json={}, headers=headers)
    assert started.status_code == 200, started.text
    location = approve_consent(open_start_link(lb, started.json()), account_ids)
    callback = httpx.URL(location)
    assert callback.path == f"/v1/oauth/{provider}/callback"
    response = lb.get(callback.path, params=dict(callback.params))
    assert response.status_code == 200, response.text
    connections: list[dict[str, Any]] = response.json()["connections"]
    return connections
