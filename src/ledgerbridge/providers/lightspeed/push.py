"""Writing to a Lightspeed Retail (X-Series) store: customers, the only contacts it has.

Lightspeed's sales are read-only through the API and it has no invoices or purchase
orders, so contacts are all this provider takes: created, updated and deleted as
customers.

**Requests.** ``POST /customers`` creates and ``PUT /customers/{id}`` updates, both
answering ``{"data": customer}``; ``DELETE /customers/{id}`` answers 204, after which the
customer (now with ``deleted_at``) is read back. A contact's ``name`` becomes
``first_name`` (its first word) and ``last_name`` (the rest), which Lightspeed joins back
into its read-only ``name``; both are always sent, so an update renames wholly. Other
fields left ``None`` are not sent, so an update keeps Lightspeed's value for them.

**Idempotency.** Lightspeed has no idempotency mechanism, so a create is made safe to
repeat by the customer's natural key, ``customer_code``, unique among a store's live
customers: the contact's ``code`` or, without one, a code derived from the idempotency
key. The code is looked up before creating and a live customer found under it is
returned as it is. Should a create's answer be lost and the request sent again,
Lightspeed refuses the second with 422 ("customer_code has already been taken"); the
code is then looked up again. An update (a ``PUT`` of the same fields) is repeatable as
it is, and a delete that finds the customer already deleted answers its tombstone.

**Answers** are the customer exactly as pull lists it (JSON numbers as ``Decimal``),
under pull's ``customers`` object type.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from ledgerbridge.providers.answers import read_json
from ledgerbridge.providers.lightspeed.dates import parse_time
from ledgerbridge.providers.lightspeed.errors import raise_for_error
from ledgerbridge.providers.pulling import ProviderError
from ledgerbridge.providers.pushing import Action, Pushed, PushRequest, Write
from ledgerbridge.unified import ContactWrite, Model

Customer = dict[str, Any]

CAPABILITIES: dict[Model, frozenset[Action]] = {
    Model.contact: frozenset(Action),  # void deletes the customer (soft: deleted_at)
}

OBJECT_TYPE = "customers"
DERIVED_CODE_PREFIX = "lb-"

_UNSUPPORTED = {
    Model.invoice: "Lightspeed has no invoices: its sales are read-only through the API",
    Model.purchase_order: "Lightspeed takes no purchase orders through its API",
}


def problems(model: Model, action: Action, body: Write | None) -> list[str]:
    """Why Lightspeed cannot take this write, before any call; ``[]`` when it can."""
    if action not in CAPABILITIES.get(model, frozenset()):
        return [_UNSUPPORTED.get(model, f"Lightspeed cannot {action.value} a {model.value}")]
    if action is Action.void:
        return []
    if not isinstance(body, ContactWrite):
        return [f"a contact {action.value} needs the contact's fields"]
    found = []
    if not body.is_customer or body.is_supplier:
        found.append("Lightspeed contacts are customers only: is_customer true, is_supplier false")
    if body.tax_number is not None:
        found.append("Lightspeed customers have no tax number: leave tax_number out")
    if body.currency is not None:
        found.append("Lightspeed customers have no currency (a store has one): leave it out")
    return found


async def execute(http: httpx.AsyncClient, request: PushRequest) -> Pushed:
    """Create, update or delete a customer; the customer as Lightspeed now has it."""
    refused = problems(request.model, request.action, request.body)
    if refused:
        raise ValueError("; ".join(refused))
    if request.action is Action.create:
        assert isinstance(request.body, ContactWrite)  # problems() made sure
        return _pushed(await _create(http, request.body, request.idempotency_key))
    if request.remote_id is None:
        raise ValueError(f"a contact {request.action.value} needs the customer's remote_id")
    if request.action is Action.update:
        assert isinstance(request.body, ContactWrite)
        return _pushed(await _update(http, request.remote_id, request.body))
    return _pushed(await _delete(http, request.remote_id))


def customer_code(contact: ContactWrite, idempotency_key: str) -> str:
    """The natural key a create is found by: the contact's code, or one from the key.

    A digest rather than a prefix of the key, so keys sharing a long prefix never share a
    code; 20 hex digits keep it short enough to read at the till.
    """
    if contact.code is not None:
        return contact.code
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"{DERIVED_CODE_PREFIX}{digest[:20]}"


async def _create(http: httpx.AsyncClient, contact: ContactWrite, idempotency_key: str) -> Customer:
    code = customer_code(contact, idempotency_key)
    existing = await _find(http, code)
    if existing is not None:
        return existing
    response = await http.post("/customers", json=_fields(contact) | {"customer_code": code})
    if response.status_code == 422:  # perhaps our own earlier create, its answer lost
        existing = await _find(http, code)
        if existing is not None:
            return existing
    return _customer(response)


async def _update(http: httpx.AsyncClient, remote_id: str, contact: ContactWrite) -> Customer:
    fields = _fields(contact)
    if contact.code is not None:
        fields["customer_code"] = contact.code
    return _customer(await http.put(f"/customers/{remote_id}", json=fields))


async def _delete(http: httpx.AsyncClient, remote_id: str) -> Customer:
    response = await http.delete(f"/customers/{remote_id}")
    if response.status_code != 404:  # a 404 may mean deleted already: the read tells
        raise_for_error(response)
    customer = _customer(await http.get(f"/customers/{remote_id}"))
    if customer.get("deleted_at") is None:
        raise_for_error(response)
    return customer


async def _find(http: httpx.AsyncClient, code: str) -> Customer | None:
    """The live customer whose code is ``code`` (compared as Lightspeed does, ignoring case)."""
    response = await http.get("/search", params={"type": "customers", "customer_code": code})
    found = _data(response)
    if not isinstance(found, list):
        raise ProviderError(response.status_code, "Lightspeed answered a search with no list")
    matches = [
        customer
        for customer in found
        if str(customer.get("customer_code", "")).lower() == code.lower()
        and customer.get("deleted_at") is None
    ]
    return matches[0] if matches else None


def _fields(contact: ContactWrite) -> Customer:
    first, _, last = " ".join(contact.name.split()).partition(" ")
    fields: Customer = {"first_name": first, "last_name": last or None}
    for name, value in (("email", contact.email), ("phone", contact.phone)):
        if value is not None:
            fields[name] = value
    return fields


def _data(response: httpx.Response) -> Any:
    """The ``data`` of a successful answer, numbers exact; the provider's error otherwise."""
    body = read_json(response, lambda answered, _: raise_for_error(answered), "Lightspeed")
    if "data" not in body:
        raise ProviderError(response.status_code, "Lightspeed answered with no data")
    return body["data"]


def _customer(response: httpx.Response) -> Customer:
    customer = _data(response)
    if not isinstance(customer, dict) or not customer.get("id"):
        raise ProviderError(response.status_code, "Lightspeed answered with no customer")
    return customer


def _pushed(customer: Customer) -> Pushed:
    code, version = customer.get("customer_code"), customer.get("version")
    return Pushed(
        object_type=OBJECT_TYPE,
        remote_id=str(customer["id"]),
        number=str(code) if code else None,
        payload=customer,
        updated_at=parse_time(customer.get("updated_at")),
        version=str(version) if version is not None else None,
    )
