"""QuickBooks entities carry only the field names, and enum values, of Intuit's XSD.

Reads ../shared/specs/qbo-xsd (skipped when absent): every field of every record, nested
objects included, must be an element or attribute of the matching complexType (or of
the types it extends), and every value of an enumerated type one of its enumerations.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
import pytest

from .helpers import needs_specs

XS = "{http://www.w3.org/2001/XMLSchema}"
REALMS = ("9341453000000001", "9341453000000002")
ENTITIES = ("Customer", "Vendor", "Item", "Account", "Invoice", "Bill", "Payment", "PurchaseOrder")

pytestmark = [
    pytest.mark.shared,
    pytest.mark.sandbox(seed=5, size=80, settings={"rate_limits": False}),
]


@dataclass
class ComplexType:
    fields: dict[str, str] = field(default_factory=dict)  # name -> type name
    has_value: bool = False  # simpleContent: the JSON "value" is the element's text
    any_entity: bool = False  # holds <xs:element ref="IntuitObject">: any entity, by its name


@dataclass
class Schema:
    complex_types: dict[str, ComplexType]
    enums: dict[str, frozenset[str]]

    def problems(self, type_name: str, value: Any, path: str) -> Iterator[str]:
        """Every field or enum value under ``value`` that the XSD does not know."""
        if isinstance(value, list):
            for n, item in enumerate(value):
                yield from self.problems(type_name, item, f"{path}[{n}]")
            return
        if type_name in self.enums and value not in self.enums[type_name]:
            yield f"{path}: {value!r} is not one of the {type_name} values"
        known = self.complex_types.get(type_name)
        if known is None or not isinstance(value, dict):
            return
        for key, item in value.items():
            if key == "value" and known.has_value:
                continue
            if key in known.fields:
                yield from self.problems(known.fields[key], item, f"{path}.{key}")
            elif known.any_entity and key in self.complex_types:
                yield from self.problems(key, item, f"{path}.{key}")
            else:
                yield f"{path}.{key}: no such field in {type_name}"


def _local(name: str | None) -> str:
    return (name or "").rpartition(":")[2]


@cache
def load_schema() -> Schema:
    paths = sorted((needs_specs() / "qbo-xsd").glob("*.xsd"))
    roots = [ET.parse(path).getroot() for path in paths]  # noqa: S314 (Intuit's published XSD)
    declared = {
        str(ct.get("name")): ct
        for root in roots
        for ct in root.iter(f"{XS}complexType")
        if ct.get("name")
    }
    enums = {
        str(st.get("name")): frozenset(str(e.get("value")) for e in st.iter(f"{XS}enumeration"))
        for root in roots
        for st in root.iter(f"{XS}simpleType")
        if st.get("name") and st.find(f".//{XS}enumeration") is not None
    }

    def build(name: str) -> ComplexType:
        node = declared[name]
        built = ComplexType()
        extension = node.find(f"./*/{XS}extension")
        if extension is not None:
            base = _local(extension.get("base"))
            if base in declared:
                parent = build(base)
                built.fields.update(parent.fields)
                built.has_value = parent.has_value
            else:
                built.has_value = True  # extends a simple type, e.g. ReferenceType
        for element in node.iter(f"{XS}element"):
            if element.get("ref") == "IntuitObject":
                built.any_entity = True
            if element.get("name"):
                built.fields[str(element.get("name"))] = _local(element.get("type"))
        for attribute in node.iter(f"{XS}attribute"):
            built.fields[str(attribute.get("name"))] = _local(attribute.get("type"))
        return built

    return Schema({name: build(name) for name in declared}, enums)


@pytest.fixture
def qbo_get(
    sandbox_url: str, connect: Callable[..., dict[str, Any]]
) -> Callable[[str, str, dict[str, str]], dict[str, Any]]:
    tokens = {realm: connect("quickbooks", [realm])["access_token"] for realm in REALMS}

    def get(realm: str, path: str, params: dict[str, str]) -> dict[str, Any]:
        answer = httpx.get(
            f"{sandbox_url}/quickbooks/v3/company/{realm}{path}",
            params=params,
            headers={"Authorization": f"Bearer {tokens[realm]}"},
        )
        body: dict[str, Any] = answer.json()
        return body

    return get


def test_seeded_records_use_only_xsd_fields(sandbox_url: str) -> None:
    schema = load_schema()
    problems: list[str] = []
    for realm in REALMS:
        for entity in ENTITIES:
            records = httpx.get(f"{sandbox_url}/_sandbox/quickbooks/{realm}/{entity}").json()
            assert records, f"no {entity} seeded in {realm}"
            for record in records:
                problems += schema.problems(entity, record, f"{entity} {record['Id']}")
    assert problems == []


def test_api_answers_use_only_xsd_fields(
    sandbox_url: str, qbo_get: Callable[[str, str, dict[str, str]], dict[str, Any]]
) -> None:
    schema = load_schema()
    realm = REALMS[0]
    control = f"{sandbox_url}/_sandbox/quickbooks/{realm}"
    invoice = httpx.get(f"{control}/Invoice", params={"limit": 1}).json()[0]
    stub = httpx.delete(f"{control}/Invoice/{invoice['Id']}").json()
    assert stub["status"] == "Deleted"
    since = (datetime.now(UTC) - timedelta(days=29)).isoformat()

    answers = {
        "query": qbo_get(realm, "/query", {"query": "SELECT * FROM Invoice MAXRESULTS 5"}),
        "count": qbo_get(realm, "/query", {"query": "SELECT COUNT(*) FROM Bill"}),
        "cdc": qbo_get(realm, "/cdc", {"entities": ",".join(ENTITIES), "changedSince": since}),
        "company": qbo_get(realm, f"/companyinfo/{realm}", {}),
        "fault": qbo_get(realm, "/query", {"query": "SELECT * FROM Invoice WHERE"}),
        "missing": qbo_get(realm, "/customer/424242", {}),
    }
    problems: list[str] = []
    for name, body in answers.items():
        problems += schema.problems("IntuitResponse", body, name)
    deleted = [
        record
        for response in answers["cdc"]["CDCResponse"][0]["QueryResponse"]
        for record in response.get("Invoice", [])
        if record.get("status") == "Deleted"
    ]
    assert {r["Id"] for r in deleted} >= {invoice["Id"]}
    assert problems == []


def test_written_records_use_only_xsd_fields(sandbox_url: str) -> None:
    """Records made through the control API's writes, as the API makes them."""
    schema = load_schema()
    control = f"{sandbox_url}/_sandbox/quickbooks/{REALMS[1]}"
    item = httpx.get(f"{control}/Item", params={"limit": 1}).json()[0]
    customer = httpx.post(
        f"{control}/Customer",
        json={
            "GivenName": "Hōne",
            "FamilyName": "Heke",
            "CurrencyRef": {"value": "NZD"},
            "Title": "",  # what SDKs send for unset fields
            "OpenBalanceDate": "",
            "Taxable": True,
        },
    ).json()
    line = {"DetailType": "SalesItemLineDetail", "Description": "Flat whites"}
    invoice = httpx.post(
        f"{control}/Invoice",
        json={
            "CustomerRef": {"value": customer["Id"]},
            "Line": [
                {
                    **line,
                    "SalesItemLineDetail": {
                        "ItemRef": {"value": item["Id"]},
                        "Qty": 12,
                        "UnitPrice": 4.5,
                        "TaxCodeRef": {"value": "TAX"},
                    },
                },
                {"DetailType": "DiscountLineDetail", "Amount": 4, "DiscountLineDetail": {}},
                {"DetailType": "DescriptionOnly", "Description": "Thank you — ngā mihi"},
            ],
        },
    ).json()
    assert invoice["CurrencyRef"]["value"] == "NZD" and invoice["HomeTotalAmt"]
    payment = httpx.post(
        f"{control}/Payment",
        json={
            "CustomerRef": {"value": customer["Id"]},
            "TotalAmt": 20,
            "Line": [{"Amount": 20, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
        },
    ).json()
    vendor = httpx.post(f"{control}/Vendor", json={"CompanyName": "Ōtaki Roasters Ltd"}).json()
    bill = httpx.post(
        f"{control}/Bill",
        json={
            "VendorRef": {"value": vendor["Id"]},
            "Line": [
                {
                    "Amount": 310.5,
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": "16"}},
                }
            ],
        },
    ).json()
    written = {
        "Customer": customer,
        "Invoice": httpx.get(f"{control}/Invoice").json()[-1],
        "Payment": payment,
        "Vendor": vendor,
        "Bill": bill,
        "Item": httpx.delete(f"{control}/Item/{item['Id']}").json(),
    }
    problems: list[str] = []
    for entity, record in written.items():
        assert "Id" in record, record
        problems += schema.problems(entity, record, entity)
    assert problems == []
