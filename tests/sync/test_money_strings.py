"""Every money string a host app reads — unified records, events, push answers — has exactly
its currency's ISO 4217 decimals ("1326.10", "0.00", JPY "1326"), after a full sandbox sync
of all three providers (a QuickBooks company that bills in yen among them)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import iso4217
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.push import service as push
from ledgerbridge.services import Services
from ledgerbridge.unified import Model
from tests.connections.conftest import accounts, connect
from tests.push.conftest import NoEnqueue
from tests.push.writes import writes_for
from tests.sync.conftest import RunSync
from tests.sync.test_record_filters import every

pytestmark = [
    pytest.mark.sandbox(seed=5, size=24, settings={"rate_limits": False}),
    pytest.mark.whole_pages,
]


# The money fields of the unified models and writes, named here, not taken from the code.
AMOUNT_KEYS = {
    "subtotal",
    "total_tax",
    "total",
    "amount_paid",
    "amount_due",
    "amount",
    "tax_amount",
    "remaining",
}
# Prices per unit: at least the currency's decimals, and more only where the provider
# keeps more (Lightspeed's tax-exclusive prices have five): never rounded away.
PRICE_KEYS = {"unit_amount", "unit_price", "purchase_price"}
MONEY_KEYS = AMOUNT_KEYS | PRICE_KEYS


def decimals(currency: str | None) -> int:
    """ISO 4217's minor units; 2 where it gives none (no currency, XXX), as documented."""
    try:
        exponent = iso4217.Currency(currency).exponent if currency else None
    except ValueError:
        exponent = None
    return 2 if exponent is None else exponent


def walk(value: Any, currency: str | None, found: list[tuple[str, str, str | None]]) -> None:
    """Collect (field, money string, currency) from ``value``; lines inherit the currency."""
    if isinstance(value, list):
        for part in value:
            walk(part, currency, found)
    elif isinstance(value, dict):
        currency = value.get("currency", currency)
        for key, inner in value.items():
            if key in MONEY_KEYS and inner is not None:
                found.append((key, inner, currency))
            else:
                walk(inner, currency, found)


def right(key: str, text: object, currency: str | None) -> bool:
    """An amount has exactly its currency's decimals; a price at least as many."""
    n = decimals(currency)
    if key in PRICE_KEYS:
        fraction = rf"\.\d{{{n},}}" if n else r"(\.\d+)?"
    else:
        fraction = rf"\.\d{{{n}}}" if n else ""
    return isinstance(text, str) and re.fullmatch(rf"-?\d+{fraction}", text) is not None


def test_every_money_string_has_its_currencys_decimals(
    lb: TestClient,
    sandbox: httpx.Client,
    svc: Services,
    run_sync: RunSync,
    auth: Any,
    tenant: str,
) -> None:
    svc._dbos_client = NoEnqueue()  # type: ignore[assignment]  # the test runs the pushes
    headers = auth(tenant)
    connections = {}
    for provider, account in (
        ("xero", accounts(sandbox, "xero")[0]["account_id"]),
        ("quickbooks", "9341453000000002"),  # the Australian company: it bills in yen too
        ("lightspeed", accounts(sandbox, "lightspeed")[0]["account_id"]),
    ):
        [connection] = connect(lb, headers, provider, [account])
        run = run_sync(int(connection["id"]))
        assert run.status == "succeeded", run.error
        connections[provider] = (connection["id"], account)

    answers: list[Any] = []
    for provider, collection in (("xero", "invoices"), ("quickbooks", "invoices")):
        connection_id, account = connections[provider]
        body = writes_for(sandbox, provider, account, "money")(7)
        accepted = lb.post(
            f"/v1/connections/{connection_id}/{collection}", json=body, headers=headers
        )
        assert accepted.status_code == 202, accepted.text
        operation = accepted.json()["operation_id"]
        jobs = push.claim(svc, int(operation))
        assert isinstance(jobs, list)
        push.finish_batch(svc, jobs, push.execute_batch(svc, jobs))
        done = lb.get(f"/v1/operations/{operation}", headers=headers).json()
        assert done["status"] == "synced", done
        record = lb.get(
            f"/v1/connections/{connection_id}/records/invoice/{done['record_id']}",
            headers=headers,
        ).json()
        answers += [done, record["data"]]
    yen_body = {**writes_for(sandbox, "quickbooks", connections["quickbooks"][1], "yen")(3)}
    yen_body.update(currency="JPY", lines=[{**yen_body["lines"][0], "unit_amount": "1326"}])
    accepted = lb.post(
        f"/v1/connections/{connections['quickbooks'][0]}/invoices", json=yen_body, headers=headers
    )
    assert accepted.status_code == 202, accepted.text
    answers.append(
        lb.get(f"/v1/operations/{accepted.json()['operation_id']}", headers=headers).json()
    )

    found: list[tuple[str, str, str | None]] = []
    for model in Model:
        for row in every(lb, headers, f"/v1/records/{model.value}", 100, include_deleted="true"):
            walk(row["data"], None, found)
    events: list[Any] = []
    after = "0"
    while after:
        page = lb.get("/v1/events", params={"after": after, "limit": 100}, headers=headers)
        assert page.status_code == 200, page.text
        events += page.json()["data"]
        after = page.json()["next_after"]
    assert events
    walk([event.get("data") for event in events], None, found)
    walk(answers, None, found)

    wrong = [
        (key, text, currency) for key, text, currency in found if not right(key, text, currency)
    ]
    assert not wrong, wrong[:20]
    currencies = {currency for *_, currency in found}
    assert {"JPY", "AUD", "XXX", None} <= currencies, currencies
    yen = [text for _, text, currency in found if currency == "JPY"]
    assert len(yen) > 10 and "1326" in yen, yen[:20]
    assert len(found) > 1000, len(found)
