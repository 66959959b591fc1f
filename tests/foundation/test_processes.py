"""The real CLI in real processes: start-up, production refusal, outages, API keys."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from ledgerbridge.app import create_app
from ledgerbridge.settings import new_encryption_key
from tests.conftest import make_settings
from tests.support import PrivatePostgres, free_port, pg_bin, serve_in_thread, wait_for_port

CLI = [sys.executable, "-m", "ledgerbridge"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERBRIDGE_")}
    env.update(extra)
    return env


def test_up_on_an_empty_directory_serves_health_ready_and_keys(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [*CLI, "up", "--port", str(port)],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_port(port, timeout=30)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/health").status_code == 200
        assert httpx.get(f"{base}/ready").status_code == 200
        token = subprocess.run(
            [*CLI, "dev-token", "--org", "acme", "--role", "admin"],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        created = httpx.post(
            f"{base}/v1/api-keys",
            json={"name": "first"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201
        key = created.json()["key"]
        assert httpx.get(f"{base}/v1/api-keys", headers={"X-API-Key": key}).status_code == 403
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}" in output
    assert "dev-token" in output
    assert str((tmp_path / ".ledgerbridge").resolve()) in output
    assert key not in output and token not in output
    assert (tmp_path / ".ledgerbridge" / "ledgerbridge.db").exists()
    assert (tmp_path / ".ledgerbridge" / "dbos.db").exists()


def test_production_with_nothing_configured_refuses_to_start(tmp_path: Path) -> None:
    port = free_port()
    result = subprocess.run(
        [*CLI, "up", "--port", str(port)],
        cwd=tmp_path,
        env=_env(LEDGERBRIDGE_ENV="production"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    message = result.stderr
    for setting in (
        "LEDGERBRIDGE_DATABASE_URL",
        "LEDGERBRIDGE_JWT_SECRET",
        "LEDGERBRIDGE_SECRET_KEY",
        "LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS",
    ):
        assert setting in message
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health")
    assert not (tmp_path / ".ledgerbridge").exists()


def test_production_names_short_secrets(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "migrate"],
        cwd=tmp_path,
        env=_env(
            LEDGERBRIDGE_ENV="production",
            LEDGERBRIDGE_DATABASE_URL="postgresql://u@127.0.0.1/x",
            LEDGERBRIDGE_JWT_SECRET="short",
            LEDGERBRIDGE_SECRET_KEY="s" * 40,
            LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS="bm90LWEta2V5",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "LEDGERBRIDGE_JWT_SECRET is too short" in result.stderr
    assert "LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS entry 1" in result.stderr
    assert "LEDGERBRIDGE_DATABASE_URL" not in result.stderr


def test_dev_token_is_refused_in_production(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "dev-token", "--org", "a"],
        cwd=tmp_path,
        env=_env(
            LEDGERBRIDGE_ENV="production",
            LEDGERBRIDGE_DATABASE_URL="postgresql://u@127.0.0.1/x",
            LEDGERBRIDGE_JWT_SECRET=secrets.token_urlsafe(40),
            LEDGERBRIDGE_JWT_AUDIENCE="ledgerbridge",
            LEDGERBRIDGE_SECRET_KEY=secrets.token_urlsafe(40),
            LEDGERBRIDGE_TOKEN_ENCRYPTION_KEYS=new_encryption_key(),
            LEDGERBRIDGE_PUBLIC_URL="https://ledgerbridge.example",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "refused in production" in result.stderr
    assert result.stdout == ""


def test_apikeys_cli_creates_lists_and_revokes(tmp_path: Path) -> None:
    env = _env()
    subprocess.run([*CLI, "migrate"], cwd=tmp_path, env=env, check=True, capture_output=True)
    created = subprocess.run(
        [*CLI, "apikeys", "create", "--org", "acme", "--role", "viewer", "--scope", "sync"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    key = created.stdout.strip()
    assert key.startswith("lb_")
    listed = subprocess.run(
        [*CLI, "apikeys", "list"], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    ).stdout
    assert "acme" in listed and key.split("_")[1] in listed and key not in listed
    subprocess.run(
        [*CLI, "apikeys", "revoke", "1"], cwd=tmp_path, env=env, check=True, capture_output=True
    )
    after = subprocess.run(
        [*CLI, "apikeys", "list"], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    ).stdout
    assert "acme" not in after


@pytest.mark.skipif(pg_bin("initdb") is None, reason="PostgreSQL server binaries not installed")
def test_ready_reports_a_dead_database_and_recovers_without_restart(tmp_path: Path) -> None:
    from ledgerbridge.db.migrate import upgrade

    server = PrivatePostgres()
    server.init()
    server.start()
    try:
        upgrade(server.url)
        app = create_app(make_settings(server.url, tmp_path / "data"))
        with serve_in_thread(app) as origin:
            assert httpx.get(f"{origin}/ready").status_code == 200
            server.kill()
            started = time.monotonic()
            response = httpx.get(f"{origin}/ready", timeout=10)
            elapsed = time.monotonic() - started
            assert response.status_code == 503
            assert elapsed < 2.5
            assert response.headers["retry-after"] == "5"
            assert response.headers["cache-control"] == "no-store"
            assert response.json()["checks"]["database"]["status"] == "failed"
            assert httpx.get(f"{origin}/health").status_code == 200
            server.start()
            deadline = time.monotonic() + 15
            while httpx.get(f"{origin}/ready").status_code != 200:
                assert time.monotonic() < deadline, "/ready did not recover"
                time.sleep(0.2)
    finally:
        server.remove()
