"""The records API's filters, on both databases: each answers exactly the records its
field says, pages like the unfiltered list, refuses a bad value with a 422 in the one
error shape, and the list across connections never shows another tenant's records."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ledgerbridge.unified import record_columns
from tests.connections.conftest import accounts, connect
from tests.sync.conftest import RunSync

pytestmark = [
    pytest.mark.sandbox(seed=5, size=24, settings={"rate_limits": False}),
    pytest.mark.whole_pages,
]

Row = dict[str, Any]


def every(
    lb: TestClient, headers: dict[str, str], path: str, limit: int = 7, **params: Any
) -> list[Row]:
    """Every record the list answers, page by page (small pages: the cursor is exercised)."""
    found: list[Row] = []
    cursor = None
    while True:
        page = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        answer = lb.get(path, params=page, headers=headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        found.extend(body["data"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def ids(rows: list[Row]) -> list[str]:
    return [row["id"] for row in rows]


def synced(
    lb: TestClient, sandbox: httpx.Client, run_sync: RunSync, headers: dict[str, str], provider: str
) -> str:
    """Connect the provider's first account and sync it: the connection id."""
    [connection] = connect(lb, headers, provider, [accounts(sandbox, provider)[0]["account_id"]])
    assert run_sync(int(connection["id"])).status == "succeeded"
    return str(connection["id"])


def business_day(model: str, row: Row) -> str | None:
    day = record_columns(model, row["data"])["business_date"]
    return day.isoformat() if day else None


def test_each_filter_answers_exactly_its_records(
    lb: TestClient, sandbox: httpx.Client, run_sync: RunSync, auth: Any, tenant: str
) -> None:
    headers = auth(tenant)
    connection = synced(lb, sandbox, run_sync, headers, "xero")
    for model in ("invoice", "payment", "bank_transaction"):
        check_filters(lb, headers, connection, model)


def check_filters(lb: TestClient, headers: dict[str, str], connection: str, model: str) -> None:
    path = f"/v1/connections/{connection}/records/{model}"
    everything = every(lb, headers, path, include_deleted="true")
    assert len(everything) > 3, model
    live = [r for r in everything if not r["remote_was_deleted"]]
    assert ids(every(lb, headers, path)) == ids(live)

    def check(params: dict[str, Any], keep: Callable[[Row], bool]) -> None:
        want = [r["id"] for r in everything if keep(r)]
        got = every(lb, headers, path, include_deleted="true", **params)
        assert ids(got) == want, (model, params)  # exactly these, in id order
        got_cross = every(lb, headers, f"/v1/records/{model}", include_deleted="true", **params)
        assert ids(got_cross) == want, (model, params)

    def day(row: Row) -> str:
        return business_day(model, row) or ""

    for status in {r["data"]["status"] for r in everything}:
        check({"status": status}, lambda r, s=status: r["data"]["status"] == s)
    contacts = Counter(r["data"]["contact_remote_id"] for r in everything)
    contact = next(c for c, _ in contacts.most_common() if c is not None)
    check({"contact_remote_id": contact}, lambda r: r["data"]["contact_remote_id"] == contact)
    check({"contact_remote_id": "no-such-contact"}, lambda r: False)
    for currency in {r["data"]["currency"] for r in everything}:
        check({"currency": currency}, lambda r, c=currency: r["data"]["currency"] == c)
    check({"currency": "JPY"}, lambda r: r["data"]["currency"] == "JPY")
    remote = everything[len(everything) // 2]["remote_id"]
    check({"remote_id": remote}, lambda r: r["remote_id"] == remote)
    days = sorted(d for r in everything if (d := day(r)))
    low, high = days[len(days) // 4], days[3 * len(days) // 4]
    assert low < high, days
    check({"date_from": low}, lambda r: day(r) >= low)
    check({"date_to": high}, lambda r: "" < day(r) <= high)
    status = everything[0]["data"]["status"]
    check(
        {"date_from": low, "date_to": high, "status": status},
        lambda r: low <= day(r) <= high and r["data"]["status"] == status,
    )
    check({"date_from": low, "date_to": low}, lambda r: day(r) == low)


def test_a_sale_is_of_its_utc_day_and_a_contact_has_a_status(
    lb: TestClient, sandbox: httpx.Client, run_sync: RunSync, auth: Any, tenant: str
) -> None:
    headers = auth(tenant)
    connection = synced(lb, sandbox, run_sync, headers, "lightspeed")
    sales = every(lb, headers, f"/v1/connections/{connection}/records/sale")
    day = sales[0]["data"]["date"][:10]  # written in UTC
    on_day = every(
        lb, headers, f"/v1/connections/{connection}/records/sale", date_from=day, date_to=day
    )
    assert ids(on_day) == [r["id"] for r in sales if r["data"]["date"][:10] == day]
    contacts = every(lb, headers, "/v1/records/contact", status="active")
    assert contacts and all(r["data"]["status"] == "active" for r in contacts)


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        ("invoice", {"status": "bogus"}, "status is one of"),
        ("invoice", {"status": "active"}, "status is one of"),
        ("item", {"status": "active"}, "no status"),
        ("item", {"contact_remote_id": "1"}, "no contact_remote_id"),
        ("account", {"date_from": "2026-01-01"}, "no date_from / date_to"),
        ("location", {"currency": "NZD"}, None),  # a location's currency is filterable
        ("invoice", {"currency": "nzd"}, "currency"),
        ("invoice", {"currency": "NZDX"}, "currency"),
        ("invoice", {"date_from": "2026-13-01"}, "date_from"),
        ("invoice", {"date_to": "yesterday"}, "date_to"),
        ("invoice", {"date_from": "2026-03-02", "date_to": "2026-03-01"}, "after date_to"),
        ("invoice", {"remote_id": ""}, "remote_id"),
        ("invoice", {"remote_id": "x" * 129}, "remote_id"),
        ("invoice", {"contact_remote_id": "x" * 201}, "contact_remote_id"),
        ("invoice", {"updated_since": "2026-03-01T00:00:00"}, "timezone"),
        ("invoice", {"status": "open' OR '1'='1"}, "status"),
        ("invoice", {"remote_id": "a\x00b"}, "remote_id"),
        ("invoice", {"contact_remote_id": "\x1b[31m"}, "contact_remote_id"),
    ],
)
def test_bad_filter_values_are_a_422_in_the_one_error_shape(
    lb: TestClient, auth: Any, tenant: str, path: str, params: dict[str, str], says: str | None
) -> None:
    headers = auth(tenant)
    # Filters are checked before the connection is looked up: any id will do.
    for url in (f"/v1/records/{path}", f"/v1/connections/1/records/{path}"):
        answer = lb.get(url, params=params, headers=headers)
        if says is None:
            assert answer.status_code in (200, 404), answer.text
            continue
        assert answer.status_code == 422, (url, params, answer.text)
        body = answer.json()
        assert set(body) == {"error", "message", "details", "trace_id"}, body
        assert body["error"] == "validation_error"
        assert says in answer.text, answer.text


@pytest.mark.parametrize(
    "params",
    [{"connection_id": "0"}, {"connection_id": "x"}, {"provider": "sage"}, {"limit": "101"}],
)
def test_bad_cross_connection_filters_are_a_422(
    lb: TestClient, auth: Any, tenant: str, params: dict[str, str]
) -> None:
    answer = lb.get("/v1/records/invoice", params=params, headers=auth(tenant))
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "validation_error"


def test_the_list_across_connections_is_the_tenants_alone(
    lb: TestClient, sandbox: httpx.Client, run_sync: RunSync, auth: Any, tenant: str
) -> None:
    a, b = auth(tenant), auth(tenant + "-b")
    xero = synced(lb, sandbox, run_sync, a, "xero")
    quickbooks = synced(lb, sandbox, run_sync, a, "quickbooks")
    [theirs] = connect(lb, b, "quickbooks", [accounts(sandbox, "quickbooks")[1]["account_id"]])
    assert run_sync(int(theirs["id"])).status == "succeeded"

    mine = {
        connection: every(lb, a, f"/v1/connections/{connection}/records/invoice")
        for connection in (xero, quickbooks)
    }
    across = every(lb, a, "/v1/records/invoice")
    assert ids(across) == sorted(ids(mine[xero] + mine[quickbooks]), key=int)
    assert ids(every(lb, a, "/v1/records/invoice", provider="xero")) == ids(mine[xero])
    assert ids(every(lb, a, "/v1/records/invoice", connection_id=quickbooks)) == ids(
        mine[quickbooks]
    )
    assert every(lb, a, "/v1/records/invoice", provider="lightspeed") == []
    assert every(lb, a, "/v1/records/invoice", connection_id=xero, provider="quickbooks") == []
    # An empty page of one's own connection is an empty page, not a 404.
    assert every(lb, a, f"/v1/connections/{xero}/records/invoice", currency="ZZZ") == []
    assert every(lb, a, f"/v1/connections/{xero}/records/sale") == []

    # Tenant B, whatever it asks, sees its own records and never one of A's.
    a_ids = set(ids(across))
    b_all = every(lb, b, "/v1/records/invoice", include_deleted="true")
    assert b_all and not a_ids & set(ids(b_all))
    assert {r["connection_id"] for r in b_all} == {str(theirs["id"])}
    asks: list[dict[str, Any]] = [
        {"provider": "xero"},
        {"provider": "quickbooks"},
        {"include_deleted": "true"},
        *({"remote_id": r["remote_id"]} for r in across[:5]),
        *({"contact_remote_id": r["data"]["contact_remote_id"]} for r in across[:5]),
        *({"status": s} for s in {r["data"]["status"] for r in across}),
        *({"currency": c} for c in {r["data"]["currency"] for r in across}),
        {"date_from": "2000-01-01", "date_to": "2100-01-01"},
    ]
    for ask in asks:
        seen = every(lb, b, "/v1/records/invoice", **ask)
        assert not a_ids & set(ids(seen)), ask
        assert all(r["connection_id"] == str(theirs["id"]) for r in seen), ask
    for connection in (xero, quickbooks):
        answer = lb.get("/v1/records/invoice", params={"connection_id": connection}, headers=b)
        assert answer.status_code == 404, answer.text
        assert answer.json()["error"] == "not_found"
        answer = lb.get(f"/v1/connections/{connection}/records/invoice", headers=b)
        assert answer.status_code == 404, answer.text
