"""An OAuth connect completes only for the browser that started it.

The attack: a tenant admin starts a connect flow and sends the link to someone else;
whoever approves the consent would have their books land in the attacker's tenant. The
authorize link is now ledgerbridge's own start URL, single-use and short-lived, which
sets a signed HttpOnly cookie bound to the state; the callback refuses a browser
without it, and such a refusal leaves the flow usable by the browser that has it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from ledgerbridge.app import create_app
from ledgerbridge.connections.models import OAuthState
from ledgerbridge.connections.service import START_SECONDS, _state_hash
from ledgerbridge.db.base import utcnow
from ledgerbridge.db.engine import Database
from ledgerbridge.sandbox.consent import approve_consent
from ledgerbridge.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
def lb_settings(database_url: str, sandbox_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, sandbox_url=sandbox_url)


@pytest.fixture
def lb(lb_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(lb_settings), raise_server_exceptions=False) as client:
        yield client


def _start(lb: TestClient, headers: dict[str, str], provider: str = "quickbooks") -> httpx.URL:
    started = lb.post(f"/v1/connections/{provider}/authorize", json={}, headers=headers)
    assert started.status_code == 200, started.text
    link = httpx.URL(started.json()["authorize_url"])
    assert link.path == f"/v1/oauth/{provider}/start"
    return link


def _open(lb: TestClient, link: httpx.URL) -> httpx.Response:
    return lb.get(link.path, params=dict(link.params), follow_redirects=False)


def _connections(lb: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = lb.get("/v1/connections", headers=headers).json()["data"]
    return data


def test_a_forwarded_consent_lands_nowhere_and_leaves_the_flow_to_its_owner(
    lb: TestClient, auth: Any, tenant: str
) -> None:
    attacker = auth(tenant)
    opened = _open(lb, _start(lb, attacker))
    assert opened.status_code == 302
    owner_cookies = dict(lb.cookies)
    # The victim's browser: the provider's consent approved, but none of our cookies.
    lb.cookies.clear()
    callback = httpx.URL(approve_consent(opened.headers["location"]))
    refused = lb.get(callback.path, params=dict(callback.params))
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "foreign_browser"
    assert _connections(lb, attacker) == []
    # A cookie of the right name with a made-up value is no better.
    name = next(iter(owner_cookies))
    lb.cookies.set(name, "0" * 64)
    assert lb.get(callback.path, params=dict(callback.params)).status_code == 403
    # The stranger did not use the state up: the browser that started the flow finishes.
    lb.cookies.clear()
    lb.cookies.update(owner_cookies)
    finished = lb.get(callback.path, params=dict(callback.params))
    assert finished.status_code == 200, finished.text
    assert len(_connections(lb, attacker)) == 1


def test_the_start_link_opens_once_and_only_soon_after_it_was_made(
    lb: TestClient, lb_settings: Settings, auth: Any, tenant: str
) -> None:
    link = _start(lb, auth(tenant))
    assert _open(lb, link).status_code == 302
    again = _open(lb, link)
    assert again.status_code == 400 and again.json()["error"] == "invalid_state"

    late = _start(lb, auth(tenant))
    db = Database.connect(lb_settings)
    with db.system() as session:
        session.execute(
            update(OAuthState)
            .where(OAuthState.state_hash == _state_hash(late.params["state"]))
            .values(created_at=utcnow() - timedelta(seconds=START_SECONDS + 1))
        )
    db.dispose()
    assert _open(lb, late).status_code == 400
    forged = _open(lb, late.copy_set_param("state", "made-up"))
    assert forged.status_code == 400
    other_provider = lb.get("/v1/oauth/xero/start", params=dict(link.params))
    assert other_provider.status_code == 400


def test_the_cookie_is_signed_http_only_lax_and_scoped_to_the_callback(
    database_url: str, sandbox_url: str, tmp_path: Path, auth: Any, tenant: str
) -> None:
    for public_url, secure in (("http://127.0.0.1:8000", False), ("https://lb.example", True)):
        settings = make_settings(
            database_url, tmp_path / str(secure), sandbox_url=sandbox_url, public_url=public_url
        )
        with TestClient(create_app(settings), raise_server_exceptions=False) as lb:
            link = _start(lb, auth(tenant))
            assert link.host == httpx.URL(public_url).host
            opened = _open(lb, link)
            assert opened.status_code == 302
            assert opened.headers["cache-control"] == "no-store"
            cookie = opened.headers["set-cookie"]
            attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")}
            assert {"httponly", "max-age"} <= attributes
            assert "samesite=lax" in cookie.lower()
            assert "path=/v1/oauth/quickbooks/callback" in cookie.lower()
            assert ("secure" in attributes) is secure
            assert link.params["state"] not in cookie  # a MAC of the state, not the state
