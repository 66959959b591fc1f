"""The Xero Accounting API: ``/xero/api.xro/2.0/<Resource>[/<id>]``.

Every call needs a live bearer token and an ``xero-tenant-id`` header naming one of the
organisations that token's consent covers. Lists page 100 at a time (``page``,
``pageSize`` up to 1000; Items and Accounts come whole) and honour ``If-Modified-Since``,
``where``, ``Statuses``, ``IDs``, ``includeArchived``, ``searchTerm`` and
``summaryOnly``. ``PUT`` creates, ``POST`` creates or updates, ``Idempotency-Key``
replays the first answer.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ledgerbridge.sandbox.state import SandboxState, sandbox_state
from ledgerbridge.sandbox.tokens import bearer_token
from ledgerbridge.sandbox.xero.data import xero_data
from ledgerbridge.sandbox.xero.dates import ms_date
from ledgerbridge.sandbox.xero.errors import (
    bad_request,
    envelope,
    forbidden,
    json_response,
    not_found,
    unauthorized,
    validation_exception,
)
from ledgerbridge.sandbox.xero.query import QueryError, list_records, parse_query, summary
from ledgerbridge.sandbox.xero.resources import Resource, resource_named
from ledgerbridge.sandbox.xero.writes import (
    Invalid,
    Prepared,
    Write,
    commit,
    delete,
    find,
    prepare,
    writer,
)

router = APIRouter(tags=["xero"])
API = "/api.xro/2.0"
Record = dict[str, Any]
MAX_IDEMPOTENCY_KEY = 128


def authorise(request: Request, state: SandboxState) -> tuple[str, str] | Response:
    """(tenant id, client id) for a call that may go ahead, else Xero's 401/403."""
    token = bearer_token(request.headers.get("authorization"))
    grant = state.tokens.grant_of("xero", token)
    if grant is None:
        if state.tokens.is_expired("xero", token):
            return unauthorized("TokenExpired: token expired")
        return unauthorized()
    tenant_id = request.headers.get("xero-tenant-id", "").strip().lower()
    if tenant_id not in grant.account_ids:
        return forbidden()
    return tenant_id, grant.client_id


@router.get(API + "/{resource_name}")
async def list_resource(
    resource_name: str, request: Request, state: SandboxState = Depends(sandbox_state)
) -> Response:
    allowed = authorise(request, state)
    if isinstance(allowed, Response):
        return allowed
    tenant_id, client_id = allowed
    now = state.clock.time_ms()
    if resource_name.lower() == "organisation":
        return json_response(
            envelope("Organisations", [_organisation(state, tenant_id)], now, client_id)
        )
    resource = resource_named(resource_name)
    if resource is None:
        return not_found()
    try:
        query = parse_query(request.query_params, request.headers.get("if-modified-since"))
        records, pagination = list_records(state, tenant_id, resource, query)
    except QueryError as error:
        return bad_request(16, "QueryParseException", str(error))
    if query.summary_only:
        records = [summary(r) for r in records]
    return json_response(envelope(resource.name, records, now, client_id, pagination))


@router.get(API + "/{resource_name}/{key}")
async def get_record(
    resource_name: str, key: str, request: Request, state: SandboxState = Depends(sandbox_state)
) -> Response:
    allowed = authorise(request, state)
    if isinstance(allowed, Response):
        return allowed
    tenant_id, client_id = allowed
    resource = resource_named(resource_name)
    if resource is None:
        return not_found()
    with state.store.lock:
        record = find(writer(state, tenant_id), resource, key)
    if record is None:
        return not_found()
    return json_response(envelope(resource.name, [record], state.clock.time_ms(), client_id))


@router.put(API + "/{resource_name}")
async def put_records(
    resource_name: str, request: Request, state: SandboxState = Depends(sandbox_state)
) -> Response:
    return await _write(request, state, resource_name, None, create_only=True)


@router.post(API + "/{resource_name}")
async def post_records(
    resource_name: str, request: Request, state: SandboxState = Depends(sandbox_state)
) -> Response:
    return await _write(request, state, resource_name, None, create_only=False)


@router.post(API + "/{resource_name}/{key}")
async def post_record(
    resource_name: str, key: str, request: Request, state: SandboxState = Depends(sandbox_state)
) -> Response:
    return await _write(request, state, resource_name, key, create_only=False)


@router.delete(API + "/{resource_name}/{key}")
async def delete_record(
    resource_name: str, key: str, request: Request, state: SandboxState = Depends(sandbox_state)
) -> Response:
    """Only Items (gone for good, 204) and Accounts (status DELETED) can be deleted."""
    allowed = authorise(request, state)
    if isinstance(allowed, Response):
        return allowed
    tenant_id, client_id = allowed
    resource = resource_named(resource_name)
    if resource is None or resource.name not in ("Items", "Accounts"):
        return not_found()
    with state.store.lock:
        w = writer(state, tenant_id)
        record = find(w, resource, key)
        if record is None:
            return not_found()
        if resource.name == "Items":
            delete(w, resource, record["ItemID"])
            return Response(status_code=204)
        try:
            prepared = prepare(w, resource, {"Status": "DELETED"}, record_id=record["AccountID"])
        except Invalid as invalid:
            return validation_exception([_failed(record, invalid)])
        deleted = commit(w, prepared)
    return json_response(envelope(resource.name, [deleted], state.clock.time_ms(), client_id))


async def _write(
    request: Request, state: SandboxState, resource_name: str, key: str | None, *, create_only: bool
) -> Response:
    allowed = authorise(request, state)
    if isinstance(allowed, Response):
        return allowed
    tenant_id, client_id = allowed
    resource = resource_named(resource_name)
    if resource is None:
        return not_found()
    idempotency_key = request.headers.get("idempotency-key")
    answers = xero_data(state).idempotent_answers
    if idempotency_key is not None:
        if len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
            return bad_request(14, "PostDataInvalidException", "Idempotency-Key is too long.")
        first = answers.get((tenant_id, idempotency_key))
        if first is not None:
            return Response(first[1], first[0], media_type="application/json")
    try:
        elements = _elements(orjson.loads(await request.body()), resource)
    except (orjson.JSONDecodeError, ValueError) as error:
        return bad_request(14, "PostDataInvalidException", f"Invalid request body: {error}")
    summarize = request.query_params.get("summarizeErrors", "true").lower() != "false"
    with state.store.lock:
        w = writer(state, tenant_id)
        record_id = None
        if key is not None:
            found = find(w, resource, key)
            if found is None:
                return not_found()
            record_id = found[resource.id_field]
            elements = elements[:1]
        response = _save(w, resource, elements, record_id, create_only, summarize, client_id)
    if idempotency_key is not None:
        answers[(tenant_id, idempotency_key)] = (response.status_code, bytes(response.body))
    return response


def _elements(payload: object, resource: Resource) -> list[Record]:
    """``{"Invoices": [...]}``, a bare list, or one bare object."""
    if isinstance(payload, dict):
        for name, value in payload.items():
            if name.lower() == resource.name.lower() and isinstance(value, list):
                return value
        return [payload]
    if isinstance(payload, list) and payload:
        return payload
    raise ValueError("no data to process")


def _save(
    w: Write,
    resource: Resource,
    elements: list[Record],
    record_id: str | None,
    create_only: bool,
    summarize: bool,
    client_id: str,
) -> Response:
    """Store the elements. By default one bad element refuses the whole batch (400);
    with ``summarizeErrors=false`` each element stands alone and reports its own fate."""
    outcomes: list[Prepared | Record] = []
    for element in elements:
        try:
            outcomes.append(
                prepare(w, resource, element, record_id=record_id, create_only=create_only)
            )
        except Invalid as invalid:
            outcomes.append(_failed(element, invalid))
    failures = [o for o in outcomes if not isinstance(o, Prepared)]
    if summarize and failures:
        return validation_exception(failures)
    answered = [
        {**commit(w, o), "StatusAttributeString": "OK"} if isinstance(o, Prepared) else o
        for o in outcomes
    ]
    now = w.state.clock.time_ms()
    return json_response(envelope(resource.name, answered, now, client_id))


def _failed(element: Record, invalid: Invalid) -> Record:
    return {
        **(element if isinstance(element, dict) else {}),
        "StatusAttributeString": "ERROR",
        "ValidationErrors": [{"Message": m} for m in invalid.messages],
    }


def _organisation(state: SandboxState, tenant_id: str) -> Record:
    org = xero_data(state).organisations[tenant_id]
    return {
        "OrganisationID": org.tenant_id,
        "APIKey": "",
        "Name": org.name,
        "LegalName": org.name,
        "PaysTax": True,
        "Version": org.country,
        "OrganisationType": "COMPANY",
        "BaseCurrency": org.currency,
        "CountryCode": org.country,
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": 31,
        "FinancialYearEndMonth": 3,
        "SalesTaxBasis": "INVOICE",
        "SalesTaxPeriod": "TWOMONTHS",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": ms_date(org.created_ms),
        "OrganisationEntityType": "COMPANY",
        "ShortCode": org.short_code,
        "Class": "PREMIUM",
        "Edition": "BUSINESS",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {},
    }
