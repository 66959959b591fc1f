"""Offline API docs: every asset of /docs and /redoc is served by ledgerbridge itself, and
the docs are off in production unless LEDGERBRIDGE_API_DOCS=true."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledgerbridge.app import create_app
from ledgerbridge.settings import load_settings
from tests.conftest import make_settings
from tests.security.test_production_config import production

ATTRIBUTE = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']+)["']""")
ABSOLUTE = re.compile(r"""["'(](?:https?:)?//[^"')\s]+""")


@pytest.fixture
def client(tmp_path: Path) -> Any:
    settings = make_settings(f"sqlite:///{tmp_path / 'docs.db'}", tmp_path / "data")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_load_only_same_origin_assets_and_they_are_served(
    client: TestClient, page: str
) -> None:
    html = client.get(page)
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert ABSOLUTE.findall(html.text) == []  # no http://, https:// or //host anywhere
    assets = ATTRIBUTE.findall(html.text)
    scripts = [asset for asset in assets if asset.endswith(".js")]
    assert scripts, html.text
    for asset in assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 1000, asset
    policy = html.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert client.get("/openapi.json").json()["info"]["title"] == "ledgerbridge"


def test_swagger_ui_sends_the_document_to_no_validator(client: TestClient) -> None:
    assert '"validatorUrl": null' in client.get("/docs").text


def test_docs_are_off_in_production_unless_enabled() -> None:
    with TestClient(create_app(load_settings(**production()))) as off:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui-bundle.js"):
            assert off.get(path).status_code == 404, path
        assert off.get("/health").status_code == 200
    with TestClient(create_app(load_settings(**production(api_docs=True)))) as on:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui-bundle.js"):
            assert on.get(path).status_code == 200, path
