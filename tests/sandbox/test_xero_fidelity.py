"""Xero answers checked against Xero's published OpenAPI descriptions.

Every list envelope, record, write answer and error validates against
``../shared/specs/xero_accounting.yaml``; ``/connections`` and the token answer against
``xero-identity.yaml``. Beyond the schemas (which allow any extra field), every field we
send must be one the description declares. Skipped when ../shared is absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from ledgerbridge.sandbox.xero import OBJECT_TYPES

from .helpers import needs_specs

pytestmark = pytest.mark.shared
API = "/xero/api.xro/2.0"
Spec = dict[str, Any]


def load(name: str) -> Spec:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with (needs_specs() / name).open(encoding="utf-8") as file:
        spec: Spec = yaml.load(file, Loader=loader)  # noqa: S506 - a safe loader
    return spec


@pytest.fixture(scope="module")
def accounting() -> Spec:
    return load("xero_accounting.yaml")


@pytest.fixture(scope="module")
def identity() -> Spec:
    return load("xero-identity.yaml")


def check(
    spec: Spec, schema_name: str, instance: object, *, envelope: bool = False, strict: bool = True
) -> None:
    """Validate ``instance`` against ``#/components/schemas/<schema_name>`` and refuse any
    field the description does not declare (the envelope's own fields aside)."""
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource("urn:spec", resource)
    schema = {"$ref": f"urn:spec#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema, registry=registry).validate(instance)
    if not strict:
        return
    root = spec["components"]["schemas"][schema_name]
    ignored = {"Id", "Status", "ProviderName", "DateTimeUTC"} if envelope else set()
    unknown = list(undeclared(spec, root, instance, schema_name, ignored))
    assert not unknown, f"fields the {schema_name} description does not declare: {unknown}"


def undeclared(
    spec: Spec, schema: Spec, value: object, path: str, ignored: set[str]
) -> Iterator[str]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key in ignored:
                continue
            if key not in schema["properties"]:
                yield f"{path}.{key}"
            else:
                yield from undeclared(spec, schema["properties"][key], item, f"{path}.{key}", set())
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from undeclared(spec, schema["items"], item, f"{path}[{index}]", set())


@pytest.fixture
def xero(sandbox: httpx.Client, connect: Callable[..., dict[str, Any]]) -> httpx.Client:
    tokens = connect("xero")
    sandbox.headers["Authorization"] = f"Bearer {tokens['access_token']}"
    sandbox.headers["xero-tenant-id"] = tokens["accounts"][0]
    return sandbox


@pytest.mark.sandbox(size=60)
@pytest.mark.parametrize("resource", OBJECT_TYPES)
def test_list_envelopes_and_records_match_the_description(
    accounting: Spec, xero: httpx.Client, resource: str
) -> None:
    body = xero.get(f"{API}/{resource}", params={"includeArchived": "true"}).json()
    assert body[resource], f"the seed has {resource}"
    check(accounting, resource, body, envelope=True)

    singular = resource[:-1]
    record = body[resource][-1]
    id_field = f"{singular}ID" if resource != "BankTransactions" else "BankTransactionID"
    one = xero.get(f"{API}/{resource}/{record[id_field]}").json()
    check(accounting, resource, one, envelope=True)
    check(accounting, singular, one[resource][0])


def test_write_answers_and_errors_match_the_description(
    accounting: Spec, xero: httpx.Client
) -> None:
    created = xero.put(
        f"{API}/Invoices",
        json={
            "Type": "ACCPAY",
            "Contact": {"Name": "Fidelity Supplies"},
            "LineItems": [
                {"Description": "Paper", "Quantity": 2, "UnitAmount": 9.95, "AccountCode": "453"}
            ],
        },
    ).json()
    check(accounting, "Invoices", created, envelope=True)

    error = xero.put(f"{API}/Invoices", json={"Type": "ACCREC"}).json()
    # Like Xero, each element echoes what was sent, beyond the few fields Element declares.
    check(accounting, "Error", {**error, "Elements": []})
    check(accounting, "Error", error, strict=False)

    organisation = xero.get(f"{API}/Organisation").json()
    check(accounting, "Organisations", organisation, envelope=True)


def test_connections_and_tokens_match_the_identity_description(
    identity: Spec, xero: httpx.Client, connect: Callable[..., dict[str, Any]]
) -> None:
    tokens = connect("xero")
    # Xero also answers with ``scope``, which its description leaves out.
    answer = {k: v for k, v in tokens.items() if k not in ("redirect", "accounts", "scope")}
    check(identity, "AccessToken", answer)
    connections = xero.get("/xero/connections").json()
    assert connections
    for connection in connections:
        check(identity, "Connection", connection)
