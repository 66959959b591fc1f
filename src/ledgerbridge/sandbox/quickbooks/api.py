"""The QuickBooks Online Accounting API v3 routes, under ``/quickbooks/v3/company/{realmId}``.

- ``GET|POST /query``: the query language (POST sends the query as the body, as the
  official SDKs do);
- ``GET /cdc?entities=...&changedSince=...``: change data capture;
- ``GET /{entity}/{id}`` and ``GET /companyinfo/{realmId}``: one record;
- ``POST /{entity}``: create, full or sparse update, ``?operation=delete``,
  ``?operation=void`` (also the SDK's ``?operation=update&include=void``), with
  ``requestid`` replays;
- ``POST /batch``: up to 30 operations whose failures come back as a ``Fault`` inside an
  HTTP 200, as QuickBooks does.

Every answer carries an ``intuit_tid`` header; every error is a ``Fault`` body.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from ledgerbridge.sandbox.quickbooks import errors, reads, writes
from ledgerbridge.sandbox.quickbooks.company import (
    PROVIDER,
    Company,
    company_info,
    find_company,
)
from ledgerbridge.sandbox.quickbooks.dates import format_response_time, parse_time
from ledgerbridge.sandbox.quickbooks.entities import BY_PATH_NAME, OBJECT_TYPES, Record
from ledgerbridge.sandbox.quickbooks.query import parse_query
from ledgerbridge.sandbox.state import SandboxState, sandbox_state

CDC_MAX_AGE_SECONDS = 30 * 86_400
BATCH_LIMIT = 30
DEFAULT_OFFSET_MINUTES = -7 * 60  # for errors before the company is known


class QboRoute(APIRoute):
    """Answers QuickBooks faults (and FastAPI's own validation errors) as ``Fault`` bodies,
    and stamps every response with an ``intuit_tid``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except errors.QboFault as fault:
                response = fault_response(request, fault)
            except RequestValidationError as invalid:
                detail = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in invalid.errors()
                )
                response = fault_response(request, errors.invalid_request(detail))
            response.headers["intuit_tid"] = _transaction_id()
            return response

        return handle


router = APIRouter(route_class=QboRoute, tags=["QuickBooks Online"])


def _transaction_id() -> str:
    return f"1-{secrets.token_hex(4)}-{secrets.token_hex(12)}"


def json_response(body: Record, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _offset(request: Request) -> int:
    realm_id = request.path_params.get("realm_id", "")
    company = find_company(sandbox_state(request), realm_id)
    return company.realm.offset_minutes if company else DEFAULT_OFFSET_MINUTES


def _now(state: SandboxState, offset_minutes: int) -> str:
    return format_response_time(state.clock.time_ms(), offset_minutes)


def fault_response(request: Request, fault: errors.QboFault) -> Response:
    state = sandbox_state(request)
    body = {"Fault": fault.to_json(), "time": _now(state, _offset(request))}
    response = json_response(body, fault.status)
    response.headers.update(fault.headers)
    return response


def _reply(state: SandboxState, company: Company, body: Record) -> Response:
    return json_response({**body, "time": _now(state, company.realm.offset_minutes)})


def authorize(request: Request, realm_id: str) -> tuple[SandboxState, Company]:
    """The company a bearer token may reach, or QuickBooks' 401 / 403 fault."""
    state = sandbox_state(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise errors.authentication_fault("Authorization header missing or not a bearer token")
    realms = state.tokens.account_ids(PROVIDER, token.strip())
    if realms is None:
        raise errors.authentication_fault("Token expired, revoked or unknown")
    company = find_company(state, realm_id)
    if realm_id not in realms or company is None:
        raise errors.authorization_fault()
    return state, company


def _entity(path_name: str) -> str:
    entity = BY_PATH_NAME.get(path_name.lower())
    if entity is None:
        raise errors.unsupported_operation(path_name)
    return entity


# --- reads ---------------------------------------------------------------------------


def _query(state: SandboxState, company: Company, text: str) -> Record:
    query = parse_query(text)
    with state.store.lock:
        return reads.run_query(state, company, query)


@router.get("/v3/company/{realm_id}/query")
async def query_get(request: Request, realm_id: str, query: str = "") -> Response:
    state, company = authorize(request, realm_id)
    return _reply(state, company, {"QueryResponse": _query(state, company, query)})


@router.post("/v3/company/{realm_id}/query")
async def query_post(request: Request, realm_id: str) -> Response:
    state, company = authorize(request, realm_id)
    text = request.query_params.get("query") or (await request.body()).decode("utf-8", "replace")
    return _reply(state, company, {"QueryResponse": _query(state, company, text)})


@router.get("/v3/company/{realm_id}/cdc")
async def change_data_capture(
    request: Request, realm_id: str, entities: str = "", changedSince: str = ""
) -> Response:
    state, company = authorize(request, realm_id)
    names = [name.strip() for name in entities.split(",") if name.strip()]
    if not names:
        raise errors.required_param("entities")
    if not changedSince:
        raise errors.required_param("changedSince")
    wanted = [_cdc_entity(name) for name in names]
    try:
        since = parse_time(changedSince, company.realm.offset_minutes)
    except ValueError as exc:
        raise errors.invalid_request(
            f"changedSince: invalid date-time {changedSince!r}", "changedSince"
        ) from exc
    if since < state.clock.time_ms() // 1000 - CDC_MAX_AGE_SECONDS:
        raise errors.validation_fault(
            "Invalid Request",
            "changedSince cannot be more than 30 days in the past",
            "4001",
            "changedSince",
        )
    with state.store.lock:
        responses = reads.change_data_capture(state, company, wanted, since)
    return _reply(state, company, {"CDCResponse": [{"QueryResponse": responses}]})


def _cdc_entity(name: str) -> str:
    for entity in OBJECT_TYPES:
        if entity.lower() == name.lower():
            return entity
    raise errors.invalid_request(f"Unsupported entity {name!r} in entities", "entities")


@router.get("/v3/company/{realm_id}/companyinfo/{company_id}")
async def get_company_info(request: Request, realm_id: str, company_id: str) -> Response:
    state, company = authorize(request, realm_id)
    if company_id != realm_id:
        raise errors.object_not_found("CompanyInfo", company_id)
    return _reply(state, company, {"CompanyInfo": company_info(company)})


@router.get("/v3/company/{realm_id}/{entity_name}/{record_id}")
async def get_record(request: Request, realm_id: str, entity_name: str, record_id: str) -> Response:
    state, company = authorize(request, realm_id)
    entity = _entity(entity_name)
    with state.store.lock:
        record = reads.get_record(state, company, entity, record_id)
    return _reply(state, company, {entity: record})


# --- writes --------------------------------------------------------------------------


def _write(
    state: SandboxState,
    company: Company,
    entity: str,
    body: Record,
    operation: str,
) -> Record:
    """One create / update / delete / void; the record (or stub) to answer."""
    try:
        return _apply_write(state, company, entity, body, operation)
    except (KeyError, TypeError, AttributeError) as exc:  # a body of the wrong shape
        raise errors.invalid_request(f"{entity} is malformed: {exc!r}") from exc


def _apply_write(
    state: SandboxState, company: Company, entity: str, body: Record, operation: str
) -> Record:
    with state.store.lock:
        if operation == "delete":
            stub = writes.delete(state, company, entity, body)
            return {"status": "Deleted", "domain": "QBO", "Id": stub["Id"]}
        if operation == "void":
            return writes.void(state, company, entity, body)
        if operation == "update" or body.get("Id"):
            return writes.update(state, company, entity, body)
        if operation == "create":
            return writes.create(state, company, entity, body)
    raise errors.unsupported_operation(operation)


def _operation(request: Request) -> str:
    params = request.query_params
    operation = params.get("operation", "").lower()
    if operation == "update" and params.get("include", "").lower() == "void":
        return "void"
    return operation or "create"


async def _json_object(request: Request) -> Record:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise errors.invalid_request(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise errors.invalid_request("Request body must be a JSON object.")
    return body


def _replayed(company: Company, request: Request) -> Response | None:
    request_id = request.query_params.get("requestid")
    found = company.replays.get(request_id) if request_id else None
    return None if found is None else json_response(found[1], found[0])


def _remember(company: Company, request: Request, response_body: Record) -> None:
    request_id = request.query_params.get("requestid")
    if request_id:
        company.remember_reply(request_id, 200, response_body)


@router.post("/v3/company/{realm_id}/batch")
async def batch(request: Request, realm_id: str) -> Response:
    state, company = authorize(request, realm_id)
    body = await _json_object(request)
    items = body.get("BatchItemRequest")
    if not isinstance(items, list) or not items:
        raise errors.required_param("BatchItemRequest")
    if len(items) > BATCH_LIMIT:
        raise errors.validation_fault(
            "Batch size limit exceeded",
            f"The batch has {len(items)} items; at most {BATCH_LIMIT} are allowed.",
            "2010",
        )
    with state.store.lock:
        replay = _replayed(company, request)
        if replay is not None:
            return replay
        answers = [_batch_item(state, company, item) for item in items]
        response_body = {
            "BatchItemResponse": answers,
            "time": _now(state, company.realm.offset_minutes),
        }
        _remember(company, request, response_body)
    return json_response(response_body)


def _batch_item(state: SandboxState, company: Company, item: Any) -> Record:
    """One batch answer: the result, or the ``Fault`` that a plain call would have raised."""
    bid = str(item.get("bId", "")) if isinstance(item, dict) else ""
    try:
        if not isinstance(item, dict):
            raise errors.invalid_request("Each BatchItemRequest must be an object.")
        if "Query" in item:
            return {"bId": bid, "QueryResponse": _query(state, company, str(item["Query"]))}
        names = [key for key in item if key.lower() in BY_PATH_NAME]
        if len(names) != 1 or not isinstance(item[names[0]], dict):
            raise errors.invalid_request("A batch item needs one entity object or a Query.")
        entity = _entity(names[0])
        operation = str(item.get("operation", "create")).lower()
        return {"bId": bid, entity: _write(state, company, entity, item[names[0]], operation)}
    except errors.QboFault as fault:
        return {"bId": bid, "Fault": fault.to_json()}


@router.post("/v3/company/{realm_id}/{entity_name}")
async def write(request: Request, realm_id: str, entity_name: str) -> Response:
    state, company = authorize(request, realm_id)
    entity = _entity(entity_name)
    body = await _json_object(request)
    if list(body) == [entity] and isinstance(body[entity], dict):
        body = body[entity]  # tolerate the entity wrapped in its own name
    with state.store.lock:
        replay = _replayed(company, request)
        if replay is not None:
            return replay
        record = _write(state, company, entity, body, _operation(request))
        response_body = {entity: record, "time": _now(state, company.realm.offset_minutes)}
        _remember(company, request, response_body)
    return json_response(response_body)
