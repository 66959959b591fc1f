"""The control API: what the sandbox serves, records as a user changes them, reset."""

from __future__ import annotations

import httpx
import pytest


def test_providers_list_their_endpoints(sandbox: httpx.Client) -> None:
    providers = sandbox.get("/_sandbox/providers").json()
    origin = str(sandbox.base_url).rstrip("/")
    assert providers["xero"]["token_url"] == f"{origin}/xero/identity/connect/token"
    assert providers["quickbooks"]["api_base_url"] == f"{origin}/quickbooks/v3"
    assert (
        providers["lightspeed"]["token_url"]
        == f"{origin}/lightspeed/{{domain_prefix}}/api/1.0/token"
    )
    for urls in providers.values():
        assert {"authorize_url", "token_url", "revoke_url", "api_base_url"} <= set(urls)


def test_accounts_of_every_provider(sandbox: httpx.Client) -> None:
    accounts = sandbox.get("/_sandbox/accounts").json()
    by_provider: dict[str, list[str]] = {}
    for account in accounts:
        assert set(account) >= {"provider", "account_id", "name", "currency"}
        by_provider.setdefault(account["provider"], []).append(account["account_id"])
    assert len(by_provider["xero"]) >= 2
    assert len(by_provider["quickbooks"]) >= 1
    assert len(by_provider["lightspeed"]) >= 1


def first_xero_tenant(sandbox: httpx.Client) -> str:
    return next(
        a["account_id"] for a in sandbox.get("/_sandbox/accounts").json() if a["provider"] == "xero"
    )


def test_records_change_as_a_user_would(sandbox: httpx.Client) -> None:
    base = f"/_sandbox/xero/{first_xero_tenant(sandbox)}"
    created = sandbox.post(
        f"{base}/Contacts", json={"Name": "Kererū Kitchens", "EmailAddress": "k@example.com"}
    )
    assert created.status_code == 201
    contact = created.json()
    assert contact["ContactStatus"] == "ACTIVE" and contact["UpdatedDateUTC"].startswith("/Date(")

    patched = sandbox.patch(
        f"{base}/Contacts/{contact['ContactID']}", json={"Name": "Kererū Kitchens Ltd"}
    )
    assert patched.json()["Name"] == "Kererū Kitchens Ltd"
    assert patched.json()["UpdatedDateUTC"] > contact["UpdatedDateUTC"]

    archived = sandbox.delete(f"{base}/Contacts/{contact['ContactID']}").json()
    assert archived["ContactStatus"] == "ARCHIVED"
    listed = sandbox.get(f"{base}/Contacts").json()
    assert listed[-1]["ContactID"] == contact["ContactID"], (
        "tombstones are listed, last changed last"
    )


def test_control_errors(sandbox: httpx.Client) -> None:
    tenant = first_xero_tenant(sandbox)
    assert sandbox.get("/_sandbox/sage/x/Contacts").status_code == 404
    assert sandbox.get("/_sandbox/xero/no-such-tenant/Contacts").status_code == 404
    unknown_type = sandbox.get(f"/_sandbox/xero/{tenant}/Widgets")
    assert unknown_type.status_code == 404
    assert unknown_type.json()["error"] == "not_found"
    assert (
        sandbox.patch(f"/_sandbox/xero/{tenant}/Contacts/nope", json={"Name": "x"}).status_code
        == 404
    )
    bad = sandbox.post(f"/_sandbox/xero/{tenant}/Contacts", json={"EmailAddress": "x@y.z"})
    assert bad.status_code == 422
    assert "name" in bad.json()["message"]


@pytest.mark.sandbox(size=12)
def test_reset_restores_the_seeded_data_and_settings(sandbox: httpx.Client) -> None:
    base = f"/_sandbox/xero/{first_xero_tenant(sandbox)}"
    before = sandbox.get(f"{base}/Invoices").json()
    sandbox.post(f"{base}/Contacts", json={"Name": "Temporary"})
    sandbox.patch("/_sandbox/settings", json={"rate_limits": False})

    assert sandbox.post("/_sandbox/reset").json() == {"seed": 1, "size": 12}
    assert sandbox.get(f"{base}/Invoices").json() == before
    assert "Temporary" not in {c["Name"] for c in sandbox.get(f"{base}/Contacts").json()}
    assert sandbox.get("/_sandbox/settings").json()["rate_limits"] is True


@pytest.mark.sandbox(seed=5, size=12)
def test_seeds_are_deterministic(sandbox: httpx.Client, sandbox_url: str) -> None:
    accounts = sandbox.get("/_sandbox/accounts").json()
    tenant = first_xero_tenant(sandbox)
    invoices = sandbox.get(f"/_sandbox/xero/{tenant}/Invoices").json()
    sandbox.post("/_sandbox/reset")
    assert sandbox.get("/_sandbox/accounts").json() == accounts
    assert sandbox.get(f"/_sandbox/xero/{tenant}/Invoices").json() == invoices
