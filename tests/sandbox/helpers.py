"""Helpers for sandbox tests: OAuth URLs, PKCE, the specs folder. Plain functions."""

from __future__ import annotations

import base64
import hashlib
import secrets
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
SPECS = SHARED / "specs"
CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
REDIRECT_URI = "http://127.0.0.1:8765/callback"
DEFAULT_SCOPES = {
    "xero": "openid profile email offline_access accounting.transactions accounting.contacts",
    "quickbooks": "com.intuit.quickbooks.accounting",
    "lightspeed": "",
}


def needs_specs() -> Path:
    """The providers' API descriptions in ../shared/specs, or skip the test."""
    if not SPECS.is_dir():
        pytest.skip(f"{SPECS} is absent: the provider specifications are not available here")
    return SPECS


def accounts_of(sandbox_url: str, provider: str) -> list[str]:
    accounts = httpx.get(f"{sandbox_url}/_sandbox/accounts").json()
    return [a["account_id"] for a in accounts if a["provider"] == provider]


def authorize_url(sandbox_url: str, provider: str, **params: str) -> str:
    paths = {
        "xero": "/xero/identity/connect/authorize",
        "quickbooks": "/quickbooks/connect/oauth2",
        "lightspeed": "/lightspeed/connect",
    }
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "scope": DEFAULT_SCOPES[provider],
        "state": secrets.token_urlsafe(8),
        **params,
    }
    return f"{sandbox_url}{paths[provider]}?{urlencode({k: v for k, v in query.items() if v})}"


def token_url(sandbox_url: str, provider: str, account: str = "") -> str:
    if provider == "xero":
        return f"{sandbox_url}/xero/identity/connect/token"
    if provider == "quickbooks":
        return f"{sandbox_url}/quickbooks/oauth2/v1/tokens/bearer"
    return f"{sandbox_url}/lightspeed/{account}/api/1.0/token"


def redirect_params(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
