"""Writing to a Xero organisation: invoices and bills, purchase orders and contacts.

**Requests.** ``PUT /<Resource>`` creates, ``POST /<Resource>/{id}`` updates, both with
``{"<Resource>": [element]}`` and Xero's default ``summarizeErrors``, so an invalid
element is a 400 ``ValidationException`` carrying every ``ValidationErrors[].Message``.
Money goes out as JSON numbers with the exact digits of the ``Decimal``; lines are
tax-exclusive (``LineAmountTypes: Exclusive``), as a unified line's amounts are. A field
left ``None`` is not sent, so an update keeps Xero's value for it.

**Idempotency.** Every write carries ``Idempotency-Key`` (at most 128 characters: a
longer key is replaced by its SHA-256), and Xero answers a replayed key with its first
answer, so calling ``execute`` again after a crash never writes twice. A void first
reads the record: Xero deletes draft documents and voids approved invoices, and a record
that is already gone is returned as it is, without a write.

**Voids.** Invoices: drafts and submitted ones become ``DELETED``, approved ones
``VOIDED`` (a paid invoice is refused by Xero until its payments are removed). Purchase
orders become ``DELETED``. Contacts cannot be deleted in Xero, only archived.

**Answers** are the records exactly as pull lists them (``Decimal`` numbers, unit
amounts to four places for invoices) without the write's own annotations
(``StatusAttributeString``, ``ValidationErrors``, ``Warnings``), so storing one through
the pull mapper leaves the next pull nothing to change.

Xero sets a contact's ``IsCustomer`` / ``IsSupplier`` itself when its first invoice or
bill is raised; they cannot be written, so ``ContactWrite.is_customer`` and
``is_supplier`` are not sent.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import httpx
import simplejson

from ledgerbridge.providers.answers import read_json
from ledgerbridge.providers.pulling import ProviderError
from ledgerbridge.providers.pushing import Action, Pushed, PushRequest, Write
from ledgerbridge.providers.xero.dates import parse_utc
from ledgerbridge.providers.xero.errors import raise_for_error
from ledgerbridge.unified import ContactWrite, InvoiceWrite, LineWrite, Model, PurchaseOrderWrite

Element = dict[str, Any]

CAPABILITIES: dict[Model, frozenset[Action]] = {
    Model.invoice: frozenset(Action),
    Model.purchase_order: frozenset(Action),
    Model.contact: frozenset(Action),  # void archives
}

_RESOURCES = {
    Model.invoice: "Invoices",
    Model.purchase_order: "PurchaseOrders",
    Model.contact: "Contacts",
}
_BODIES: dict[Model, type[Write]] = {
    Model.invoice: InvoiceWrite,
    Model.purchase_order: PurchaseOrderWrite,
    Model.contact: ContactWrite,
}
_NUMBER_FIELDS = {
    "Invoices": "InvoiceNumber",
    "PurchaseOrders": "PurchaseOrderNumber",
    "Contacts": "ContactNumber",
}
# Unit amounts to four places, as pull lists invoices; purchase orders take no ``unitdp``.
_PARAMS = {"Invoices": {"unitdp": "4"}}
_STATUSES = {"draft": "DRAFT", "submitted": "SUBMITTED", "open": "AUTHORISED"}
_GONE = frozenset({"DELETED", "VOIDED", "ARCHIVED", "GDPRREQUEST"})
_WRITE_ANNOTATIONS = ("StatusAttributeString", "ValidationErrors", "Warnings")
_CENT = Decimal("0.01")
MAX_IDEMPOTENCY_KEY = 128
MAX_CONTACT_NUMBER = 50
MAX_ITEM_CODE = 30


def problems(model: Model, action: Action, body: Write | None) -> list[str]:
    """Why Xero would not take this write, before any call; ``[]`` when it would."""
    if action not in CAPABILITIES.get(model, frozenset()):
        return [f"Xero cannot {action} a record of type {model}."]
    if action is Action.void:
        return []
    expected = _BODIES[model]
    if not isinstance(body, expected):
        return [f"To {action} a record of type {model}, the body must be {expected.__name__}."]
    if isinstance(body, ContactWrite):
        return _contact_problems(body)
    found = []
    if isinstance(body, InvoiceWrite) and body.type == "bill" and body.reference:
        found.append(
            "Xero keeps no reference on a bill: send the supplier's reference as its number."
        )
    for position, line in enumerate(body.lines, start=1):
        found += _line_problems(line, position, two_places=isinstance(body, PurchaseOrderWrite))
    return found


async def execute(http: httpx.AsyncClient, request: PushRequest) -> Pushed:
    """Create (``remote_id`` None), update or void the record; the record as Xero now has it.

    Raises ``ProviderError`` with Xero's own messages when Xero refuses, and ``ValueError``
    for a request ``problems`` refuses (checked before any call).
    """
    refused = problems(request.model, request.action, request.body)
    if refused:
        raise ValueError(" ".join(refused))
    if (request.action is Action.create) != (request.remote_id is None):
        raise ValueError("A create takes no remote_id; an update or a void needs one.")
    resource = _RESOURCES[request.model]
    headers = {
        "Idempotency-Key": _idempotency_key(request.idempotency_key),
        "Content-Type": "application/json",
    }
    params = _PARAMS.get(resource, {})
    if request.action is Action.void:
        current = _record(
            resource, await http.get(f"{resource}/{request.remote_id}", params=params)
        )
        if _status(resource, current) in _GONE:
            return _pushed(resource, current)
        element = _void(resource, current)
    else:
        assert request.body is not None  # problems() has checked it
        element = _element(request.body)
    content = simplejson.dumps({resource: [element]}, use_decimal=True)
    if request.remote_id is None:
        response = await http.put(resource, params=params, content=content, headers=headers)
    else:
        path = f"{resource}/{request.remote_id}"
        response = await http.post(path, params=params, content=content, headers=headers)
    return _pushed(resource, _record(resource, response))


# --- unified writes as Xero elements ---------------------------------------------------


def _element(body: Write) -> Element:
    if isinstance(body, ContactWrite):
        return _contact(body)
    element: Element = {
        "Contact": {"ContactID": body.contact_remote_id},
        "Reference": body.reference,
        "Date": body.issue_date.isoformat(),
        "CurrencyCode": body.currency,
        "Status": _STATUSES[body.status],
        "LineAmountTypes": "Exclusive",
        "LineItems": [_line(line) for line in body.lines],
    }
    if isinstance(body, InvoiceWrite):
        element |= {
            "Type": "ACCREC" if body.type == "sales" else "ACCPAY",
            "InvoiceNumber": body.number,
            "DueDate": body.due_date.isoformat() if body.due_date else None,
        }
    else:
        element |= {
            "PurchaseOrderNumber": body.number,
            "DeliveryDate": body.delivery_date.isoformat() if body.delivery_date else None,
        }
    return _without_none(element)


def _line(line: LineWrite) -> Element:
    return _without_none(
        {
            "Description": line.description,
            "Quantity": line.quantity,
            "UnitAmount": line.unit_amount,
            "ItemCode": line.item_code,
            "AccountCode": line.account_code,
            "TaxType": line.tax_code,
        }
    )


def _contact(body: ContactWrite) -> Element:
    return _without_none(
        {
            "Name": body.name,
            "ContactNumber": body.code,
            "EmailAddress": body.email,
            "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": body.phone}] if body.phone else None,
            "TaxNumber": body.tax_number,
            "DefaultCurrency": body.currency,
        }
    )


def _void(resource: str, current: Element) -> Element:
    if resource == "Contacts":
        return {"ContactStatus": "ARCHIVED"}
    if resource == "Invoices" and current.get("Status") not in ("DRAFT", "SUBMITTED"):
        return {"Status": "VOIDED"}
    return {"Status": "DELETED"}


def _without_none(element: Element) -> Element:
    return {key: value for key, value in element.items() if value is not None}


def _idempotency_key(key: str) -> str:
    if len(key) <= MAX_IDEMPOTENCY_KEY:
        return key
    return hashlib.sha256(key.encode()).hexdigest()


# --- what Xero cannot take -------------------------------------------------------------


def _contact_problems(body: ContactWrite) -> list[str]:
    if body.code and len(body.code) > MAX_CONTACT_NUMBER:
        return [f"Xero's contact number (code) has at most {MAX_CONTACT_NUMBER} characters."]
    return []


def _line_problems(line: LineWrite, position: int, *, two_places: bool) -> list[str]:
    found = []
    if line.item_code and len(line.item_code) > MAX_ITEM_CODE:
        found.append(f"Line {position}: Xero item codes have at most {MAX_ITEM_CODE} characters.")
    if two_places and line.unit_amount % _CENT:
        found.append(
            f"Line {position}: Xero keeps purchase order unit amounts to 2 decimal places, "
            f"not {line.unit_amount}."
        )
    return found


# --- Xero's answers --------------------------------------------------------------------


def _record(resource: str, response: httpx.Response) -> Element:
    """The one record of a successful answer, as pull would list it."""
    answer = read_json(response, lambda answered, _: raise_for_error(answered), "Xero")
    records = answer.get(resource)
    if not records or not isinstance(records[0], dict):
        raise ProviderError(response.status_code, f"Xero answered without a {resource[:-1]}.")
    record: Element = records[0]
    for annotation in _WRITE_ANNOTATIONS:
        record.pop(annotation, None)
    return record


def _pushed(resource: str, record: Element) -> Pushed:
    updated = record.get("UpdatedDateUTC")
    return Pushed(
        object_type=resource,
        remote_id=str(record[f"{resource[:-1]}ID"]),
        number=record.get(_NUMBER_FIELDS[resource]) or None,
        payload=record,
        updated_at=parse_utc(updated) if updated else None,
    )


def _status(resource: str, record: Element) -> object:
    return record.get("ContactStatus" if resource == "Contacts" else "Status")
