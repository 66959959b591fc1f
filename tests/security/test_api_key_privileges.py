"""No privilege grows through the API: keys, their scopes and lifetimes, their use records.

Attacks reproduced against the app on SQLite and PostgreSQL:

- an admin key narrowed to the ``api-keys`` scope used to mint an unscoped admin key, which
  then read everything (the role was checked, the scopes were not);
- a key that expires could mint one that never does;
- every keyed read wrote ``last_used_at`` inside the request's transaction (on SQLite, the
  write lock on every read).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, select, text

from ledgerbridge.app import create_app
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.errors import ApiError
from ledgerbridge.security import apikeys
from ledgerbridge.security.api import check_within
from ledgerbridge.security.models import ApiKey
from ledgerbridge.security.principal import Principal
from ledgerbridge.security.roles import Role, Scope
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings, load_settings
from tests.conftest import JWT_SECRET, TOKEN_KEY, TokenFactory
from tests.support import serve_in_thread


def _services(app: FastAPI) -> Services:
    svc: Services = app.state.services
    return svc


def _key(
    app: FastAPI,
    tenant: str,
    role: Role,
    scopes: list[Scope],
    *,
    expires_at: datetime | None = None,
    secret_key: str | None = None,
) -> str:
    """A key made the way the CLI makes them (no creator to be bounded by)."""
    svc = _services(app)
    with svc.db.system() as session:
        return apikeys.create(
            session,
            secret_key=secret_key or svc.secret_key,
            tenant_id=tenant,
            name="made directly",
            role=role,
            scopes=scopes,
            created_by="test",
            expires_at=expires_at,
        ).key


def _key_count(app: FastAPI, tenant: str) -> int:
    with _services(app).db.system(read_only=True) as session:
        return len(session.scalars(select(ApiKey.id).where(ApiKey.tenant_id == tenant)).all())


def test_scoped_admin_key_cannot_mint_an_unscoped_key(
    client: TestClient, app: FastAPI, tenant: str
) -> None:
    narrow = _key(app, tenant, Role.admin, [Scope.api_keys])
    before = _key_count(app, tenant)
    minted = client.post(
        "/v1/api-keys", json={"name": "escalate", "role": "admin"}, headers={"X-API-Key": narrow}
    )
    assert minted.status_code == 403
    assert minted.json()["error"] == "forbidden"
    assert "unscoped" in minted.json()["message"]
    wider = client.post(
        "/v1/api-keys",
        json={"name": "escalate", "role": "admin", "scopes": ["api-keys", "records"]},
        headers={"X-API-Key": narrow},
    )
    assert wider.status_code == 403
    assert "records" in wider.json()["message"]
    assert _key_count(app, tenant) == before  # nothing was created
    same = client.post(
        "/v1/api-keys",
        json={"name": "peer", "role": "developer", "scopes": ["api-keys"]},
        headers={"X-API-Key": narrow},
    )
    assert same.status_code == 201
    assert same.json()["scopes"] == ["api-keys"]


CALLER_SCOPES: list[list[Scope] | None] = [
    None,  # unscoped: every area
    [Scope.api_keys],
    [Scope.api_keys, Scope.records],
    [Scope.records],  # cannot reach the route at all
]
REQUESTED_SCOPES: list[list[Scope]] = [
    [],
    [Scope.api_keys],
    [Scope.records],
    [Scope.sync],
    [Scope.api_keys, Scope.records],
    list(Scope),
]


def _expected(
    caller_role: Role, caller: list[Scope] | None, role: Role, scopes: list[Scope]
) -> int:
    """The rule, stated independently of the code: who may create what."""
    if caller_role.rank < Role.admin.rank or (caller is not None and Scope.api_keys not in caller):
        return 403  # no access to key management at all
    if role.rank > caller_role.rank:
        return 403
    if caller is not None and (not scopes or not set(scopes) <= set(caller)):
        return 403
    return 201


@pytest.mark.parametrize("caller_role", list(Role), ids=str)
@pytest.mark.parametrize(
    "caller_scopes",
    CALLER_SCOPES,
    ids=lambda s: "unscoped" if s is None else "+".join(s),
)
def test_keys_are_never_wider_than_their_creator(
    client: TestClient,
    app: FastAPI,
    tenant: str,
    caller_role: Role,
    caller_scopes: list[Scope] | None,
) -> None:
    caller = _key(app, tenant, caller_role, caller_scopes or [])
    wrong: list[str] = []
    created = 0
    reaches_route = _expected(caller_role, caller_scopes, Role.viewer, caller_scopes or []) == 201
    for role in Role if reaches_route else [caller_role]:
        for scopes in REQUESTED_SCOPES if reaches_route else [[]]:
            answer = client.post(
                "/v1/api-keys",
                json={"name": "k", "role": role.value, "scopes": [s.value for s in scopes]},
                headers={"X-API-Key": caller},
            )
            expected = _expected(caller_role, caller_scopes, role, scopes)
            created += expected == 201
            if answer.status_code != expected:
                wrong.append(f"{role.value} {scopes}: {answer.status_code}, expected {expected}")
    assert not wrong, wrong
    assert _key_count(app, tenant) == 1 + created


SUBSETS = [
    [scope for bit, scope in enumerate(Scope) if mask >> bit & 1] for mask in range(2 ** len(Scope))
]


@pytest.mark.parametrize("caller_role", list(Role), ids=str)
def test_the_rule_over_every_role_and_scope_set(caller_role: Role) -> None:
    """Every role and every set of scopes, caller and request alike (no database)."""
    for caller_scopes in [None, *SUBSETS[::7]]:
        principal = Principal(
            "t", "s", caller_role, None if caller_scopes is None else frozenset(caller_scopes)
        )
        for role in Role:
            for scopes in SUBSETS:
                allowed = role.rank <= caller_role.rank and (
                    caller_scopes is None or (bool(scopes) and set(scopes) <= set(caller_scopes))
                )
                try:
                    check_within(principal, role, scopes, None)
                except ApiError as exc:
                    assert exc.status == 403 and not allowed, (caller_scopes, role, scopes)
                else:
                    assert allowed, (caller_scopes, role, scopes)


def test_keys_expire_and_cannot_outlive_their_creator(
    client: TestClient, app: FastAPI, auth: TokenFactory, tenant: str
) -> None:
    made = client.post(
        "/v1/api-keys",
        json={"name": "month", "role": "admin", "expires_in_days": 30},
        headers=auth(tenant),
    )
    assert made.status_code == 201
    expires_at = datetime.fromisoformat(made.json()["expires_at"])
    assert timedelta(days=29) < expires_at - datetime.now(UTC) <= timedelta(days=30)
    month = made.json()["key"]
    shown = client.get(f"/v1/api-keys/{made.json()['id']}", headers=auth(tenant))
    assert shown.json()["expires_at"] == made.json()["expires_at"]

    for body in (
        {"name": "forever", "role": "admin"},
        {"name": "longer", "role": "admin", "expires_in_days": 31},
    ):
        longer = client.post("/v1/api-keys", json=body, headers={"X-API-Key": month})
        assert longer.status_code == 403, body
        assert "outlive" in longer.json()["message"]
    shorter = client.post(
        "/v1/api-keys",
        json={"name": "week", "role": "admin", "expires_in_days": 7},
        headers={"X-API-Key": month},
    )
    assert shorter.status_code == 201

    for invalid in (
        {"name": "both", "expires_in_days": 1, "expires_at": "2099-01-01T00:00:00Z"},
        {"name": "past", "expires_at": "2020-01-01T00:00:00Z"},
        {"name": "naive", "expires_at": "2099-01-01T00:00:00"},
        {"name": "zero", "expires_in_days": 0},
    ):
        refused = client.post("/v1/api-keys", json=invalid, headers=auth(tenant))
        assert refused.status_code == 422, invalid
        assert refused.json()["error"] == "validation_error"

    expired = _key(app, tenant, Role.admin, [], expires_at=datetime.now(UTC) - timedelta(seconds=1))
    answer = client.get("/v1/api-keys", headers={"X-API-Key": expired})
    assert answer.status_code == 401
    assert answer.json()["error"] == "unauthorized"
    assert "expired" in answer.json()["message"]


def _hold_write_lock(app: FastAPI, key_id: int) -> tuple[threading.Event, threading.Thread]:
    """Another writer holds what a write of ``last_used_at`` would need until released."""
    db = _services(app).db
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.engine.connect().execution_options(sqlite_immediate=True) as connection:
            connection.begin()  # on SQLite: BEGIN IMMEDIATE, the write lock
            if not db.is_sqlite:
                connection.execute(
                    text("SELECT id FROM api_keys WHERE id = :id FOR UPDATE"), {"id": key_id}
                )
            held.set()
            release.wait(30)
            connection.rollback()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert held.wait(10)
    return release, thread


def test_keyed_reads_take_no_write_lock_and_record_use_once_a_minute(
    app: FastAPI, tenant: str
) -> None:
    key = _key(app, tenant, Role.admin, [])
    svc = _services(app)
    with svc.db.system(read_only=True) as session:
        key_id = session.scalars(select(ApiKey.id).where(ApiKey.tenant_id == tenant)).one()
    updates: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            updates.append(statement)

    event.listen(svc.db.engine, "before_cursor_execute", count)
    release, holder = _hold_write_lock(app, key_id)
    try:
        with serve_in_thread(app) as origin:
            # Before, each of these waited for the lock (SQLite: 30 s then a 500).
            for _ in range(5):
                answer = httpx.get(f"{origin}/v1/api-keys", headers={"X-API-Key": key}, timeout=8)
                assert answer.status_code == 200
            release.set()
            holder.join(10)
            for _ in range(100):  # the recorded use lands after the answers, once
                with svc.db.system(read_only=True) as session:
                    if session.get(ApiKey, key_id).last_used_at is not None:  # type: ignore[union-attr]
                        break
                threading.Event().wait(0.05)
            for _ in range(3):
                httpx.get(f"{origin}/v1/api-keys", headers={"X-API-Key": key}, timeout=8)
    finally:
        release.set()
        event.remove(svc.db.engine, "before_cursor_execute", count)
    with svc.db.system(read_only=True) as session:
        assert session.get(ApiKey, key_id).last_used_at is not None  # type: ignore[union-attr]
    assert len(updates) == 1


def test_previous_secret_keys_still_verify_and_keys_move_to_the_current_one(
    database_url: str, tmp_path: Path, tenant: str
) -> None:
    old, new = "o" * 48, "n" * 48
    common = {
        "env": "development",
        "database_url": database_url,
        "data_dir": tmp_path,
        "jwt_secret": JWT_SECRET,
        "token_encryption_keys": TOKEN_KEY,
    }
    before: Settings = load_settings(**common, secret_key=old)
    rotated: Settings = load_settings(**common, secret_key=new, secret_key_previous=f" {old} ,")
    after: Settings = load_settings(**common, secret_key=new)
    assert rotated.secret_keys == [new, old]
    app = create_app(before)
    key = _key(app, tenant, Role.admin, [])
    unused = _key(app, tenant, Role.admin, [])
    with TestClient(create_app(after)) as client:
        # Changing SECRET_KEY alone used to invalidate every key at once.
        assert client.get("/v1/api-keys", headers={"X-API-Key": key}).status_code == 401
    with TestClient(create_app(rotated)) as client:
        assert client.get("/v1/api-keys", headers={"X-API-Key": key}).status_code == 200
    with TestClient(create_app(after)) as client:
        # Used once in the grace period: now under the current key alone.
        assert client.get("/v1/api-keys", headers={"X-API-Key": key}).status_code == 200
        assert client.get("/v1/api-keys", headers={"X-API-Key": unused}).status_code == 401


def test_the_cli_creates_keys_that_expire(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERBRIDGE_")}
    env["LEDGERBRIDGE_DATA_DIR"] = str(tmp_path)
    cli = [sys.executable, "-m", "ledgerbridge"]
    upgrade(f"sqlite:///{tmp_path / 'ledgerbridge.db'}")  # the embedded default's file
    subprocess.run(
        [*cli, "apikeys", "create", "--org", "acme", "--expires-in-days", "7"],
        env=env,
        check=True,
        capture_output=True,
    )
    settings = load_settings(data_dir=tmp_path)
    with create_app(settings).state.services.db.system(read_only=True) as session:
        row = session.scalars(select(ApiKey)).one()
    assert row.expires_at is not None
    assert timedelta(days=6) < row.expires_at - datetime.now(UTC) <= timedelta(days=7)
