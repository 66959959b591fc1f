"""The QuickBooks Online emulator over real HTTP: query paging, incremental reads, CDC,
idempotent and optimistic writes, and QuickBooks' own Fault bodies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

REALM = "9341453000000001"
OTHER_REALM = "9341453000000002"
NO_LIMITS = {"rate_limits": False}

pytestmark = pytest.mark.sandbox(seed=3, size=60, settings=NO_LIMITS)


@pytest.fixture
def qbo(sandbox_url: str, connect: Callable[..., dict[str, Any]]) -> Iterator[httpx.Client]:
    """A client for the first company's API, with a token from the OAuth code flow."""
    tokens = connect("quickbooks", [REALM])
    assert tokens["redirect"]["realmId"] == REALM
    with httpx.Client(
        base_url=f"{sandbox_url}/quickbooks/v3/company/{REALM}",
        headers={"Authorization": f"Bearer {tokens['access_token']}", "Accept": "application/json"},
        params={"minorversion": "75"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture
def control(sandbox_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox_url}/_sandbox/quickbooks/{REALM}", timeout=30) as c:
        yield c


def query(qbo: httpx.Client, text: str) -> dict[str, Any]:
    answer = qbo.get("/query", params={"query": text})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == {"QueryResponse", "time"}
    return body["QueryResponse"]  # type: ignore[no-any-return]


def fault_of(answer: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"Fault", "time"}
    error: dict[str, Any] = body["Fault"]["Error"][0]
    error["type"] = body["Fault"]["type"]
    return error


def page_through(qbo: httpx.Client, select: str, page_size: int) -> list[dict[str, Any]]:
    entity = select.split(" FROM ")[1].split()[0]
    seen: list[dict[str, Any]] = []
    while True:
        page = query(qbo, f"{select} STARTPOSITION {len(seen) + 1} MAXRESULTS {page_size}")
        if not page:
            return seen
        assert page["startPosition"] == len(seen) + 1
        assert page["maxResults"] == len(page[entity]) <= page_size
        seen.extend(page[entity])


def test_query_pages_to_the_end(qbo: httpx.Client, control: httpx.Client) -> None:
    invoices = page_through(qbo, "SELECT * FROM Invoice", 7)
    ids = [invoice["Id"] for invoice in invoices]
    assert len(ids) == len(set(ids))
    assert set(ids) == {record["Id"] for record in control.get("/Invoice").json()}
    assert query(qbo, "select count(*) from Invoice") == {"totalCount": len(ids)}

    # Name lists hold back deactivated records unless the query asks about Active.
    everyone = control.get("/Customer").json()
    active = page_through(qbo, "SELECT * FROM Customer", 25)
    assert {c["Id"] for c in active} == {c["Id"] for c in everyone if c["Active"]}
    assert len(active) < len(everyone)
    every = page_through(qbo, "SELECT * FROM Customer WHERE Active IN (true, false)", 25)
    assert len(every) == len(everyone)
    inactive = query(qbo, "SELECT * FROM Customer WHERE Active = false")["Customer"]
    assert all(c["DisplayName"].endswith(" (deleted)") for c in inactive)


def test_incremental_query_sees_exactly_the_changes(
    qbo: httpx.Client, control: httpx.Client
) -> None:
    since = "SELECT * FROM {} WHERE MetaData.LastUpdatedTime > '{}' AND Active IN (true, false)"
    customers = page_through(qbo, "SELECT * FROM Customer WHERE Active IN (true, false)", 100)
    cursor = max(c["MetaData"]["LastUpdatedTime"] for c in customers)
    assert query(qbo, since.format("Customer", cursor)) == {}

    created = control.post("/Customer", json={"DisplayName": "Zoë Ångström"}).json()
    renamed = control.patch(f"/Customer/{customers[0]['Id']}", json={"Notes": "VIP"}).json()
    dropped = control.delete(f"/Customer/{customers[1]['Id']}").json()
    assert dropped["Active"] is False
    assert renamed["SyncToken"] == str(int(customers[0]["SyncToken"]) + 1)

    changed = query(qbo, since.format("Customer", cursor))["Customer"]
    assert [c["Id"] for c in changed] == [created["Id"], renamed["Id"], dropped["Id"]]
    plain = "SELECT * FROM Customer WHERE MetaData.LastUpdatedTime > '{}'"
    changed_active = query(qbo, plain.format(cursor))["Customer"]
    assert [c["Id"] for c in changed_active] == [created["Id"], renamed["Id"]]

    # "_stamp" makes two changes share one LastUpdatedTime; ">=" then returns both.
    stamp = int(datetime.now(UTC).timestamp() * 1000) + 5_000
    twins = [
        control.post("/Customer", json={"DisplayName": name, "_stamp": stamp}).json()
        for name in ("Twin Ā", "Twin Ē")
    ]
    assert twins[0]["MetaData"] == twins[1]["MetaData"]
    at = query(qbo, plain.format(cursor).replace(">", ">=") + " AND Id > '0'")["Customer"]
    assert {c["Id"] for c in twins} <= {c["Id"] for c in at}

    # Transactions: the deleted one vanishes from queries; ordering newest first works too.
    invoices = query(qbo, "SELECT * FROM Invoice ORDERBY MetaData.LastUpdatedTime DESC")["Invoice"]
    cursor = invoices[0]["MetaData"]["LastUpdatedTime"]
    control.patch(f"/Invoice/{invoices[3]['Id']}", json={"PrivateNote": "checked"})
    assert control.delete(f"/Invoice/{invoices[4]['Id']}").json()["status"] == "Deleted"
    template = "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '{}' ORDERBY {}"
    newer = query(qbo, template.format(cursor, "MetaData.LastUpdatedTime"))["Invoice"]
    assert invoices[3]["Id"] in {i["Id"] for i in newer}
    assert invoices[4]["Id"] not in {i["Id"] for i in newer}


def test_cdc_reports_changes_and_deleted_stubs(
    qbo: httpx.Client, control: httpx.Client, sandbox_url: str
) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=2)).isoformat(timespec="seconds")
    invoice = query(qbo, "SELECT * FROM Invoice MAXRESULTS 1")["Invoice"][0]
    gone = qbo.post(
        "/invoice",
        params={"operation": "delete"},
        json={"Id": invoice["Id"], "SyncToken": invoice["SyncToken"]},
    )
    assert gone.status_code == 200, gone.text
    assert gone.json()["Invoice"] == {"status": "Deleted", "domain": "QBO", "Id": invoice["Id"]}
    assert fault_of(qbo.get(f"/invoice/{invoice['Id']}"))["code"] == "610"
    created = control.post("/Customer", json={"GivenName": "Łukasz", "FamilyName": "Wróbel"})
    assert created.json()["DisplayName"] == "Łukasz Wróbel"

    answer = qbo.get("/cdc", params={"entities": "Invoice,Customer", "changedSince": since})
    assert answer.status_code == 200, answer.text
    [cdc] = answer.json()["CDCResponse"]
    invoices, customers = cdc["QueryResponse"]
    stubs = [i for i in invoices["Invoice"] if i.get("status") == "Deleted"]
    assert stubs == [
        {
            "Id": invoice["Id"],
            "status": "Deleted",
            "domain": "QBO",
            "MetaData": {"LastUpdatedTime": stubs[0]["MetaData"]["LastUpdatedTime"]},
        }
    ]
    assert [c["DisplayName"] for c in customers["Customer"]] == ["Łukasz Wróbel"]

    too_old = (datetime.now(UTC) - timedelta(days=31)).isoformat()
    error = fault_of(qbo.get("/cdc", params={"entities": "Invoice", "changedSince": too_old}))
    assert error["type"] == "ValidationFault"
    assert "30 days" in error["Detail"]


def test_cdc_answers_at_most_1000_objects(qbo: httpx.Client) -> None:
    since = (datetime.now(UTC) - timedelta(seconds=2)).isoformat(timespec="seconds")
    for batch in range(34):
        items = [
            {"bId": str(n), "operation": "create", "Vendor": {"DisplayName": f"Vendor {batch}-{n}"}}
            for n in range(30)
        ]
        answer = qbo.post("/batch", json={"BatchItemRequest": items})
        assert answer.status_code == 200
        assert all("Vendor" in item for item in answer.json()["BatchItemResponse"])
    [cdc] = qbo.get("/cdc", params={"entities": "Vendor", "changedSince": since}).json()[
        "CDCResponse"
    ]
    assert len(cdc["QueryResponse"][0]["Vendor"]) == 1000


def test_requestid_replays_the_first_answer(qbo: httpx.Client) -> None:
    before = query(qbo, "SELECT COUNT(*) FROM Customer")["totalCount"]
    body = {"DisplayName": "Møller & Søn ApS", "PrimaryEmailAddr": {"Address": "hej@moller.dk"}}
    first = qbo.post("/customer", params={"requestid": "req-42"}, json=body)
    again = qbo.post("/customer", params={"requestid": "req-42"}, json=body)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert query(qbo, "SELECT COUNT(*) FROM Customer")["totalCount"] == before + 1

    # A new requestid is a new request: the name is now taken.
    error = fault_of(qbo.post("/customer", params={"requestid": "req-43"}, json=body))
    assert (error["code"], error["Message"]) == ("6240", "Duplicate Name Exists Error")


def test_sync_token_guards_updates(qbo: httpx.Client) -> None:
    customer = query(qbo, "SELECT * FROM Customer MAXRESULTS 1")["Customer"][0]
    sparse = {"Id": customer["Id"], "SyncToken": customer["SyncToken"], "sparse": True}
    updated = qbo.post("/customer", json={**sparse, "Notes": "first"}).json()["Customer"]
    assert updated["SyncToken"] == str(int(customer["SyncToken"]) + 1)
    assert updated["MetaData"]["LastUpdatedTime"] > customer["MetaData"]["LastUpdatedTime"]
    assert updated["MetaData"]["CreateTime"] == customer["MetaData"]["CreateTime"]
    assert updated["DisplayName"] == customer["DisplayName"]

    error = fault_of(qbo.post("/customer", json={**sparse, "Notes": "second"}))
    assert (error["code"], error["Message"], error["type"]) == (
        "5010",
        "Stale Object Error",
        "ValidationFault",
    )
    assert qbo.get(f"/customer/{customer['Id']}").json()["Customer"]["Notes"] == "first"


def test_display_names_are_unique_across_customers_and_vendors(qbo: httpx.Client) -> None:
    customer = query(qbo, "SELECT * FROM Customer MAXRESULTS 1")["Customer"][0]
    for path, name in (
        ("/customer", customer["DisplayName"]),
        ("/customer", customer["DisplayName"].upper()),
        ("/vendor", customer["DisplayName"]),
    ):
        error = fault_of(qbo.post(path, json={"DisplayName": name}))
        assert error["code"] == "6240"


def test_required_fields_and_references(qbo: httpx.Client) -> None:
    customer = query(qbo, "SELECT * FROM Customer MAXRESULTS 1")["Customer"][0]
    error = fault_of(qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}}))
    assert (error["code"], error["element"]) == ("2020", "Line")
    assert (
        error["Message"] == "Required param missing, need to supply the required value for the API"
    )
    line = {"Amount": 10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}
    error = fault_of(qbo.post("/invoice", json={"Line": [line]}))
    assert (error["code"], error["element"]) == ("2020", "CustomerRef")
    item_line = {**line, "SalesItemLineDetail": {"ItemRef": {"value": "999999"}}}
    invoice = {"CustomerRef": {"value": customer["Id"]}, "Line": [item_line]}
    assert fault_of(qbo.post("/invoice", json=invoice))["code"] == "2500"


def test_invoice_and_partial_payment(qbo: httpx.Client) -> None:
    customer = query(qbo, "SELECT * FROM Customer WHERE Balance >= '0' MAXRESULTS 1")["Customer"][0]
    item = query(qbo, "SELECT * FROM Item MAXRESULTS 1")["Item"][0]
    lines = [
        {
            "Amount": 100.0,
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": item["Id"]}, "Qty": 4, "UnitPrice": 25},
        },
        {
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {
                "ItemRef": {"value": item["Id"]},
                "Qty": 2,
                "UnitPrice": 12.5,
                "TaxCodeRef": {"value": "TAX"},
            },
        },
    ]
    answer = qbo.post("/invoice", json={"CustomerRef": {"value": customer["Id"]}, "Line": lines})
    invoice = answer.json()["Invoice"]
    assert invoice["TotalAmt"] == 127.06  # 125 + 8.25% tax on 25
    assert invoice["Balance"] == 127.06
    assert invoice["TxnTaxDetail"]["TotalTax"] == 2.06
    assert [line["DetailType"] for line in invoice["Line"]] == [
        "SalesItemLineDetail",
        "SalesItemLineDetail",
        "SubTotalLineDetail",
    ]
    assert invoice["CustomerRef"] == {"value": customer["Id"], "name": customer["DisplayName"]}
    assert invoice["CurrencyRef"]["value"] == customer["CurrencyRef"]["value"]
    assert invoice["DocNumber"] and invoice["SyncToken"] == "0"

    payment: dict[str, Any] = {
        "CustomerRef": {"value": customer["Id"]},
        "TotalAmt": 50,
        "Line": [{"Amount": 40, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
    }
    paid = qbo.post("/payment", json=payment).json()["Payment"]
    assert paid["UnappliedAmt"] == 10
    after = qbo.get(f"/invoice/{invoice['Id']}").json()["Invoice"]
    assert after["Balance"] == 87.06
    assert after["SyncToken"] == "1"
    assert after["LinkedTxn"] == [{"TxnId": paid["Id"], "TxnType": "Payment"}]
    balance = qbo.get(f"/customer/{customer['Id']}").json()["Customer"]["Balance"]
    assert balance == pytest.approx(customer["Balance"] + 87.06)

    too_much = {**payment, "TotalAmt": 500, "Line": [{**payment["Line"][0], "Amount": 400}]}
    assert fault_of(qbo.post("/payment", json=too_much))["code"] == "6000"

    voided = qbo.post(
        "/payment",
        params={"operation": "update", "include": "void"},
        json={"Id": paid["Id"], "SyncToken": paid["SyncToken"], "sparse": True},
    ).json()["Payment"]
    assert (voided["TotalAmt"], voided["PrivateNote"]) == (0, "Voided")
    assert qbo.get(f"/invoice/{invoice['Id']}").json()["Invoice"]["Balance"] == 127.06


def test_name_lists_are_deactivated_not_deleted(qbo: httpx.Client) -> None:
    vendor = query(qbo, "SELECT * FROM Vendor MAXRESULTS 1")["Vendor"][0]
    key = {"Id": vendor["Id"], "SyncToken": vendor["SyncToken"]}
    error = fault_of(qbo.post("/vendor", params={"operation": "delete"}, json=key))
    assert error["Message"] == "Unsupported Operation"
    answer = qbo.post("/vendor", json={**key, "sparse": True, "Active": False})
    gone = answer.json()["Vendor"]
    assert gone["DisplayName"] == vendor["DisplayName"] + " (deleted)"
    assert gone["Active"] is False
    assert qbo.get(f"/vendor/{vendor['Id']}").status_code == 200
    ids = {v["Id"] for v in page_through(qbo, "SELECT * FROM Vendor", 100)}
    assert vendor["Id"] not in ids


def test_query_language_and_bad_queries(qbo: httpx.Client) -> None:
    invoices = query(qbo, "select * from invoice where TotalAmt > '0' orderby DocNumber desc")
    numbers = [i["DocNumber"] for i in invoices["Invoice"]]
    assert numbers == sorted(numbers, reverse=True)
    first = invoices["Invoice"][0]
    same = query(qbo, f"SELECT * FROM Invoice WHERE DocNumber IN ('{first['DocNumber']}', 'x')")
    assert [i["Id"] for i in same["Invoice"]] == [first["Id"]]
    named = query(qbo, "SELECT * FROM Customer WHERE DisplayName LIKE '%a%' MAXRESULTS 5")
    assert all("a" in c["DisplayName"].lower() for c in named["Customer"])
    assert query(qbo, "SELECT * FROM Customer WHERE DisplayName = 'nobody at all'") == {}
    info = query(qbo, "SELECT * FROM CompanyInfo")["CompanyInfo"][0]
    assert info["CompanyName"] == "Harbourview Outfitters LLC"

    error = fault_of(
        qbo.get("/query", params={"query": "SELECT * FROM Invoice WHERE Id = '1' OR Id = '2'"})
    )
    assert (error["code"], error["Message"], error["type"]) == (
        "4000",
        "Error parsing query",
        "ValidationFault",
    )
    assert error["Detail"].startswith('QueryParserError: Encountered " <OR> "OR "" at line 1')
    error = fault_of(
        qbo.get("/query", params={"query": "SELECT * FROM Invoice WHERE Colour = 'red'"})
    )
    assert (error["code"], error["Detail"]) == (
        "4001",
        "QueryValidationError: property 'Colour' is not queryable",
    )
    posted = qbo.post(
        "/query",
        content=b"SELECT * FROM Item MAXRESULTS 3",
        headers={"Content-Type": "application/text"},
    )
    assert posted.json()["QueryResponse"]["maxResults"] == 3


def test_reads_by_id_and_company_info(qbo: httpx.Client) -> None:
    bill = query(qbo, "SELECT * FROM Bill MAXRESULTS 1")["Bill"][0]
    answer = qbo.get(f"/bill/{bill['Id']}")
    assert answer.json()["Bill"] == bill
    assert answer.headers["intuit_tid"]
    error = fault_of(qbo.get("/bill/987654"))
    assert (error["code"], error["Message"]) == ("610", "Object Not Found")
    info = qbo.get(f"/companyinfo/{REALM}").json()["CompanyInfo"]
    assert info["Country"] == "US"


def test_authentication_and_authorization_faults(
    sandbox_url: str, qbo: httpx.Client, connect: Callable[..., dict[str, Any]]
) -> None:
    base = f"{sandbox_url}/quickbooks/v3/company"
    answer = httpx.get(f"{base}/{REALM}/customer/1")
    assert fault_of(answer, 401)["type"] == "AuthenticationFault"
    assert answer.headers["intuit_tid"]
    bad = {"Authorization": "Bearer not-a-token"}
    assert fault_of(httpx.get(f"{base}/{REALM}/customer/1", headers=bad), 401)["code"] == "3200"
    other = connect("quickbooks", [OTHER_REALM])
    headers = {"Authorization": f"Bearer {other['access_token']}"}
    answer = httpx.get(f"{base}/{REALM}/customer/1", headers=headers)
    assert fault_of(answer, 403)["type"] == "AuthorizationFault"
    answer = httpx.get(f"{base}/{OTHER_REALM}/companyinfo/{OTHER_REALM}", headers=headers)
    assert answer.json()["CompanyInfo"]["NameValue"][2] == {"Name": "HomeCurrency", "Value": "AUD"}


def test_batch_answers_faults_inside_http_200(qbo: httpx.Client) -> None:
    answer = qbo.post(
        "/batch",
        json={
            "BatchItemRequest": [
                {"bId": "a", "operation": "create", "Customer": {"DisplayName": "Ngaio Te Rangi"}},
                {"bId": "b", "operation": "create", "Invoice": {"Line": []}},
                {"bId": "c", "Query": "SELECT COUNT(*) FROM Vendor"},
            ]
        },
    )
    assert answer.status_code == 200
    first, second, third = answer.json()["BatchItemResponse"]
    assert first["bId"] == "a" and first["Customer"]["DisplayName"] == "Ngaio Te Rangi"
    assert second["bId"] == "b" and second["Fault"]["type"] == "ValidationFault"
    assert second["Fault"]["Error"][0]["code"] == "2020"
    assert third["QueryResponse"]["totalCount"] > 0
