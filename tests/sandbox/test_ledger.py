"""The request ledger: tests count provider calls with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from .helpers import CLIENT_ID, CLIENT_SECRET

Connect = Callable[..., dict[str, Any]]
TOKEN_PATH = "/xero/identity/connect/token"


def ledger(sandbox: httpx.Client, **filters: str) -> list[dict[str, Any]]:
    body = sandbox.get("/_sandbox/ledger", params=filters).json()
    assert body["count"] == len(body["entries"])
    entries: list[dict[str, Any]] = body["entries"]
    return entries


def test_counts_exactly_one_refresh(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("xero")
    sandbox.post(
        TOKEN_PATH,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(CLIENT_ID, CLIENT_SECRET),
    ).raise_for_status()

    calls = ledger(sandbox, provider="xero", path_prefix=TOKEN_PATH)
    assert [c["grant_type"] for c in calls] == ["authorization_code", "refresh_token"]
    assert [c["status"] for c in calls] == [200, 200]
    assert all(c["method"] == "POST" and c["time"] for c in calls)


def test_entries_name_the_account_and_status(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("xero")
    first, second = tokens["accounts"][:2]
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    sandbox.get("/xero/api.xro/2.0/Items", headers={**headers, "xero-tenant-id": first})
    sandbox.get("/xero/api.xro/2.0/Nothing", headers={**headers, "xero-tenant-id": second})
    sandbox.get(
        "/xero/api.xro/2.0/Items",
        params={"where": 'Code=="x"'},
        headers={**headers, "xero-tenant-id": second},
    )

    mine = ledger(sandbox, account=second)
    assert [(e["path"], e["status"]) for e in mine] == [
        ("/xero/api.xro/2.0/Nothing", 404),
        ("/xero/api.xro/2.0/Items", 200),
    ]
    assert mine[1]["query"] == "where=Code%3D%3D%22x%22"
    assert {e["provider"] for e in mine} == {"xero"}


def test_since_and_clearing(sandbox: httpx.Client, connect: Connect) -> None:
    connect("quickbooks")
    entries = ledger(sandbox)
    assert entries, "the consent page, the consent and the token call"
    later = ledger(sandbox, since=str(entries[-1]["at_ms"] + 1))
    assert later == []
    assert sandbox.delete("/_sandbox/ledger").status_code == 204
    assert ledger(sandbox) == []


def test_control_calls_are_not_logged(sandbox: httpx.Client) -> None:
    sandbox.get("/_sandbox/accounts")
    sandbox.get("/_sandbox/providers")
    assert ledger(sandbox) == []


def test_reset_clears_the_ledger(sandbox: httpx.Client, connect: Connect) -> None:
    connect("lightspeed")
    assert ledger(sandbox, provider="lightspeed")
    sandbox.post("/_sandbox/reset").raise_for_status()
    assert ledger(sandbox) == []
