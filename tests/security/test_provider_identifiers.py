"""Provider identifiers are validated data, never URL text (docs/security.md).

The attack: a tenant admin names its Lightspeed store ``127.0.0.1:9911#``; pasted into
``https://{prefix}.retail.lightspeed.app/...`` that sends the code exchange, with the
platform's client secret, to 127.0.0.1:9911, and every later refresh too. Each test below
offers a table of hostile account ids at one entry — the manual connect body, the OAuth
callback's query, a provider's answer, a row already stored — and shows it refused in the
one error shape, nothing stored, and a listener on 127.0.0.1 that hears nothing.

Every test runs under ``loopback_only``: a name that is not a loopback address is refused
by the resolver before any connection opens (and fails the test), so even a regression
cannot send a packet off this machine.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from ledgerbridge.app import create_app
from ledgerbridge.connections import tokens
from ledgerbridge.connections.models import Connection, ConnectionStatus, OAuthGrant, OAuthState
from ledgerbridge.db.base import utcnow
from ledgerbridge.providers import Provider, identifiers, oauth
from ledgerbridge.providers.endpoints import endpoints_for
from ledgerbridge.sandbox.consent import approve_consent
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from tests.conftest import TokenFactory, make_settings
from tests.connections.conftest import open_start_link
from tests.support import serve_in_thread

# ---------------------------------------------------------------------------------------
# The hostile values. ``{listener}`` is replaced by the listener's host:port.

ATTACK = "{listener}#"  # the reported one: host:port, then a fragment swallowing the rest
COMMON = [
    ATTACK,
    "{listener}/",
    "{listener}?",
    "evil.com/",
    "evil.com",
    "a@b",
    "x?y=1",
    "a#b",
    "..",
    ".",
    "%2e",
    "%2e%2e%2f",
    "a/b",
    "a\\b",
    "a b",
    "ünïcode",
    "\u0660\u0661",  # Arabic-Indic digits: \d would take them
    "a\x00b",
    "a\rb",
    "a\nb",
    "store\n",  # $ would match before a trailing newline
    "\x7f",
    "",
    "[::1]",
    "::1",
    "127.0.0.1",
]
LIGHTSPEED_HOSTILE = [
    *COMMON,
    "a" * 64,  # one more than a DNS label may hold
    "Sandbox-Cafe",
    "-store",
    "store-",
    "store.evil",
]
QUICKBOOKS_HOSTILE = [
    *COMMON,
    "1" * 33,
    "123 ",
    "-1",
    "12a",
    "0x1f",
]
XERO_HOSTILE: list[object] = [
    *COMMON,
    "xn--nxasmq6b",
    str(uuid.uuid4()).upper(),
    str(uuid.uuid4()) + "\n",
    "{" + str(uuid.uuid4()) + "}",
    str(uuid.uuid4()).replace("-", ""),
    42,
    None,
]


def hostile(values: list[Any], listener: str) -> list[Any]:
    return [v.replace("{listener}", listener) if isinstance(v, str) else v for v in values]


# ---------------------------------------------------------------------------------------
# The guards: a loopback-only resolver and a listener that records every connection.


def _loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Resolve loopback names only; anything else is refused, recorded, and fails the test."""
    refused: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _loopback(host):
            refused.append(repr(host))
            raise socket.gaierror(f"{host!r}: tests contact loopback addresses only")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield refused
    assert refused == [], f"tried to resolve non-loopback hosts: {refused}"


@contextmanager
def listening() -> Iterator[tuple[str, Callable[[], list[bytes]]]]:
    """A plain socket server on a free loopback port: ``(host:port, heard)``."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.05)
    port = server.getsockname()[1]
    heard: list[bytes] = []
    stop = threading.Event()

    def take(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.5)
            try:
                heard.append(conn.recv(4096))
            except OSError:
                heard.append(b"")

    def serve() -> None:
        while not stop.is_set():
            try:
                take(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    def collected() -> list[bytes]:
        stop.set()
        thread.join(timeout=5)
        server.setblocking(False)
        while True:  # connections the kernel queued that the thread had not taken yet
            try:
                take(server.accept()[0])
            except BlockingIOError:
                return list(heard)

    try:
        yield f"127.0.0.1:{port}", collected
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


@pytest.fixture
def listener() -> Iterator[tuple[str, Callable[[], list[bytes]]]]:
    with listening() as found:
        yield found


# ---------------------------------------------------------------------------------------
# ledgerbridge with the real provider endpoints (as a deployment has them) and client
# credentials. Nothing here may reach a provider: every request must be refused first.

REAL_SECRET = "real-client-secret-" + "s" * 30


def real_endpoint_settings(database_url: str, data_dir: Path) -> Settings:
    return make_settings(
        database_url,
        data_dir,
        env="development",
        lightspeed_client_id="ls-client",
        lightspeed_client_secret=REAL_SECRET,
        quickbooks_client_id="qbo-client",
        quickbooks_client_secret=REAL_SECRET,
        xero_client_id="xero-client",
        xero_client_secret=REAL_SECRET,
    )


@pytest.fixture
def real(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Settings]]:
    settings = real_endpoint_settings(database_url, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, settings


def assert_error(response: httpx.Response, status: int, code: str, value: object) -> None:
    assert response.status_code == status, (value, response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error", "message", "details", "trace_id"}, body
    assert body["error"] == code, (value, body)
    if isinstance(value, str) and len(value) > 3:
        assert value not in body["message"], "the refused value is echoed"


def stored(settings: Settings, tenant: str) -> tuple[int, int]:
    """(connections, grants) the tenant has."""
    svc = Services.build(settings)
    try:
        with svc.db.system(read_only=True) as session:
            connections = session.scalar(
                select(func.count()).select_from(Connection).where(Connection.tenant_id == tenant)
            )
            grants = session.scalar(
                select(func.count()).select_from(OAuthGrant).where(OAuthGrant.tenant_id == tenant)
            )
            return int(connections or 0), int(grants or 0)
    finally:
        svc.db.dispose()


def manual(client: TestClient, headers: dict[str, str], provider: str, **fields: Any) -> Any:
    body = {"authorization_code": "code-1", "redirect_uri": "https://host.example/cb", **fields}
    return client.post(f"/v1/connections/{provider}/connect", json=body, headers=headers)


# ---------------------------------------------------------------------------------------
# Entry 1: the manual connect body.


def test_manual_connect_refuses_hostile_account_ids_before_any_provider_call(
    real: tuple[TestClient, Settings], listener: Any, auth: TokenFactory, tenant: str
) -> None:
    client, settings = real
    where, heard = listener
    for provider, field, values in (
        ("lightspeed", "domain_prefix", LIGHTSPEED_HOSTILE),
        ("quickbooks", "realm_id", QUICKBOOKS_HOSTILE),
    ):
        for value in hostile(values, where):
            response = manual(client, auth(tenant), provider, **{field: value})
            assert_error(response, 422, "validation_error", value)
            assert response.json()["details"][0]["loc"][-1] == field
    assert stored(settings, tenant) == (0, 0)
    assert heard() == []


def test_manual_connect_requires_the_providers_own_account_field(
    real: tuple[TestClient, Settings], listener: Any, auth: TokenFactory, tenant: str
) -> None:
    """Was a 502 provider_unavailable (the token URL built with an empty prefix)."""
    client, settings = real
    _, heard = listener
    cases = [
        ("lightspeed", {}, "domain_prefix"),
        ("quickbooks", {}, "realm_id"),
        ("lightspeed", {"realm_id": "123"}, "realm_id"),  # a realm id is a valid DNS label
        ("quickbooks", {"domain_prefix": "store"}, "domain_prefix"),
        ("xero", {"domain_prefix": "store"}, "domain_prefix"),
        ("xero", {"realm_id": "123"}, "realm_id"),
    ]
    for provider, fields, field in cases:
        response = manual(client, auth(tenant), provider, **fields)
        assert_error(response, 422, "validation_error", fields)
        assert response.json()["details"][0]["loc"] == ["body", field], response.text
    assert stored(settings, tenant) == (0, 0)
    assert heard() == []


# ---------------------------------------------------------------------------------------
# Entry 2: the OAuth callback's query. A refusal leaves the state usable.


def _state_unused(settings: Settings, state: str) -> bool:
    import hashlib

    svc = Services.build(settings)
    try:
        with svc.db.system(read_only=True) as session:
            row = session.scalars(
                select(OAuthState).where(
                    OAuthState.state_hash == hashlib.sha256(state.encode()).hexdigest()
                )
            ).one()
            return row.used_at is None
    finally:
        svc.db.dispose()


def test_callback_refuses_hostile_account_ids_and_keeps_the_state(
    real: tuple[TestClient, Settings], listener: Any, auth: TokenFactory, tenant: str
) -> None:
    client, settings = real
    where, heard = listener
    for provider, param, values in (
        ("lightspeed", "domain_prefix", LIGHTSPEED_HOSTILE),
        ("quickbooks", "realmId", QUICKBOOKS_HOSTILE),
    ):
        started = client.post(
            f"/v1/connections/{provider}/authorize", json={}, headers=auth(tenant)
        )
        assert started.status_code == 200, started.text
        state = started.json()["state"]
        for value in [*hostile(values, where), None]:  # None: the parameter missing
            params = {"code": "code-1", "state": state}
            if value is not None:
                params[param] = value
            response = client.get(f"/v1/oauth/{provider}/callback", params=params)
            assert_error(response, 422, "validation_error", value)
            assert response.json()["details"][0]["loc"] == ["query", param], response.text
        assert _state_unused(settings, state)
    assert stored(settings, tenant) == (0, 0)
    assert heard() == []


def test_a_refused_callback_leaves_the_state_to_complete_the_connect(
    database_url: str, sandbox_url: str, tmp_path: Path, auth: TokenFactory, tenant: str
) -> None:
    """Was a 500 that used the state up (a control character in domain_prefix)."""
    settings = make_settings(database_url, tmp_path, sandbox_url=sandbox_url)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        started = client.post(
            "/v1/connections/lightspeed/authorize", json={}, headers=auth(tenant)
        ).json()
        callback = httpx.URL(approve_consent(open_start_link(client, started)))
        params = dict(callback.params)
        for bad in ("sandbox-cafe\x01", "sandbox-cafe\n", "127.0.0.1:9#"):
            refused = client.get(callback.path, params={**params, "domain_prefix": bad})
            assert_error(refused, 422, "validation_error", bad)
        done = client.get(callback.path, params=params)
        assert done.status_code == 200, done.text
        [made] = done.json()["connections"]
        assert made["external_account_id"] == params["domain_prefix"]


# ---------------------------------------------------------------------------------------
# Entry 3: a provider's answer. A fake provider on loopback answers what the test says.

ANSWER: dict[str, Any] = {}


def fake_provider() -> FastAPI:
    app = FastAPI()
    tokens_body = {"access_token": "at", "refresh_token": "rt", "expires_in": 1800}

    @app.post("/lightspeed/{prefix}/api/1.0/token")
    def lightspeed_token(prefix: str) -> dict[str, Any]:
        return {**tokens_body, "domain_prefix": ANSWER["domain_prefix"]}

    @app.get("/lightspeed/{prefix}/api/2.0/retailer")
    def retailer(prefix: str) -> dict[str, Any]:
        return {"data": {"name": "A shop"}}

    @app.post("/xero/identity/connect/token")
    def xero_token() -> dict[str, Any]:
        return {**tokens_body, "scope": "offline_access"}

    @app.get("/xero/connections")
    def xero_connections() -> list[dict[str, Any]]:
        return [
            {
                "id": ANSWER.get("connection_id", str(uuid.uuid4())),
                "tenantId": ANSWER["tenant_id"],
                "tenantType": "ORGANISATION",
                "tenantName": "Org",
            }
        ]

    return app


@pytest.fixture(scope="module")
def fake_origin() -> Iterator[str]:
    with serve_in_thread(fake_provider()) as origin:
        yield origin


@pytest.fixture
def faked(
    database_url: str, fake_origin: str, tmp_path: Path
) -> Iterator[tuple[TestClient, Settings]]:
    settings = make_settings(database_url, tmp_path, sandbox_url=fake_origin)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, settings
    ANSWER.clear()


def test_a_token_response_naming_a_hostile_store_is_refused(
    faked: tuple[TestClient, Settings], listener: Any, auth: TokenFactory, tenant: str
) -> None:
    client, settings = faked
    where, heard = listener
    for value in [*hostile(LIGHTSPEED_HOSTILE, where), 7, ["a"]]:
        ANSWER["domain_prefix"] = value
        response = manual(client, auth(tenant), "lightspeed", domain_prefix="good-store")
        assert_error(response, 400, "invalid_account_id", value)
    assert stored(settings, tenant) == (0, 0)
    assert heard() == []


def test_the_providers_answer_wins_over_the_callers_hint(
    faked: tuple[TestClient, Settings], auth: TokenFactory, tenant: str
) -> None:
    """Lightspeed names its store in the token response: a hint naming another is refused."""
    client, settings = faked
    ANSWER["domain_prefix"] = "their-store"
    refused = manual(client, auth(tenant), "lightspeed", domain_prefix="my-store")
    assert_error(refused, 400, "account_mismatch", "my-store")
    assert stored(settings, tenant) == (0, 0)
    ANSWER["domain_prefix"] = "my-store"
    made = manual(client, auth(tenant), "lightspeed", domain_prefix="my-store")
    assert made.status_code == 201, made.text
    assert made.json()["connections"][0]["external_account_id"] == "my-store"


def test_xero_connections_naming_hostile_tenants_are_refused(
    faked: tuple[TestClient, Settings], listener: Any, auth: TokenFactory, tenant: str
) -> None:
    client, settings = faked
    where, heard = listener
    for value in hostile(XERO_HOSTILE, where):
        ANSWER["tenant_id"] = value
        response = manual(client, auth(tenant), "xero")
        assert_error(response, 400, "invalid_account_id", value)
    ANSWER["tenant_id"] = str(uuid.uuid4())
    for value in hostile(XERO_HOSTILE, where):  # Xero's id for the connection is used in URLs
        ANSWER["connection_id"] = value
        response = manual(client, auth(tenant), "xero")
        assert_error(response, 400, "invalid_account_id", value)
    assert stored(settings, tenant) == (0, 0)
    assert heard() == []


def test_quickbooks_refuses_a_realm_the_token_does_not_reach(
    database_url: str, sandbox_url: str, tmp_path: Path, auth: TokenFactory, tenant: str
) -> None:
    """QuickBooks does not name its realm in the token response: its company endpoint does."""
    settings = make_settings(database_url, tmp_path, sandbox_url=sandbox_url)
    realms = [
        a["account_id"]
        for a in httpx.get(f"{sandbox_url}/_sandbox/accounts").json()
        if a["provider"] == "quickbooks"
    ]
    redirect_uri = "http://127.0.0.1:9/playground"
    url = oauth.authorization_url(
        settings, Provider.quickbooks, state="s", redirect_uri=redirect_uri, code_verifier=None
    )
    code = httpx.URL(approve_consent(url, [realms[0]])).params["code"]
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post(
            "/v1/connections/quickbooks/connect",
            json={"authorization_code": code, "redirect_uri": redirect_uri, "realm_id": realms[1]},
            headers=auth(tenant),
        )
    assert_error(response, 400, "account_mismatch", realms[1])
    assert stored(settings, tenant) == (0, 0)


# ---------------------------------------------------------------------------------------
# Entry 4: rows stored before these checks. No URL is built from them.


def test_a_stored_hostile_account_id_never_reaches_a_url(
    real: tuple[TestClient, Settings], listener: Any, tenant: str
) -> None:
    _, settings = real
    where, heard = listener
    for provider, values in (
        (Provider.lightspeed, LIGHTSPEED_HOSTILE),
        (Provider.quickbooks, QUICKBOOKS_HOSTILE),
        (Provider.xero, XERO_HOSTILE),
    ):
        endpoints = endpoints_for(settings, provider)
        for value in hostile(values, where):
            with pytest.raises(identifiers.InvalidIdentifier):
                endpoints.api_url(value)
            if provider is Provider.lightspeed:
                with pytest.raises(identifiers.InvalidIdentifier):
                    endpoints.token_url(value)
            if provider is Provider.xero and value is not None:  # None: /connections itself
                with pytest.raises(identifiers.InvalidIdentifier):
                    endpoints.connections_url(value)
    assert heard() == []


def test_a_stored_hostile_store_is_not_refreshed_but_needs_reauth(
    real: tuple[TestClient, Settings], listener: Any, tenant: str
) -> None:
    """The refresh that would carry the client secret to the stored host never starts."""
    _, settings = real
    where, heard = listener
    svc = Services.build(settings)
    try:
        ids = []
        for value in hostile([ATTACK, "evil.com/", "a\nb"], where):
            with svc.db.tenant(tenant) as session:
                grant = OAuthGrant(provider="lightspeed", token_account=value)
                session.add(grant)
                session.flush()
                expired = oauth.TokenSet("at", "rt", utcnow() - timedelta(hours=1))
                tokens.store_tokens(svc.vault, grant, expired)
                connection = Connection(
                    provider="lightspeed",
                    external_account_id=f"store-{len(ids)}",
                    external_account_name="A shop",
                    connected_by="test",
                    grant_id=grant.id,
                )
                session.add(connection)
                session.flush()
                ids.append(connection.id)
        for connection_id in ids:
            with pytest.raises(tokens.NeedsReauth):
                tokens.access_token(svc.db, svc.vault, settings, connection_id)
        with svc.db.tenant(tenant) as session:
            statuses = {c.status for c in session.scalars(select(Connection))}
            assert statuses == {ConnectionStatus.needs_reauth}
    finally:
        svc.db.dispose()
    assert heard() == []


# ---------------------------------------------------------------------------------------
# Production hosts and the client secret. Local settings objects; no network.


def production(**overrides: Any) -> Settings:
    # model_copy: these settings are deliberately ones a production start would refuse.
    return Settings(env="production").model_copy(update=overrides)


def test_production_builds_provider_urls_on_their_real_hosts_only() -> None:
    settings = production()
    lightspeed = endpoints_for(settings, Provider.lightspeed)
    assert (
        lightspeed.token_url("my-store") == "https://my-store.retail.lightspeed.app/api/1.0/token"
    )
    assert lightspeed.api_url("my-store") == "https://my-store.retail.lightspeed.app/api/2.0"
    assert lightspeed.authorize_url().startswith("https://secure.retail.lightspeed.app/")
    quickbooks = endpoints_for(settings, Provider.quickbooks)
    assert quickbooks.api_url("123") == "https://quickbooks.api.intuit.com/v3/company/123"
    assert quickbooks.revoke_url() == "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
    xero = endpoints_for(settings, Provider.xero)
    tenant_id = str(uuid.uuid4())
    assert xero.connections_url(tenant_id) == f"https://api.xero.com/connections/{tenant_id}"
    assert xero.token_url(None) == "https://identity.xero.com/connect/token"


@pytest.mark.parametrize(
    ("overrides", "provider", "build"),
    [
        ({"sandbox_url": "http://127.0.0.1:9"}, Provider.lightspeed, "token"),
        ({"sandbox_url": "https://127.0.0.1"}, Provider.xero, "authorize"),
        ({"xero_token_url": "https://evil.example/connect/token"}, Provider.xero, "token"),
        ({"xero_token_url": "http://identity.xero.com/connect/token"}, Provider.xero, "token"),
        ({"xero_token_url": "https://identity.xero.com:8443/t"}, Provider.xero, "token"),
        ({"xero_api_url": "https://api.xero.com.evil.example/x"}, Provider.xero, "api"),
        ({"quickbooks_revoke_url": "https://api.xero.com/revoke"}, Provider.quickbooks, "revoke"),
        (
            {"lightspeed_api_url": "https://{account}.lightspeed.app.evil.example"},
            Provider.lightspeed,
            "api",
        ),
        (
            {"lightspeed_token_url": "https://{account}.evil.example/t"},
            Provider.lightspeed,
            "token",
        ),
        ({"lightspeed_token_url": "https://[::1]/{account}"}, Provider.lightspeed, "token"),
    ],
)
def test_production_refuses_a_provider_url_off_its_hosts(
    overrides: dict[str, str], provider: Provider, build: str
) -> None:
    endpoints = endpoints_for(production(**overrides), provider)
    account = {
        Provider.lightspeed: "my-store",
        Provider.quickbooks: "123",
        Provider.xero: str(uuid.uuid4()),
    }[provider]
    calls: dict[str, Callable[[], object]] = {
        "token": lambda: endpoints.token_url(account),
        "api": lambda: endpoints.api_url(account),
        "authorize": endpoints.authorize_url,
        "revoke": endpoints.revoke_url,
    }
    with pytest.raises(identifiers.DisallowedHost, match="in production provider URLs must be"):
        calls[build]()


def test_the_client_secret_goes_only_to_its_token_endpoint(listener: Any) -> None:
    where, heard = listener
    settings = production(
        lightspeed_client_id="ls", lightspeed_client_secret=SecretStr(REAL_SECRET)
    )
    token_url = endpoints_for(settings, Provider.lightspeed).token_url("my-store")
    with oauth._client(settings, Provider.lightspeed, sends_to=token_url) as client:
        for elsewhere in (f"http://{where}/token", "https://my-store.retail.lightspeed.app.evil/"):
            with pytest.raises(oauth.SecretWouldLeak):
                client.fetch_token(elsewhere, code="c", grant_type="authorization_code")
    # The client that only makes authorize URLs sends nowhere.
    with (
        oauth._client(settings, Provider.lightspeed) as client,
        pytest.raises(oauth.SecretWouldLeak),
    ):
        client.revoke_token(f"http://{where}/revoke", token="t")
    assert heard() == []
