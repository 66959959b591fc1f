"""Writing to a QuickBooks Online company: invoices and bills, purchase orders, customers
and vendors, each exactly once.

| write | entity (and pull object type) | void |
| --- | --- | --- |
| ``InvoiceWrite`` sales | Invoice | ``?operation=void`` |
| ``InvoiceWrite`` bill | Bill | ``?operation=delete`` |
| ``PurchaseOrderWrite`` | PurchaseOrder | ``?operation=delete`` |
| ``ContactWrite`` | Customer, or Vendor when a supplier only | no |

Each is created with ``POST /<entity>`` and updated there with its ``Id``, ``SyncToken``
and ``sparse: true``. QuickBooks voids only sales invoices (and payments); bills and
purchase orders it deletes. Customers and vendors it never deletes, only deactivates, and
an Id alone does not say which of the two lists holds it: contacts are not voided here.
For the same reason the entity comes from the body: a void without one is a sales
invoice's.

**Exactly once.** Every write carries ``?requestid=`` (the idempotency key, hashed when
longer than QuickBooks' 50 characters): QuickBooks answers a repeated request id with its
first answer and changes nothing. An update or a void needs the record's current
``SyncToken``, so it reads the record first; a retry reads a newer token, but the request
id still replays the first answer. A retried delete finds the record already gone: it is
sent again without a token, so the request id replays the first answer, or QuickBooks
says the record does not exist. A stale token (5010: someone changed the record between
the read and the write) is final, like every error that reaches this module.

**Updates are sparse**: what ledgerbridge does not write (addresses, terms, custom
fields) stays as it is; the lines are replaced as a whole.

**References are Ids**, as QuickBooks writes them on a line: ``contact_remote_id`` is the
Customer or Vendor Id, ``item_code`` the Item Id and ``account_code`` the Account Id, the
values pull reports as a line's ``item_remote_id`` and ``account_remote_id``. A sales line
posts through its item (QuickBooks takes no account on it); a bill or purchase order line
names an item or an account. Amounts go out as exact decimals: a line's ``Amount`` is its
quantity times its unit amount, to the cent; QuickBooks computes the tax and the totals.
"""

from __future__ import annotations

import hashlib
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import simplejson

from ledgerbridge.providers.pulling import ProviderError
from ledgerbridge.providers.pushing import Action, Pushed, PushRequest, Write
from ledgerbridge.providers.quickbooks.errors import read_json
from ledgerbridge.providers.quickbooks.pull import MINOR_VERSION, parse_time
from ledgerbridge.unified import ContactWrite, InvoiceWrite, LineWrite, Model, PurchaseOrderWrite

Record = dict[str, Any]

CAPABILITIES: dict[Model, frozenset[Action]] = {
    Model.invoice: frozenset({Action.create, Action.update, Action.void}),
    Model.purchase_order: frozenset({Action.create, Action.update, Action.void}),
    Model.contact: frozenset({Action.create, Action.update}),
}

BODY_TYPES: dict[Model, type[Write]] = {
    Model.invoice: InvoiceWrite,
    Model.purchase_order: PurchaseOrderWrite,
    Model.contact: ContactWrite,
}

MAX_REQUEST_ID = 50
MAX_DOC_NUMBER = 21
MAX_EMAIL = 100
NAME_FORBIDDEN = (":", "\t", "\n")  # a colon names a sub-customer in QuickBooks
CENT = Decimal("0.01")
OBJECT_NOT_FOUND = "610"
STALE_OBJECT = "5010"


def problems(model: Model, action: Action, body: Write | None) -> list[str]:
    """Why QuickBooks cannot take this write, before any call; ``[]`` when it can."""
    if action not in CAPABILITIES.get(model, frozenset()):
        return [f"QuickBooks cannot {action.value} a {model.value} through ledgerbridge"]
    expected = BODY_TYPES[model]
    if body is None:
        if action is Action.void:
            return []
        return [f"A {model.value} {action.value} needs a body ({expected.__name__})"]
    if not isinstance(body, expected):
        return [f"A {model.value} takes {expected.__name__}, not {type(body).__name__}"]
    if action is Action.void:
        return []  # only the body's type is read
    if isinstance(body, ContactWrite):
        return _contact_problems(body)
    return _document_problems(body)


async def execute(http: httpx.AsyncClient, request: PushRequest) -> Pushed:
    """Create (``remote_id`` None), update or void the record; QuickBooks' record as it now
    is (for a deleted bill or purchase order, QuickBooks' ``Deleted`` stub).

    ``object_type`` names the entity an existing record lives in (ids repeat across
    Invoice and Bill, Customer and Vendor); a create goes where its body says."""
    refused = problems(request.model, request.action, request.body)
    if refused:
        raise ValueError("; ".join(refused))
    entity = (
        request.object_type
        if request.object_type and request.action is not Action.create
        else entity_for(request.model, request.body)
    )
    request_id = request_id_for(request.idempotency_key)
    if request.action is Action.create:
        if request.remote_id is not None:
            raise ValueError("A create takes no remote_id")
        record = await _post(http, entity, _fields(entity, request.body), request_id)
    elif request.remote_id is None:
        raise ValueError(f"A {request.action.value} needs the record's remote_id")
    elif request.action is Action.update:
        record = await _update(
            http, entity, request.remote_id, _fields(entity, request.body), request_id
        )
    else:
        record = await _void(http, entity, request.remote_id, request_id)
    return _pushed(entity, record)


def entity_for(model: Model, body: Write | None) -> str:
    """The QuickBooks entity (and pull object type) a write goes to."""
    if isinstance(body, ContactWrite):
        return "Vendor" if body.is_supplier and not body.is_customer else "Customer"
    if model is Model.purchase_order:
        return "PurchaseOrder"
    if model is Model.invoice:
        return "Bill" if isinstance(body, InvoiceWrite) and body.type == "bill" else "Invoice"
    raise ValueError(f"QuickBooks takes no {model.value} writes")


def request_id_for(idempotency_key: str) -> str:
    """QuickBooks' ``requestid``: the key itself, or a digest of it when it is too long."""
    if len(idempotency_key) <= MAX_REQUEST_ID:
        return idempotency_key
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:MAX_REQUEST_ID]


# --- what QuickBooks cannot take -----------------------------------------------------


def _contact_problems(body: ContactWrite) -> list[str]:
    found: list[str] = []
    if body.code is not None:
        found.append("QuickBooks has no field for a contact's code: leave code out")
    if not (body.is_customer or body.is_supplier):
        found.append("A QuickBooks contact is a customer or a supplier (vendor)")
    if any(character in body.name for character in NAME_FORBIDDEN):
        found.append("A QuickBooks name cannot contain a colon, a tab or a line break")
    if body.email is not None and len(body.email) > MAX_EMAIL:
        found.append(f"QuickBooks takes an email address of at most {MAX_EMAIL} characters")
    return found


def _document_problems(body: InvoiceWrite | PurchaseOrderWrite) -> list[str]:
    found: list[str] = []
    if isinstance(body, InvoiceWrite) and body.status != "open":
        found.append(f"QuickBooks has no {body.status} invoices or bills: every one is open")
    if isinstance(body, PurchaseOrderWrite) and body.status == "draft":
        found.append("QuickBooks has no draft purchase orders: send status submitted")
    if body.number is not None and len(body.number) > MAX_DOC_NUMBER:
        found.append(f"QuickBooks takes a document number of at most {MAX_DOC_NUMBER} characters")
    sales = isinstance(body, InvoiceWrite) and body.type == "sales"
    for number, line in enumerate(body.lines, start=1):
        found.extend(f"line {number}: {problem}" for problem in _line_problems(line, sales))
    return found


def _line_problems(line: LineWrite, sales: bool) -> list[str]:
    if not sales:
        if bool(line.item_code) == bool(line.account_code):
            return ["a QuickBooks expense line names an item_code or an account_code, one of them"]
        return []
    found: list[str] = []
    if not line.item_code:
        found.append("a QuickBooks sales line needs item_code (an Item Id)")
    if line.account_code:
        found.append(
            "QuickBooks posts a sales line to its item's income account: leave account_code out"
        )
    return found


# --- requests ------------------------------------------------------------------------


async def _update(
    http: httpx.AsyncClient, entity: str, remote_id: str, fields: Record, request_id: str
) -> Record:
    current = await _read(http, entity, remote_id)
    change = {**fields, "Id": remote_id, "SyncToken": current["SyncToken"], "sparse": True}
    return await _post(http, entity, change, request_id)


async def _void(http: httpx.AsyncClient, entity: str, remote_id: str, request_id: str) -> Record:
    operation = "void" if entity == "Invoice" else "delete"
    try:
        current = await _read(http, entity, remote_id)
    except ProviderError as error:
        if operation != "delete" or error.code != OBJECT_NOT_FOUND:
            raise
        # Gone: if by this very delete (retried after QuickBooks answered), the request id
        # replays the answer; if not, QuickBooks says again that the record does not exist.
        return await _post(http, entity, {"Id": remote_id}, request_id, operation)
    fields = {"Id": remote_id, "SyncToken": current["SyncToken"]}
    return await _post(http, entity, fields, request_id, operation)


async def _read(http: httpx.AsyncClient, entity: str, remote_id: str) -> Record:
    response = await http.get(
        f"{entity.lower()}/{remote_id}", params={"minorversion": MINOR_VERSION}
    )
    return _record(response, entity)


async def _post(
    http: httpx.AsyncClient,
    entity: str,
    fields: Record,
    request_id: str,
    operation: str | None = None,
) -> Record:
    params = {"requestid": request_id, "minorversion": MINOR_VERSION}
    if operation is not None:
        params["operation"] = operation
    response = await http.post(
        entity.lower(),
        params=params,
        content=simplejson.dumps(fields, use_decimal=True),
        headers={"Content-Type": "application/json"},
    )
    try:
        return _record(response, entity)
    except ProviderError as error:
        if error.code != STALE_OBJECT:
            raise
        message = (
            f"{error.message}: the {entity} changed in QuickBooks between ledgerbridge's read "
            "and its write (stale SyncToken). This attempt is final; send the change again "
            "to apply it to the record as it now is."
        )
        raise ProviderError(error.status, message, error.details, code=error.code) from error


def _record(response: httpx.Response, entity: str) -> Record:
    record = read_json(response).get(entity)
    if not isinstance(record, dict) or "Id" not in record:
        text = response.text.strip()[:500]
        raise ProviderError(
            response.status_code, f"QuickBooks answered without the {entity}", [text]
        )
    return record


def _pushed(entity: str, record: Record) -> Pushed:
    updated = (record.get("MetaData") or {}).get("LastUpdatedTime")
    token = record.get("SyncToken")
    return Pushed(
        object_type=entity,
        remote_id=str(record["Id"]),
        number=record.get("DocNumber"),
        payload=record,
        updated_at=parse_time(updated).astimezone(UTC) if updated else None,
        version=None if token is None else str(token),
    )


# --- bodies --------------------------------------------------------------------------


def _fields(entity: str, body: Write | None) -> Record:
    if body is None:
        raise ValueError(f"A {entity} create or update needs a body")
    if isinstance(body, ContactWrite):
        return _contact_fields(entity, body)
    return _document_fields(entity, body)


def _contact_fields(entity: str, body: ContactWrite) -> Record:
    tax_field = "PrimaryTaxIdentifier" if entity == "Customer" else "TaxIdentifier"
    fields: Record = {
        "DisplayName": body.name,
        "PrimaryEmailAddr": body.email and {"Address": body.email},
        "PrimaryPhone": body.phone and {"FreeFormNumber": body.phone},
        tax_field: body.tax_number,
        "CurrencyRef": body.currency and {"value": body.currency},
    }
    return {key: value for key, value in fields.items() if value}


def _document_fields(entity: str, body: InvoiceWrite | PurchaseOrderWrite) -> Record:
    sales = entity == "Invoice"
    if isinstance(body, InvoiceWrite):
        later = {"DueDate": body.due_date}
    else:
        later = {"ExpectedDate": body.delivery_date}
    fields: Record = {
        "CustomerRef" if sales else "VendorRef": {"value": body.contact_remote_id},
        "TxnDate": body.issue_date.isoformat(),
        "CurrencyRef": {"value": body.currency},
        "Line": [_sales_line(line) if sales else _expense_line(line) for line in body.lines],
        "DocNumber": body.number,
        "PrivateNote": body.reference,
        **{key: day.isoformat() for key, day in later.items() if day is not None},
    }
    return {key: value for key, value in fields.items() if value is not None}


def _sales_line(line: LineWrite) -> Record:
    detail = {"ItemRef": {"value": line.item_code}, **_priced(line), **_tax_code(line)}
    return _line(line, "SalesItemLineDetail", detail)


def _expense_line(line: LineWrite) -> Record:
    if line.item_code:
        detail = {"ItemRef": {"value": line.item_code}, **_priced(line), **_tax_code(line)}
        return _line(line, "ItemBasedExpenseLineDetail", detail)
    detail = {"AccountRef": {"value": line.account_code}, **_tax_code(line)}
    return _line(line, "AccountBasedExpenseLineDetail", detail)


def _line(line: LineWrite, kind: str, detail: Record) -> Record:
    amount = (line.quantity * line.unit_amount).quantize(CENT, ROUND_HALF_UP)
    return {"DetailType": kind, "Amount": amount, "Description": line.description, kind: detail}


def _priced(line: LineWrite) -> Record:
    return {"Qty": line.quantity, "UnitPrice": line.unit_amount}


def _tax_code(line: LineWrite) -> Record:
    return {"TaxCodeRef": {"value": line.tax_code}} if line.tax_code else {}
