"""Fixtures that serve the provider sandbox over real HTTP (a plugin: see pyproject addopts).

``sandbox_url`` is the origin of a running sandbox, freshly reset for the test. Choose
how it is seeded and configured with a marker::

    @pytest.mark.sandbox(seed=7, size=200, settings={"rate_limits": False})
    def test_something(sandbox_url): ...

Servers are started once per distinct configuration and reused (reset between tests).
``connect`` runs a provider's whole OAuth code flow, consent form included, and returns
the token response. Plain helpers (URLs, PKCE, the specs folder) are in ``helpers.py``;
import them relatively: ``from .helpers import authorize_url``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from ledgerbridge.sandbox.app import create_app
from ledgerbridge.sandbox.consent import approve_consent
from ledgerbridge.sandbox.serve import serving
from ledgerbridge.sandbox.settings import SandboxSettings
from tests.sandbox.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    accounts_of,
    authorize_url,
    redirect_params,
    token_url,
)

Config = tuple[int, int, tuple[tuple[str, Any], ...]]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sandbox(seed=1, size=30, settings={}): how the test's sandbox is set up"
    )


@pytest.fixture(scope="session")
def _sandbox_servers() -> Iterator[Callable[[Config], str]]:
    origins: dict[Config, str] = {}
    with ExitStack() as stack:

        def origin_for(config: Config) -> str:
            if config not in origins:
                seed, size, settings = config
                app = create_app(SandboxSettings(**dict(settings)), seed=seed, size=size)
                origins[config] = stack.enter_context(serving(app))
            return origins[config]

        yield origin_for


def _reset_sandbox(request: pytest.FixtureRequest, servers: Callable[[Config], str]) -> str:
    marker = request.node.get_closest_marker("sandbox")
    options = dict(marker.kwargs) if marker else {}
    config = (
        int(options.get("seed", 1)),
        int(options.get("size", 30)),
        tuple(sorted(options.get("settings", {}).items())),
    )
    origin = servers(config)
    httpx.post(f"{origin}/_sandbox/reset", timeout=300).raise_for_status()
    return origin


@pytest.fixture
def sandbox_url(request: pytest.FixtureRequest, _sandbox_servers: Callable[[Config], str]) -> str:
    """The origin of a sandbox reset to its seeded state for this test (``sandbox`` marker)."""
    return _reset_sandbox(request, _sandbox_servers)


@pytest.fixture(scope="module")
def module_sandbox_url(
    request: pytest.FixtureRequest, _sandbox_servers: Callable[[Config], str]
) -> str:
    """Like ``sandbox_url`` but reset once per module (set it up with a module-level
    ``pytestmark = pytest.mark.sandbox(...)``): for tests that only read."""
    return _reset_sandbox(request, _sandbox_servers)


@pytest.fixture
def sandbox(sandbox_url: str) -> Iterator[httpx.Client]:
    """An HTTP client for the sandbox's origin."""
    with httpx.Client(base_url=sandbox_url, timeout=30) as client:
        yield client


@pytest.fixture
def connect(sandbox_url: str) -> Callable[..., dict[str, Any]]:
    """``connect(provider, accounts=None)``: consent, exchange the code, return the tokens.

    The answer is the provider's token response plus ``accounts`` (the account ids
    consented to) and ``redirect`` (the parameters the consent redirect carried).
    """

    def run(provider: str, accounts: list[str] | None = None) -> dict[str, Any]:
        location = approve_consent(authorize_url(sandbox_url, provider), accounts)
        params = redirect_params(location)
        account = params.get("realmId") or params.get("domain_prefix") or ""
        answer = httpx.post(
            token_url(sandbox_url, provider, account),
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": REDIRECT_URI,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        )
        answer.raise_for_status()
        tokens: dict[str, Any] = answer.json()
        tokens["redirect"] = params
        tokens["accounts"] = (
            accounts or accounts_of(sandbox_url, provider) if provider == "xero" else [account]
        )
        return tokens

    return run
