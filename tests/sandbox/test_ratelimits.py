"""Each provider's rate limits, headers and 429 answer, over HTTP."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest

Connect = Callable[..., dict[str, Any]]


def authorised(sandbox: httpx.Client, tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.mark.sandbox(settings={"xero_tenant_per_minute": 3})
def test_xero_minute_limit(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("xero")
    headers = {**authorised(sandbox, tokens), "xero-tenant-id": tokens["accounts"][0]}
    answers = [sandbox.get("/xero/api.xro/2.0/Items", headers=headers) for _ in range(4)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-MinLimit-Remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert answers[0].headers["X-DayLimit-Remaining"] == "4999"
    assert answers[0].headers["X-AppMinLimit-Remaining"] == "9999"
    refused = answers[3]
    assert refused.headers["X-Rate-Limit-Problem"] == "minute"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60

    other_tenant = {**headers, "xero-tenant-id": tokens["accounts"][1]}
    assert sandbox.get("/xero/api.xro/2.0/Items", headers=other_tenant).status_code == 200
    sandbox.post("/_sandbox/clock", json={"advance_seconds": 61})
    assert sandbox.get("/xero/api.xro/2.0/Items", headers=headers).status_code == 200


@pytest.mark.sandbox(settings={"xero_tenant_per_day": 2})
def test_xero_day_limit(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("xero")
    headers = {**authorised(sandbox, tokens), "xero-tenant-id": tokens["accounts"][0]}
    answers = [sandbox.get("/xero/api.xro/2.0/Accounts", headers=headers) for _ in range(3)]
    assert answers[1].headers["X-DayLimit-Remaining"] == "0"
    assert answers[2].status_code == 429
    assert answers[2].headers["X-Rate-Limit-Problem"] == "day"


@pytest.mark.sandbox(settings={"xero_tenant_concurrent": 2})
def test_xero_concurrency_limit(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("xero")
    headers = {**authorised(sandbox, tokens), "xero-tenant-id": tokens["accounts"][0]}
    sandbox.post(
        "/_sandbox/faults", json={"provider": "xero", "kind": "latency", "latency_ms": 700}
    )
    url = f"{sandbox.base_url}/xero/api.xro/2.0/Items"
    with ThreadPoolExecutor(5) as pool:
        answers = list(pool.map(lambda _: httpx.get(url, headers=headers, timeout=30), range(5)))

    refused = [a for a in answers if a.status_code == 429]
    assert len(refused) == 3
    assert {a.headers["X-Rate-Limit-Problem"] for a in refused} == {"concurrent"}


@pytest.mark.sandbox(settings={"quickbooks_realm_per_minute": 2})
def test_quickbooks_limit_answers_with_a_fault(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("quickbooks")
    realm = tokens["redirect"]["realmId"]
    url = f"/quickbooks/v3/company/{realm}/companyinfo/{realm}"
    headers = authorised(sandbox, tokens)
    answers = [sandbox.get(url, headers=headers) for _ in range(3)]

    refused = answers[2]
    assert refused.status_code == 429
    assert refused.json()["Fault"]["Error"][0]["code"] == "3001"
    assert "Retry-After" not in refused.headers, "Intuit does not promise one"

    sandbox.patch("/_sandbox/settings", json={"quickbooks_retry_after_seconds": 60})
    assert sandbox.get(url, headers=headers).headers["Retry-After"] == "60"


@pytest.mark.sandbox(
    settings={"lightspeed_requests_per_register": 1, "lightspeed_requests_base": 1}
)
def test_lightspeed_limit_grows_with_registers_and_retries_at_a_date(
    sandbox: httpx.Client, connect: Connect
) -> None:
    tokens = connect("lightspeed")
    store = tokens["domain_prefix"]
    registers = next(
        a["registers"] for a in sandbox.get("/_sandbox/accounts").json() if a["account_id"] == store
    )
    allowed = registers + 1
    url = f"/lightspeed/{store}/api/2.0/outlets"
    answers = [sandbox.get(url, headers=authorised(sandbox, tokens)) for _ in range(allowed + 1)]

    assert answers[0].headers["X-RateLimit-Limit"] == str(allowed)
    assert [a.headers["X-RateLimit-Remaining"] for a in answers[:allowed]] == [
        str(n) for n in range(allowed - 1, -1, -1)
    ]
    refused = answers[-1]
    assert refused.status_code == 429
    assert refused.json() == {"error": "Too Many Requests", "message": "Rate limiting enforced"}
    retry_at = parsedate_to_datetime(refused.headers["Retry-After"])
    assert retry_at > datetime.now(UTC)


@pytest.mark.sandbox(settings={"rate_limits": False, "xero_tenant_per_minute": 1})
def test_limits_can_be_switched_off(sandbox: httpx.Client, connect: Connect) -> None:
    tokens = connect("xero")
    headers = {**authorised(sandbox, tokens), "xero-tenant-id": tokens["accounts"][0]}
    answers = [sandbox.get("/xero/api.xro/2.0/Items", headers=headers) for _ in range(3)]
    assert {a.status_code for a in answers} == {200}
    assert "X-MinLimit-Remaining" not in answers[0].headers


@pytest.mark.sandbox(settings={"xero_tenant_per_minute": 1})
def test_control_calls_are_never_limited(sandbox: httpx.Client) -> None:
    assert {sandbox.get("/_sandbox/accounts").status_code for _ in range(5)} == {200}
