"""Fault injection through the control API, seen over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .helpers import CLIENT_ID, CLIENT_SECRET, token_url

Connect = Callable[..., dict[str, Any]]


@pytest.fixture
def xero_headers(connect: Connect) -> dict[str, str]:
    tokens = connect("xero")
    return {
        "Authorization": f"Bearer {tokens['access_token']}",
        "xero-tenant-id": tokens["accounts"][0],
    }


def add_fault(sandbox: httpx.Client, **rule: Any) -> None:
    answer = sandbox.post("/_sandbox/faults", json=rule)
    assert answer.status_code == 201, answer.text


def test_the_next_n_calls_fail(sandbox: httpx.Client, xero_headers: dict[str, str]) -> None:
    add_fault(sandbox, provider="xero", kind="error", status=503, count=2)
    codes = [
        sandbox.get("/xero/api.xro/2.0/Items", headers=xero_headers).status_code for _ in range(3)
    ]
    assert codes == [503, 503, 200]
    assert sandbox.get("/_sandbox/faults").json() == []


def test_faults_match_account_and_path(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("xero")
    first, second = tokens["accounts"][:2]
    add_fault(
        sandbox,
        provider="xero",
        kind="error",
        status=500,
        account=second,
        path_prefix="/xero/api.xro/2.0/Invoices",
    )
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    def status(tenant: str, resource: str) -> int:
        return sandbox.get(
            f"/xero/api.xro/2.0/{resource}", headers={**headers, "xero-tenant-id": tenant}
        ).status_code

    assert status(first, "Invoices") == 200
    assert status(second, "Items") == 200
    assert status(second, "Invoices") == 500


def test_a_dropped_connection_gets_no_answer(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("lightspeed")
    url = f"/lightspeed/{tokens['domain_prefix']}/api/2.0/outlets"
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    add_fault(sandbox, provider="lightspeed", kind="drop", count=1)

    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{sandbox.base_url}{url}", headers=headers)
    assert sandbox.get(url, headers=headers).status_code == 200
    ledger = sandbox.get(
        "/_sandbox/ledger", params={"provider": "lightspeed", "path_prefix": url}
    ).json()
    assert [e["fault"] for e in ledger["entries"]] == ["drop", None]


def test_forced_429_in_the_provider_shape(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("quickbooks")
    realm = tokens["redirect"]["realmId"]
    add_fault(sandbox, provider="quickbooks", kind="rate_limit", count=1)
    answer = sandbox.get(
        f"/quickbooks/v3/company/{realm}/companyinfo/{realm}",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert answer.status_code == 429
    assert "Fault" in answer.json()


def test_quickbooks_fault_inside_http_200(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("quickbooks")
    realm = tokens["redirect"]["realmId"]
    add_fault(sandbox, provider="quickbooks", kind="error", status=200, count=1)
    answer = sandbox.get(
        f"/quickbooks/v3/company/{realm}/companyinfo/{realm}",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert answer.status_code == 200
    assert answer.json()["Fault"]["type"] == "SystemFault"


def test_slow_token_endpoint_touches_only_token_calls(
    sandbox: httpx.Client, connect: Connect
) -> None:
    add_fault(sandbox, provider="quickbooks", kind="slow_token", latency_ms=50, count=1)
    tokens = connect("quickbooks")  # the code exchange is slowed, using the rule up
    assert tokens["access_token"]
    assert sandbox.get("/_sandbox/faults").json() == []

    add_fault(sandbox, provider="quickbooks", kind="slow_token", latency_ms=50, count=1)
    realm = tokens["redirect"]["realmId"]
    sandbox.get(
        f"/quickbooks/v3/company/{realm}/companyinfo/{realm}",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert len(sandbox.get("/_sandbox/faults").json()) == 1, "a data call does not use it up"


def test_rates_draw_and_clear(sandbox: httpx.Client, xero_headers: dict[str, str]) -> None:
    add_fault(sandbox, provider="xero", kind="error", rate=0.0)
    assert sandbox.get("/xero/api.xro/2.0/Items", headers=xero_headers).status_code == 200
    add_fault(sandbox, provider="xero", kind="error", status=502, rate=1.0)
    assert sandbox.get("/xero/api.xro/2.0/Items", headers=xero_headers).status_code == 502
    assert sandbox.delete("/_sandbox/faults").status_code == 204
    assert sandbox.get("/xero/api.xro/2.0/Items", headers=xero_headers).status_code == 200


def test_token_endpoint_errors_can_be_injected(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("xero")
    add_fault(
        sandbox, provider="xero", kind="error", status=500, path_prefix="/xero/identity", count=1
    )
    answer = sandbox.post(
        token_url(str(sandbox.base_url), "xero"),
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(CLIENT_ID, CLIENT_SECRET),
    )
    assert answer.status_code == 500


def test_bad_rules_are_refused(sandbox: httpx.Client) -> None:
    assert (
        sandbox.post("/_sandbox/faults", json={"provider": "xero", "kind": "meteor"}).status_code
        == 422
    )
    assert (
        sandbox.post("/_sandbox/faults", json={"provider": "sage", "kind": "error"}).status_code
        == 422
    )
