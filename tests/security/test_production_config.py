"""Production by default where it matters, and production refuses what is unsafe.

Each refusal is one line naming the setting to change. Settings-level tests first, then
the checks a process makes against its database at start, then real processes.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.connections.models import OAuthGrant
from ledgerbridge.db.engine import Database
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.preflight import database_role_problems, vault_problems
from ledgerbridge.security.vault import Vault, key_id, token_context
from ledgerbridge.settings import Settings, UnsafeConfiguration, load_settings, new_encryption_key
from tests.conftest import JWT_SECRET, SECRET_KEY, TOKEN_KEY, _require_postgres, make_settings
from tests.support import PG_ADMIN_URL, free_port, postgres_database, wait_for_port

CLI = [sys.executable, "-m", "ledgerbridge"]
PG_URL = "postgresql://lb@127.0.0.1:5432/lb"  # never contacted by the settings tests
UNSET = object()


def production(**overrides: Any) -> dict[str, Any]:
    """Settings that production accepts, with ``overrides`` (``UNSET`` leaves one out)."""
    good: dict[str, Any] = {
        "env": "production",
        "database_url": PG_URL,
        "jwt_secret": secrets.token_urlsafe(40),
        "jwt_audience": "ledgerbridge",
        "secret_key": secrets.token_urlsafe(40),
        "token_encryption_keys": new_encryption_key(),
        "public_url": "https://ledgerbridge.example",
    }
    return {k: v for k, v in {**good, **overrides}.items() if v is not UNSET}


def refusal(**overrides: Any) -> list[str]:
    """The lines of the refusal of ``production(**overrides)``."""
    with pytest.raises(UnsafeConfiguration) as refused:
        load_settings(**production(**overrides))
    heading, *lines = str(refused.value).splitlines()
    assert heading == "refusing to start in production:"
    return [line.removeprefix("  - ") for line in lines]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_good_production_settings_start() -> None:
    settings = load_settings(**production())
    assert settings.is_production and not settings.docs_enabled


SHARED = secrets.token_urlsafe(40)
KEY = new_encryption_key()
REPEATED_BYTE_KEY = _b64(b"\x07" * 32)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"public_url": "http://ledgerbridge.example"}, "LEDGERBRIDGE_PUBLIC_URL must be an https"),
        ({"public_url": UNSET}, "LEDGERBRIDGE_PUBLIC_URL must be an https"),  # the default
        (
            {"jwt_jwks_url": "http://idp.example/.well-known/jwks.json"},
            "LEDGERBRIDGE_JWT_JWKS_URL must be an https",
        ),
        (
            {"redirect_allowlist": "https://app.example,http://app.example"},
            "LEDGERBRIDGE_REDIRECT_ALLOWLIST must be an https",
        ),
        (
            {"xero_token_url": "http://127.0.0.1:9911/token"},
            "LEDGERBRIDGE_XERO_TOKEN_URL must be an https",
        ),
        (
            {"lightspeed_api_url": "http://{account}.example/api"},
            "LEDGERBRIDGE_LIGHTSPEED_API_URL must be an https",
        ),
        ({"cors_origins": "https://app.example,*"}, "LEDGERBRIDGE_CORS_ORIGINS"),
        ({"sandbox_url": "http://127.0.0.1:8900"}, "LEDGERBRIDGE_SANDBOX_URL must be unset"),
        ({"sandbox_url": "https://sandbox.example"}, "LEDGERBRIDGE_SANDBOX_URL must be unset"),
        ({"jwt_secret": "a" * 32}, "LEDGERBRIDGE_JWT_SECRET looks like a pattern"),
        ({"secret_key": "abcdefghijkl" * 4}, "LEDGERBRIDGE_SECRET_KEY looks like a pattern"),
        ({"secret_key": "abcabcabc1" * 4}, "LEDGERBRIDGE_SECRET_KEY looks like a pattern"),
        ({"jwt_secret": "short"}, "LEDGERBRIDGE_JWT_SECRET is too short"),
        (
            {"token_encryption_keys": _b64(bytes(32))},
            "LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS entry 1 is not random",
        ),
        (
            {"token_encryption_keys": f"{KEY},{REPEATED_BYTE_KEY}"},
            "LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS entry 2 is not random",
        ),
        (
            {"jwt_secret": SHARED, "secret_key": SHARED},
            "LEDGERBRIDGE_SECRET_KEY is the same secret as LEDGERBRIDGE_JWT_SECRET",
        ),
        (
            {"token_encryption_keys": f"{KEY},{KEY}"},
            "LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS entry 2 is the same secret as "
            "LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS entry 1",
        ),
        (
            {"jwt_secret": SHARED, "xero_client_id": "app", "xero_client_secret": SHARED},
            "LEDGERBRIDGE_XERO_CLIENT_SECRET is the same secret as LEDGERBRIDGE_JWT_SECRET",
        ),
        ({"jwt_audience": UNSET}, "LEDGERBRIDGE_JWT_AUDIENCE is missing"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_production_refuses(overrides: dict[str, Any], named: str) -> None:
    lines = refusal(**overrides)
    assert len(lines) == 1, lines
    assert lines[0].startswith(named)
    for value in overrides.values():
        if isinstance(value, str) and value in (SHARED, KEY):
            assert value not in lines[0]  # never the secret itself


def test_every_problem_is_named_at_once_one_line_each() -> None:
    lines = refusal(
        public_url="http://ledgerbridge.example",
        cors_origins="*",
        sandbox_url="http://127.0.0.1:8900",
        jwt_secret="a" * 40,
        secret_key="b" * 40,
        jwt_audience=UNSET,
    )
    assert len(lines) == 6, lines
    for setting in ("PUBLIC_URL", "CORS_ORIGINS", "SANDBOX_URL", "JWT_SECRET", "JWT_AUDIENCE"):
        assert any(f"LEDGERBRIDGE_{setting}" in line for line in lines), setting


def test_a_random_hex_secret_is_not_a_pattern() -> None:
    load_settings(**production(jwt_secret=secrets.token_hex(32), secret_key=secrets.token_hex(32)))


# -- production by default where it matters ------------------------------------------------


def test_postgresql_without_env_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(UnsafeConfiguration) as refused:
        load_settings(database_url=PG_URL, data_dir=tmp_path, jwt_secret=JWT_SECRET)
    lines = str(refused.value).splitlines()
    assert lines == [
        "refusing to start:",
        "  - LEDGERBRIDGE_DATABASE_URL points at PostgreSQL but LEDGERBRIDGE_ENV is unset: set "
        "LEDGERBRIDGE_ENV=production (or LEDGERBRIDGE_ENV=development, or --dev, to run it as "
        "development)",
    ]
    assert not (tmp_path / "secrets.json").exists()


@pytest.mark.parametrize("provider", ["xero", "quickbooks", "lightspeed"])
def test_real_provider_credentials_without_env_refuse_to_start(
    provider: str, tmp_path: Path
) -> None:
    with pytest.raises(UnsafeConfiguration, match=f"LEDGERBRIDGE_{provider.upper()}_CLIENT_ID"):
        load_settings(
            data_dir=tmp_path,
            **{f"{provider}_client_id": "real-app", f"{provider}_client_secret": "s3cr3t"},
        )
    assert not (tmp_path / "secrets.json").exists()


def test_the_sandbox_client_is_development(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, sandbox_url="http://127.0.0.1:8900")
    assert not settings.is_production
    assert settings.oauth_client("xero") == ("sandbox-client-id", "sandbox-client-secret")


def test_explicit_development_on_postgresql_never_generates_secrets(tmp_path: Path) -> None:
    with pytest.raises(UnsafeConfiguration) as refused:
        load_settings(env="development", database_url=PG_URL, data_dir=tmp_path)
    lines = str(refused.value).splitlines()[1:]
    assert [line.split(" is missing")[0] for line in lines] == [
        "  - LEDGERBRIDGE_JWT_SECRET",
        "  - LEDGERBRIDGE_SECRET_KEY",
        "  - LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS",
    ]
    assert not (tmp_path / "secrets.json").exists()
    settings = load_settings(
        env="development",
        database_url=PG_URL,
        data_dir=tmp_path,
        jwt_secret=JWT_SECRET,
        secret_key=SECRET_KEY,
        token_encryption_keys=TOKEN_KEY,
    )
    assert not settings.is_production and not settings.generated("jwt_secret")


def test_development_on_sqlite_generates_missing_secrets_once(tmp_path: Path) -> None:
    first = load_settings(data_dir=tmp_path)
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600
    assert first.generated("jwt_secret") and first.docs_enabled
    again = load_settings(data_dir=tmp_path, jwt_secret=JWT_SECRET)
    assert again.secret_key == first.secret_key
    assert not again.generated("jwt_secret") and again.generated("secret_key")


def test_api_docs_can_be_enabled_in_production() -> None:
    assert load_settings(**production(api_docs=True)).docs_enabled


# -- checks at start: the database role and the stored tokens -------------------------------


@pytest.mark.postgres
def test_a_superuser_or_bypassrls_role_is_named() -> None:
    _require_postgres()
    with postgres_database() as url:
        name = url.rsplit("/", 1)[1]
        owner = _database(url)
        superuser = _database(url.replace(f"{name}@", "postgres@"))
        bypass = f"{name}_bypass"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"CREATE ROLE {bypass} LOGIN NOSUPERUSER BYPASSRLS")
        bypassing = _database(url.replace(f"{name}@", f"{bypass}@"))
        try:
            assert database_role_problems(owner) == []
            (line,) = database_role_problems(superuser)
            assert line.startswith("the database role postgres is a superuser")
            assert "LEDGERBRIDGE_DATABASE_URL" in line
            (line,) = database_role_problems(bypassing)
            assert f"the database role {bypass} has BYPASSRLS" in line
            assert f"ALTER ROLE {bypass} NOBYPASSRLS" in line
        finally:
            for db in (owner, superuser, bypassing):
                db.dispose()
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f"DROP ROLE IF EXISTS {bypass}")


def _database(url: str) -> Database:
    return Database.connect(Settings(database_url=url))


@pytest.fixture
def stored_grant(tmp_path: Path) -> Iterator[tuple[Database, str]]:
    """A SQLite database holding one grant's tokens under a key of its own; yields the key."""
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    upgrade(url)
    db = _database(url)
    key = new_encryption_key()
    vault = Vault.from_keys([key])
    with db.system() as session:
        grant = OAuthGrant(tenant_id="org-vault", provider="xero")
        session.add(grant)
        session.flush()
        grant.access_token = vault.encrypt("access", context=token_context(grant.id, "access"))
        grant.refresh_token = vault.encrypt("refresh", context=token_context(grant.id, "refresh"))
    yield db, key
    db.dispose()


def test_a_key_that_cannot_decrypt_what_is_stored_is_named(
    stored_grant: tuple[Database, str],
) -> None:
    db, key = stored_grant
    stored_id = key_id(base64.b64decode(key))
    other = new_encryption_key()
    (line,) = vault_problems(db, Vault.from_keys([other]))
    assert line.startswith(f"LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS lacks key {stored_id}")
    assert vault_problems(db, Vault.from_keys([other]), every_key=False) == [line]
    assert vault_problems(db, Vault.from_keys([other, key])) == []
    assert vault_problems(db, Vault.from_keys([key])) == []


def test_a_ciphertext_moved_to_another_row_is_named(stored_grant: tuple[Database, str]) -> None:
    db, key = stored_grant
    with db.system() as session:
        grant = session.query(OAuthGrant).one()
        grant.access_token = Vault.from_keys([key]).encrypt(
            "access", context=token_context(grant.id + 1, "access")
        )
        grant_id = grant.id
    (line,) = vault_problems(db, Vault.from_keys([key]))
    assert line.startswith(f"the stored tokens of grant {grant_id} do not decrypt")


def test_ready_is_degraded_while_the_vault_cannot_decrypt_the_latest_tokens(
    stored_grant: tuple[Database, str], tmp_path: Path
) -> None:
    db, key = stored_grant
    url = db.engine.url.render_as_string()
    for keys, status in ((new_encryption_key(), 503), (key, 200)):
        settings = make_settings(url, tmp_path / "data", token_encryption_keys=keys)
        with TestClient(create_app(settings)) as client:
            response = client.get("/ready")
        assert response.status_code == status, response.text
        vault = response.json()["checks"]["vault"]
        assert vault["status"] == ("ok" if status == 200 else "failed")
        assert key not in response.text


# -- real processes ----------------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERBRIDGE_")}
    env.update(extra)
    return env


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=120
    )


def test_api_on_postgresql_without_env_refuses_in_one_line(tmp_path: Path) -> None:
    port = free_port()
    result = _run(
        ["api", "--port", str(port)],
        tmp_path,
        LEDGERBRIDGE_DATABASE_URL="postgresql://lb@127.0.0.1:5432/lb",
        LEDGERBRIDGE_JWT_SECRET=JWT_SECRET,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "refusing to start:",
        "  - LEDGERBRIDGE_DATABASE_URL points at PostgreSQL but LEDGERBRIDGE_ENV is unset: set "
        "LEDGERBRIDGE_ENV=production (or LEDGERBRIDGE_ENV=development, or --dev, to run it as "
        "development)",
    ]
    assert not (tmp_path / ".ledgerbridge").exists()


def test_dev_flag_contradicting_production_is_refused(tmp_path: Path) -> None:
    result = _run(["migrate", "--dev"], tmp_path, LEDGERBRIDGE_ENV="production")
    assert result.returncode == 2
    assert "--dev contradicts LEDGERBRIDGE_ENV=production" in result.stderr


def test_dev_token_never_signs_with_a_secret_it_did_not_generate(tmp_path: Path) -> None:
    refused = _run(["dev-token", "--org", "acme"], tmp_path, LEDGERBRIDGE_JWT_SECRET=JWT_SECRET)
    assert refused.returncode == 2 and refused.stdout == ""
    assert "signs only with a development secret it generated itself" in refused.stderr
    minted = _run(["dev-token", "--org", "acme"], tmp_path)
    assert minted.returncode == 0 and minted.stdout.count(".") == 2


@pytest.mark.postgres
def test_production_start_checks_the_role_and_the_stored_tokens(tmp_path: Path) -> None:
    """Against a real PostgreSQL: a superuser is refused; then the owner role with a key
    that cannot decrypt the stored tokens is refused, naming the missing key id; then the
    right key serves, with the API docs off."""
    _require_postgres()
    with postgres_database() as url:
        upgrade(url)
        name = url.rsplit("/", 1)[1]
        db = _database(url)
        key = new_encryption_key()
        with db.system() as session:
            grant = OAuthGrant(tenant_id="org-vault", provider="xero")
            session.add(grant)
            session.flush()
            grant.access_token = Vault.from_keys([key]).encrypt(
                "access", context=token_context(grant.id, "access")
            )
        db.dispose()
        env = {
            f"LEDGERBRIDGE_{k.upper()}": str(v)
            for k, v in production(database_url=url, token_encryption_keys=key).items()
        }
        superuser = {**env, "LEDGERBRIDGE_DATABASE_URL": url.replace(f"{name}@", "postgres@")}
        refused = _run(["api", "--port", str(free_port())], tmp_path, **superuser)
        assert refused.returncode == 2
        assert "the database role postgres is a superuser" in refused.stderr
        wrong_key = {**env, "LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS": new_encryption_key()}
        refused = _run(["api", "--port", str(free_port())], tmp_path, **wrong_key)
        assert refused.returncode == 2
        stored_id = key_id(base64.b64decode(key))
        assert f"LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS lacks key {stored_id}" in refused.stderr
        assert key not in refused.stderr and key not in refused.stdout
        port = free_port()
        process = subprocess.Popen(
            [*CLI, "api", "--port", str(port)],
            cwd=tmp_path,
            env=_env(**env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port, timeout=60)
            import httpx

            origin = f"http://127.0.0.1:{port}"
            assert httpx.get(f"{origin}/ready").status_code == 200
            for path in ("/docs", "/redoc", "/openapi.json"):
                assert httpx.get(f"{origin}{path}").status_code == 404, path
        finally:
            process.terminate()
            process.wait(timeout=30)
