"""The vault and key rotation."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.connections.models import OAuthGrant
from ledgerbridge.connections.tokens import read_token
from ledgerbridge.db.engine import Database
from ledgerbridge.db.migrate import upgrade
from ledgerbridge.security.vault import Vault, VaultError
from ledgerbridge.settings import new_encryption_key
from tests.conftest import JWT_SECRET, SECRET_KEY, make_settings
from tests.connections.conftest import accounts, connect
from tests.support import postgres_database


def test_every_write_uses_a_fresh_nonce_and_names_its_key() -> None:
    vault = Vault.from_keys([new_encryption_key()])
    first = vault.encrypt("secret", context="connection:1:access")
    second = vault.encrypt("secret", context="connection:1:access")
    assert first != second
    assert vault.key_id_of(first) == vault.active_id
    assert vault.decrypt(first, context="connection:1:access") == "secret"
    with pytest.raises(VaultError):
        vault.decrypt(first, context="connection:2:access")
    with pytest.raises(VaultError):
        vault.decrypt(first[:-4] + "AAAA", context="connection:1:access")
    with pytest.raises(VaultError, match="not configured"):
        Vault.from_keys([new_encryption_key()]).decrypt(first, context="connection:1:access")


@pytest.fixture
def own_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own: rotation touches every row of every tenant."""
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'rotation.db'}"
        upgrade(url)
        yield url
        return
    with postgres_database() as url:
        upgrade(url)
        yield url


def test_keys_rotate_leaves_every_token_readable_under_the_new_key_only(
    own_database: str, sandbox_url: str, sandbox: httpx.Client, tmp_path: Path, auth, tenant: str
) -> None:
    lb_settings = make_settings(own_database, tmp_path, sandbox_url=sandbox_url)
    with TestClient(create_app(lb_settings)) as lb:
        for account in accounts(sandbox, "quickbooks"):
            connect(lb, auth(tenant), "quickbooks", [account["account_id"]])
    old_key = lb_settings.token_encryption_keys[0].get_secret_value()
    new_key = new_encryption_key()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERBRIDGE_")}
    env.update(
        LEDGERBRIDGE_ENV="development",
        LEDGERBRIDGE_JWT_SECRET=JWT_SECRET,
        LEDGERBRIDGE_SECRET_KEY=SECRET_KEY,
        LEDGERBRIDGE_DATABASE_URL=lb_settings.resolved_database_url,
        LEDGERBRIDGE_DATA_DIR=str(lb_settings.data_dir),
        LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS=f"{new_key},{old_key}",
    )
    result = subprocess.run(
        [sys.executable, "-m", "ledgerbridge", "keys", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "re-encrypted" in result.stdout
    new_only, old_only = Vault.from_keys([new_key]), Vault.from_keys([old_key])
    db = Database.connect(lb_settings)
    with db.system() as session:
        grants = session.query(OAuthGrant).filter(OAuthGrant.tenant_id == tenant).all()
        assert len(grants) == 2
        for grant in grants:
            for field in ("access", "refresh"):
                assert read_token(new_only, grant, field)
                with pytest.raises(VaultError):
                    read_token(old_only, grant, field)
    db.dispose()
    again = subprocess.run(
        [sys.executable, "-m", "ledgerbridge", "keys", "rotate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0 and "0 rows re-encrypted" in again.stdout
