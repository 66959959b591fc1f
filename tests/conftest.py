"""Fixtures every capability's tests use: both databases, settings, the app, tokens."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.security.roles import Role
from ledgerbridge.security.tokens import issue_development_token
from ledgerbridge.settings import Settings, load_settings
from tests.support import postgres_available, postgres_database

JWT_SECRET = "test-secret-" + "x" * 40
SECRET_KEY = "k" * 48
TOKEN_KEY = "dGVzdC10b2tlbi1lbmNyeXB0aW9uLWtleS0zMmJ5dGU="  # 32 bytes, tests only


def _require_postgres() -> None:
    if postgres_available():
        return
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432; start it (see README)")
    pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, for the migration tests to walk."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    _require_postgres()
    with postgres_database() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database of each kind, shared by the session (tests isolate by tenant)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'ledgerbridge.db'}"
        upgrade(url)
        yield url
        return
    _require_postgres()
    with postgres_database() as url:
        upgrade(url)
        yield url


def make_settings(database_url: str, data_dir: Path, **overrides: object) -> Settings:
    defaults: dict[str, object] = {
        "env": "development",  # PostgreSQL alone would refuse to start without it
        "jwt_secret": JWT_SECRET,
        "secret_key": SECRET_KEY,
        "token_encryption_keys": TOKEN_KEY,  # never generated on PostgreSQL
    }
    return load_settings(
        **{**defaults, "database_url": database_url, "data_dir": data_dir, **overrides}
    )


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(database_url, tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def tenant() -> str:
    """A tenant of its own for each test, so tests sharing a database never see each other."""
    return f"org-{secrets.token_hex(4)}"


TokenFactory = Callable[..., dict[str, str]]


@pytest.fixture
def auth() -> TokenFactory:
    """``auth(org, role)`` → headers carrying a valid JWT (signed with ``JWT_SECRET``)."""
    settings = Settings(jwt_secret=JWT_SECRET)

    def headers(org: str, role: Role | str = Role.admin, sub: str = "user-1") -> dict[str, str]:
        token = issue_development_token(settings, org_id=org, role=Role(role), subject=sub)
        return {"Authorization": f"Bearer {token}"}

    return headers
