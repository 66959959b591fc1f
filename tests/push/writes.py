"""Writes for push through the real service: bodies each provider account takes, submitting
them, waiting for their outcome and finding them at the provider (also used by
``benchmarks/push.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.processes import Service

Body = dict[str, Any]


def first(sandbox: httpx.Client, provider: str) -> str:
    return next(a for a in sandbox.get("/_sandbox/accounts").json() if a["provider"] == provider)[
        "account_id"
    ]


def writes_for(
    sandbox: httpx.Client, provider: str, account: str, tag: str
) -> Callable[[int], Body]:
    """A function from n to a body the account takes: an invoice (Xero, QuickBooks) or a
    contact (Lightspeed, which takes no invoices), referenced ``{tag}-{n}``."""
    if provider == "xero":
        currency = next(
            a["currency"]
            for a in sandbox.get("/_sandbox/accounts").json()
            if a["account_id"] == account
        )
        contact = next(
            c["ContactID"]
            for c in sandbox.get(f"/_sandbox/xero/{account}/Contacts").json()
            if c.get("ContactStatus") == "ACTIVE"
        )
        return lambda n: {
            "contact_remote_id": contact,
            "issue_date": "2026-11-02",
            "currency": currency,
            "reference": f"{tag}-{n}",
            "lines": [
                {"description": f"Order {n}", "unit_amount": f"{n}.25", "account_code": "200"}
            ],
        }
    if provider == "quickbooks":
        customer = next(
            c
            for c in sandbox.get(f"/_sandbox/quickbooks/{account}/Customer").json()
            if c.get("Active")
        )
        item = next(i["Id"] for i in sandbox.get(f"/_sandbox/quickbooks/{account}/Item").json())
        currency = customer.get("CurrencyRef", {}).get("value", "USD")
        return lambda n: {
            "contact_remote_id": customer["Id"],
            "issue_date": "2026-11-02",
            "currency": currency,
            "number": f"{tag}-{n}",
            "lines": [{"description": f"Order {n}", "unit_amount": f"{n}.50", "item_code": item}],
        }
    return lambda n: {"name": f"Customer {tag} {n}", "code": f"{tag}-{n}"}


def bodies(sandbox: httpx.Client, tag: str) -> dict[str, Callable[[int], Body]]:
    """Per provider: writes for its first account."""
    return {
        provider: writes_for(sandbox, provider, first(sandbox, provider), tag)
        for provider in ("xero", "quickbooks", "lightspeed")
    }


def landed(sandbox: httpx.Client, provider: str, tag: str, account: str | None = None) -> list[str]:
    """The keys of the records carrying ``tag`` that the provider account (default: the
    first) holds: one per write."""
    account = account or first(sandbox, provider)
    kind, key = {
        "xero": ("Invoices", "Reference"),
        "quickbooks": ("Invoice", "DocNumber"),
        "lightspeed": ("customers", "customer_code"),
    }[provider]
    listing = sandbox.get(f"/_sandbox/{provider}/{account}/{kind}").json()
    return [str(r.get(key)) for r in listing if str(r.get(key) or "").startswith(f"{tag}-")]


def settle(lb: Service, ids: list[str], headers: dict[str, str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    statuses: dict[str, str] = {}
    while time.monotonic() < deadline:
        for operation_id in ids:
            if statuses.get(operation_id) in ("synced", "failed"):
                continue
            try:
                got = httpx.get(
                    f"{lb.url}/v1/operations/{operation_id}", headers=headers, timeout=5
                )
                statuses[operation_id] = got.json()["status"]
            except httpx.HTTPError:
                pass
        if all(statuses.get(i) in ("synced", "failed") for i in ids):
            return statuses
        time.sleep(0.5)
    return statuses


def submit(
    lb: Service, connection_id: str, collection: str, body: Body, headers: dict[str, str]
) -> str:
    answer = httpx.post(
        f"{lb.url}/v1/connections/{connection_id}/{collection}",
        json=body,
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    operation_id: str = answer.json()["operation_id"]
    return operation_id
