"""The Xero Accounting API emulator over HTTP: paging, incremental reads, writes, errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

API = "/xero/api.xro/2.0"


@pytest.fixture
def xero(sandbox: httpx.Client, connect: Callable[..., dict[str, Any]]) -> httpx.Client:
    """The sandbox client, authorised for the first Xero organisation."""
    tokens = connect("xero")
    sandbox.headers["Authorization"] = f"Bearer {tokens['access_token']}"
    sandbox.headers["xero-tenant-id"] = tokens["accounts"][0]
    return sandbox


def tenant(xero: httpx.Client) -> str:
    return xero.headers["xero-tenant-id"]


def pages(xero: httpx.Client, resource: str, **params: Any) -> Iterator[dict[str, Any]]:
    headers = params.pop("headers", {})
    page = 1
    while True:
        body = xero.get(
            f"{API}/{resource}", params={**params, "page": page}, headers=headers
        ).json()
        yield body
        if page >= body["pagination"]["pageCount"]:
            return
        page += 1


def everything(xero: httpx.Client, resource: str, **params: Any) -> list[dict[str, Any]]:
    return [record for body in pages(xero, resource, **params) for record in body[resource]]


def server_time(xero: httpx.Client) -> str:
    """Now, by the sandbox's clock, as an If-Modified-Since value."""
    stamp = xero.get(f"{API}/Organisation").json()["DateTimeUTC"]
    ms = int(stamp[len("/Date(") :].split("+")[0].split(")")[0])
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def control(xero: httpx.Client, method: str, path: str, body: Any = None) -> httpx.Response:
    answer = xero.request(method, f"/_sandbox/xero/{tenant(xero)}/{path}", json=body)
    assert answer.status_code < 300, answer.text
    return answer


@pytest.mark.sandbox(size=250)
def test_list_invoices_page_by_page_to_the_end(xero: httpx.Client) -> None:
    bodies = list(pages(xero, "Invoices"))

    first = bodies[0]
    assert set(first) >= {"Id", "Status", "ProviderName", "DateTimeUTC", "pagination", "Invoices"}
    assert first["pagination"] == {"page": 1, "pageSize": 100, "pageCount": 3, "itemCount": 250}
    assert [len(b["Invoices"]) for b in bodies] == [100, 100, 50]
    listed = [i["InvoiceID"] for b in bodies for i in b["Invoices"]]
    stored = [i["InvoiceID"] for i in control(xero, "GET", "Invoices").json()]
    assert listed == stored, "every invoice once, in change order"
    assert {i["Type"] for b in bodies for i in b["Invoices"]} == {"ACCREC", "ACCPAY"}
    assert first["Invoices"][0]["UpdatedDateUTC"].startswith("/Date(")


@pytest.mark.sandbox(size=250)
def test_page_size_is_capped_at_1000(xero: httpx.Client) -> None:
    small = xero.get(f"{API}/Invoices", params={"page": 2, "pageSize": 60}).json()
    assert small["pagination"] == {"page": 2, "pageSize": 60, "pageCount": 5, "itemCount": 250}
    huge = xero.get(f"{API}/Invoices", params={"pageSize": 5000}).json()
    assert huge["pagination"]["pageSize"] == 1000
    assert len(huge["Invoices"]) == 250


def test_items_and_accounts_are_not_paged(xero: httpx.Client) -> None:
    for resource in ("Items", "Accounts"):
        body = xero.get(f"{API}/{resource}").json()
        assert "pagination" not in body
        assert len(body[resource]) == len(control(xero, "GET", resource).json())


def test_incremental_read_sees_exactly_the_changes_and_tombstones(xero: httpx.Client) -> None:
    since = server_time(xero)
    invoices = control(xero, "GET", "Invoices").json()
    authorised = [i for i in invoices if i["Status"] == "AUTHORISED" and not i["Payments"]][:1]
    drafts = [i for i in invoices if i["Status"] == "DRAFT"][:1]
    assert authorised and drafts
    edited = invoices[0]
    control(xero, "PATCH", f"Invoices/{edited['InvoiceID']}", {"Reference": "changed in the UI"})
    voided = control(xero, "DELETE", f"Invoices/{authorised[0]['InvoiceID']}").json()
    deleted = control(xero, "DELETE", f"Invoices/{drafts[0]['InvoiceID']}").json()
    contacts = control(xero, "GET", "Contacts").json()
    active = [c for c in contacts if c["ContactStatus"] == "ACTIVE"]
    archived = control(xero, "DELETE", f"Contacts/{active[0]['ContactID']}").json()
    created = control(xero, "POST", "Contacts", {"Name": "Ōtaki Orchard Supplies"}).json()
    item = control(xero, "GET", "Items").json()[0]
    assert control(xero, "DELETE", f"Items/{item['ItemID']}").json() is None

    changed = everything(xero, "Invoices", headers={"If-Modified-Since": since})
    assert {i["InvoiceID"]: i["Status"] for i in changed} == {
        edited["InvoiceID"]: edited["Status"],
        voided["InvoiceID"]: "VOIDED",
        deleted["InvoiceID"]: "DELETED",
    }
    assert voided["Status"] == "VOIDED" and deleted["Status"] == "DELETED"
    with_archived = everything(
        xero, "Contacts", includeArchived="true", headers={"If-Modified-Since": since}
    )
    assert {c["ContactID"] for c in with_archived} == {archived["ContactID"], created["ContactID"]}
    without = everything(xero, "Contacts", headers={"If-Modified-Since": since})
    assert [c["ContactID"] for c in without] == [created["ContactID"]]
    items = xero.get(f"{API}/Items").json()["Items"]
    assert item["ItemID"] not in {i["ItemID"] for i in items}, "Items are hard-deleted"
    assert xero.get(f"{API}/Items", headers={"If-Modified-Since": since}).json()["Items"] == []


def test_records_sharing_a_timestamp_are_both_found(xero: httpx.Client) -> None:
    contacts = control(xero, "GET", "Contacts").json()[:2]
    stamp = int(datetime(2031, 1, 1, tzinfo=UTC).timestamp() * 1000)
    for contact in contacts:
        control(
            xero, "PATCH", f"Contacts/{contact['ContactID']}", {"Website": "x", "_stamp": stamp}
        )
    body = xero.get(
        f"{API}/Contacts",
        params={"includeArchived": "true"},
        headers={"If-Modified-Since": "2031-01-01T00:00:00"},
    ).json()
    assert [c["ContactID"] for c in body["Contacts"]] == [c["ContactID"] for c in contacts]
    assert {c["UpdatedDateUTC"] for c in body["Contacts"]} == {f"/Date({stamp}+0000)/"}


def test_filters_where_statuses_and_ids(xero: httpx.Client) -> None:
    invoices = control(xero, "GET", "Invoices").json()
    where = 'Type=="ACCREC" AND Status=="AUTHORISED"'
    expected = [
        i["InvoiceID"] for i in invoices if i["Type"] == "ACCREC" and i["Status"] == "AUTHORISED"
    ]
    assert [i["InvoiceID"] for i in everything(xero, "Invoices", where=where)] == expected

    voided = everything(xero, "Invoices", Statuses="VOIDED,DELETED")
    assert voided and {i["Status"] for i in voided} <= {"VOIDED", "DELETED"}

    wanted = [invoices[3]["InvoiceID"], invoices[7]["InvoiceID"]]
    by_id = everything(xero, "Invoices", IDs=",".join(wanted))
    assert sorted(i["InvoiceID"] for i in by_id) == sorted(wanted)

    bad = xero.get(f"{API}/Invoices", params={"where": 'Type=="ACCREC" AND'})
    assert bad.status_code == 400
    assert bad.json()["Type"] == "QueryParseException"


def test_get_by_id_or_number_and_errors(xero: httpx.Client) -> None:
    invoice = next(i for i in control(xero, "GET", "Invoices").json() if i["InvoiceNumber"])
    by_id = xero.get(f"{API}/Invoices/{invoice['InvoiceID']}").json()
    by_number = xero.get(f"{API}/invoices/{invoice['InvoiceNumber']}").json()
    assert by_id["Invoices"] == by_number["Invoices"] == [invoice]

    missing = xero.get(f"{API}/Invoices/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    no_token = httpx.get(f"{xero.base_url}{API}/Invoices", headers={"xero-tenant-id": tenant(xero)})
    assert no_token.status_code == 401
    assert no_token.json()["Title"] == "Unauthorized"
    no_tenant = xero.get(f"{API}/Invoices", headers={"xero-tenant-id": ""})
    assert no_tenant.status_code == 403


def test_put_creates_an_invoice_and_the_contact_it_names(xero: httpx.Client) -> None:
    body = {
        "Invoices": [
            {
                "Type": "ACCREC",
                "Contact": {"Name": "Brand-new Café Ltd"},
                "Date": "2025-03-01",
                "DueDate": "/Date(1743465600000+0000)/",
                "LineAmountTypes": "Exclusive",
                "Status": "AUTHORISED",
                "LineItems": [
                    {
                        "Description": "Flat whites",
                        "Quantity": 3,
                        "UnitAmount": 4.5,
                        "AccountCode": "200",
                    },
                    {
                        "Description": "Scones",
                        "Quantity": 2,
                        "UnitAmount": 5.25,
                        "AccountCode": "200",
                    },
                ],
            }
        ]
    }
    answer = xero.put(f"{API}/Invoices", json=body)
    assert answer.status_code == 200, answer.text
    invoice = answer.json()["Invoices"][0]
    assert invoice["StatusAttributeString"] == "OK"
    assert invoice["SubTotal"] == 24.0
    assert invoice["TotalTax"] == 3.61, "tax is rounded on each line: 2.03 + 1.58"
    assert invoice["Total"] == invoice["AmountDue"] == 27.61
    assert invoice["Date"] == "/Date(1740787200000+0000)/"
    assert invoice["InvoiceNumber"].startswith("INV-")
    contact = xero.get(f"{API}/Contacts/{invoice['Contact']['ContactID']}").json()["Contacts"][0]
    assert contact["Name"] == "Brand-new Café Ltd"


def test_validation_exception_lists_the_bad_elements(xero: httpx.Client) -> None:
    before = len(control(xero, "GET", "Invoices").json())
    answer = xero.post(
        f"{API}/Invoices",
        json={
            "Invoices": [
                {"Type": "ACCREC", "LineItems": []},
                {"Type": "NOPE", "Contact": {"Name": "A"}},
            ]
        },
    )
    assert answer.status_code == 400
    error = answer.json()
    assert error["ErrorNumber"] == 10
    assert error["Type"] == "ValidationException"
    messages = [[m["Message"] for m in e["ValidationErrors"]] for e in error["Elements"]]
    assert "A Contact must be specified for this type of transaction." in messages[0]
    assert any("Type" in m for m in messages[1])
    assert len(control(xero, "GET", "Invoices").json()) == before, "nothing was saved"


def test_summarize_errors_false_reports_each_element(xero: httpx.Client) -> None:
    answer = xero.post(
        f"{API}/Contacts",
        params={"summarizeErrors": "false"},
        json={"Contacts": [{"Name": "Fine Name Ltd"}, {"Name": ""}]},
    )
    assert answer.status_code == 200
    good, bad = answer.json()["Contacts"]
    assert good["StatusAttributeString"] == "OK" and good["ContactID"]
    assert bad["StatusAttributeString"] == "ERROR"
    assert bad["ValidationErrors"][0]["Message"]


def test_post_updates_and_duplicate_contact_names_are_refused(xero: httpx.Client) -> None:
    first = xero.put(f"{API}/Contacts", json={"Name": "Same Name"}).json()["Contacts"][0]
    again = xero.put(f"{API}/Contacts", json={"Name": "Same Name"})
    assert again.status_code == 400
    assert "already assigned to another contact" in again.text

    updated = xero.post(
        f"{API}/Contacts/{first['ContactID']}", json={"Contacts": [{"EmailAddress": "a@b.co"}]}
    )
    assert updated.json()["Contacts"][0]["EmailAddress"] == "a@b.co"
    assert updated.json()["Contacts"][0]["Name"] == "Same Name"


def test_idempotency_key_replays_the_first_answer(xero: httpx.Client) -> None:
    headers = {"Idempotency-Key": "create-contact-1"}
    first = xero.put(f"{API}/Contacts", json={"Name": "Once Only Ltd"}, headers=headers)
    second = xero.put(f"{API}/Contacts", json={"Name": "Once Only Ltd"}, headers=headers)
    assert second.status_code == first.status_code == 200
    assert second.content == first.content
    named = [c for c in control(xero, "GET", "Contacts").json() if c["Name"] == "Once Only Ltd"]
    assert len(named) == 1


def test_payments_allocate_to_invoices(xero: httpx.Client) -> None:
    invoice = next(
        i
        for i in control(xero, "GET", "Invoices").json()
        if i["Status"] == "AUTHORISED" and i["AmountPaid"] == 0 and i["Total"] > 10
    )
    bank = next(a for a in xero.get(f"{API}/Accounts").json()["Accounts"] if a["Type"] == "BANK")
    part = round(invoice["Total"] / 2, 2)
    paid = xero.put(
        f"{API}/Payments",
        json={
            "Payments": [
                {
                    "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                    "Account": {"Code": bank["Code"]},
                    "Amount": part,
                    "Date": "2025-04-01",
                }
            ]
        },
    )
    assert paid.status_code == 200, paid.text
    payment = paid.json()["Payments"][0]
    after = xero.get(f"{API}/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]
    assert after["AmountPaid"] == part
    assert after["AmountDue"] == round(invoice["Total"] - part, 2)
    assert after["Status"] == "AUTHORISED"
    assert [p["PaymentID"] for p in after["Payments"]] == [payment["PaymentID"]]

    too_much = xero.put(
        f"{API}/Payments",
        json={
            "Invoice": {"InvoiceID": invoice["InvoiceID"]},
            "Account": {"Code": bank["Code"]},
            "Amount": invoice["Total"],
        },
    )
    assert too_much.status_code == 400
    rest = xero.put(
        f"{API}/Payments",
        json={
            "Invoice": {"InvoiceNumber": invoice["InvoiceNumber"] or invoice["InvoiceID"]},
            "Account": {"Code": bank["Code"]},
            "Amount": after["AmountDue"],
        },
    )
    assert rest.status_code == 200, rest.text
    settled = xero.get(f"{API}/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]
    assert settled["Status"] == "PAID" and settled["AmountDue"] == 0

    removed = xero.post(
        f"{API}/Payments/{payment['PaymentID']}", json={"Payments": [{"Status": "DELETED"}]}
    )
    assert removed.json()["Payments"][0]["Status"] == "DELETED"
    reopened = xero.get(f"{API}/Invoices/{invoice['InvoiceID']}").json()["Invoices"][0]
    assert reopened["Status"] == "AUTHORISED"
    assert reopened["AmountDue"] == part


def test_finished_invoices_cannot_be_edited(xero: httpx.Client) -> None:
    paid = next(i for i in control(xero, "GET", "Invoices").json() if i["Status"] == "PAID")
    answer = xero.post(f"{API}/Invoices/{paid['InvoiceID']}", json={"Reference": "late edit"})
    assert answer.status_code == 400
    assert "not of valid status" in answer.text or "cannot be edited" in answer.text


def test_each_organisation_has_its_own_data(
    xero: httpx.Client, connect: Callable[..., dict[str, Any]]
) -> None:
    first, second = connect("xero")["accounts"][:2]
    names = {
        t: xero.get(f"{API}/Organisation", headers={"xero-tenant-id": t}).json()["Organisations"][0]
        for t in (first, second)
    }
    assert names[first]["BaseCurrency"] != names[second]["BaseCurrency"]
    ids = {
        t: {
            i["InvoiceID"]
            for i in xero.get(f"{API}/Invoices", headers={"xero-tenant-id": t}).json()["Invoices"]
        }
        for t in (first, second)
    }
    assert not ids[first] & ids[second]
