"""``accounts``: a sandbox can seed more accounts per provider than its own few."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from ledgerbridge.sandbox.app import create_app
from ledgerbridge.sandbox.settings import SandboxSettings

PROVIDERS = ("xero", "quickbooks", "lightspeed")


def _ids(accounts: list[dict[str, Any]], provider: str) -> list[str]:
    return [a["account_id"] for a in accounts if a["provider"] == provider]


@pytest.mark.sandbox(size=3, settings={"accounts": 5})
def test_each_provider_seeds_the_accounts_asked_for_and_serves_the_new_ones(
    sandbox: httpx.Client, connect: Callable[..., dict[str, Any]]
) -> None:
    listed = sandbox.get("/_sandbox/accounts").json()
    default = create_app(SandboxSettings(), seed=1, size=3).state.sandbox.store.accounts.values()
    defaults = [{"provider": a.provider, "account_id": a.account_id} for a in default]
    for provider in PROVIDERS:
        ids = _ids(listed, provider)
        names = [a["name"] for a in listed if a["provider"] == provider]
        assert len(ids) == len(set(ids)) == len(set(names)) == 5
        own = _ids(defaults, provider)
        assert 1 < len(own) < 5 and ids[: len(own)] == own  # the usual ones are unchanged

    org = _ids(listed, "xero")[4]
    token = connect("xero", [org])["access_token"]
    invoices = sandbox.get(
        "/xero/api.xro/2.0/Invoices",
        headers={"Authorization": f"Bearer {token}", "xero-tenant-id": org},
    )
    assert invoices.status_code == 200 and len(invoices.json()["Invoices"]) == 3

    realm = _ids(listed, "quickbooks")[4]
    token = connect("quickbooks", [realm])["access_token"]
    company = sandbox.get(
        f"/quickbooks/v3/company/{realm}/companyinfo/{realm}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    assert company.status_code == 200, company.text
    assert company.json()["CompanyInfo"]["CompanyName"].endswith(" 5")

    store = _ids(listed, "lightspeed")[4]
    token = connect("lightspeed", [store])["access_token"]
    customers = sandbox.get(
        f"/lightspeed/{store}/api/2.0/customers", headers={"Authorization": f"Bearer {token}"}
    )
    assert customers.status_code == 200 and len(customers.json()["data"]) >= 3


def test_the_number_of_accounts_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert SandboxSettings().accounts is None
    monkeypatch.setenv("LEDGERBRIDGE_SANDBOX_ACCOUNTS", "10")
    assert SandboxSettings().accounts == 10
