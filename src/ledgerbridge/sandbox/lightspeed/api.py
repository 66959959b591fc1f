"""The X-Series API 2.0 routes: ``/{domain_prefix}/api/2.0/...`` under the ``/lightspeed`` prefix.

Errors take Lightspeed's shape, ``{"error": "<text>"}`` (422s add ``details`` by field),
whatever raised them: the route class below turns this package's exceptions and FastAPI's
own parameter errors into it, so the app's error handlers never see them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from ledgerbridge.sandbox.lightspeed import writes
from ledgerbridge.sandbox.lightspeed.changes import PROVIDER, collection, provider_data
from ledgerbridge.sandbox.lightspeed.paging import DEFAULT_PAGE_SIZE, page
from ledgerbridge.sandbox.lightspeed.records import OBJECT_TYPES, TEMPLATES, Record, is_deleted
from ledgerbridge.sandbox.lightspeed.search import FILTERS, MAX_PAGE_SIZE, search
from ledgerbridge.sandbox.lightspeed.validation import InvalidRecord
from ledgerbridge.sandbox.state import SandboxState, sandbox_state


class LightspeedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status, media_type="application/json")


def error_response(status: int, message: str, details: Any = None) -> Response:
    body: dict[str, Any] = {"error": message}
    if details is not None:
        body["details"] = details
    return json_response(body, status)


class LightspeedRoute(APIRoute):
    """Answers this package's exceptions, and bad parameters, in Lightspeed's error shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except LightspeedError as error:
                return error_response(error.status, error.message)
            except InvalidRecord as error:
                return error_response(422, "Validation failed", error.details)
            except LookupError:
                return error_response(404, "Not found")
            except RequestValidationError as error:
                return _parameter_error(error)

        return handle


def _parameter_error(error: RequestValidationError) -> Response:
    problems = list(error.errors())
    in_body = any(problem["loc"][:1] == ("body",) for problem in problems)
    message = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'][1:]) or problem['loc'][0]}: "
        f"{problem['msg']}"
        for problem in problems
    )
    if in_body:
        return error_response(422, "Validation failed", message)
    return error_response(400, message)


router = APIRouter(route_class=LightspeedRoute, tags=["lightspeed"])
API = "/{domain_prefix}/api/2.0"


def authorised(request: Request, domain_prefix: str) -> SandboxState:
    """The sandbox, once the bearer token is known to be good for this store."""
    state = sandbox_state(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    accounts = (
        state.tokens.account_ids(PROVIDER, token.strip()) if scheme.lower() == "bearer" else None
    )
    if accounts is None:
        raise LightspeedError(401, "Access token is not valid")
    if state.store.account(PROVIDER, domain_prefix) is None:
        raise LightspeedError(404, "Not found")
    if domain_prefix not in accounts:
        raise LightspeedError(403, "Access token is not valid for this store")
    return state


Authorised = Annotated[SandboxState, Depends(authorised)]
JsonObject = Annotated[dict[str, Any], Body()]


@router.get(API + "/retailer")
def get_retailer(state: Authorised, domain_prefix: str) -> Response:
    retailer = provider_data(state).retailers.get(domain_prefix)
    if retailer is None:
        raise LightspeedError(404, "Not found")
    return json_response({"data": retailer})


@router.get(API + "/search")
def search_records(
    state: Authorised,
    domain_prefix: str,
    request: Request,
    type: Annotated[str, Query()],
    offset: Annotated[int, Query(ge=0)] = 0,
    page_size: Annotated[int, Query(ge=1)] = MAX_PAGE_SIZE,
    deleted: bool = False,
    order_by: str | None = None,
    order_direction: str = "asc",
) -> Response:
    if type not in FILTERS:
        raise LightspeedError(400, f"type must be one of {', '.join(FILTERS)}")
    params = {name: request.query_params.getlist(name) for name in request.query_params}
    try:
        with state.store.lock:
            found = search(
                state,
                domain_prefix,
                type,
                params,
                offset=offset,
                page_size=page_size,
                deleted=deleted,
                order_by=order_by,
                descending=order_direction.lower() == "desc",
            )
    except ValueError as error:
        raise LightspeedError(400, str(error)) from error
    return json_response({"data": found})


@router.get(API + "/{object_type}")
def list_records(
    state: Authorised,
    domain_prefix: str,
    object_type: str,
    after: str = "",
    before: str = "",
    page_size: Annotated[int, Query(ge=1)] = DEFAULT_PAGE_SIZE,
    deleted: bool = False,
) -> Response:
    _known_type(object_type)
    records = collection(state, domain_prefix, object_type)
    lower, upper = _version("after", after) or 0, _version("before", before)
    with state.store.lock:
        found = page(records, after=lower, before=upper, page_size=page_size, deleted=deleted)
    return json_response(found)


@router.get(API + "/{object_type}/{record_id}")
def get_record(state: Authorised, domain_prefix: str, object_type: str, record_id: str) -> Response:
    _known_type(object_type)
    return json_response({"data": writes.existing(state, domain_prefix, object_type, record_id)})


@router.post(API + "/customers", status_code=201)
def create_customer(state: Authorised, domain_prefix: str, body: JsonObject) -> Response:
    customer = writes.create(state, domain_prefix, "customers", _writable("customers", body))
    return json_response({"data": customer}, 201)


@router.put(API + "/customers/{record_id}")
def update_customer(
    state: Authorised, domain_prefix: str, record_id: str, body: JsonObject
) -> Response:
    _live(state, domain_prefix, "customers", record_id)
    patch = _writable("customers", body)
    customer = writes.update(state, domain_prefix, "customers", record_id, patch)
    return json_response({"data": customer})


@router.delete(API + "/customers/{record_id}", status_code=204)
def delete_customer(state: Authorised, domain_prefix: str, record_id: str) -> Response:
    writes.delete(state, domain_prefix, "customers", record_id)
    return Response(status_code=204)


@router.post(API + "/products")
def create_product(state: Authorised, domain_prefix: str, body: JsonObject) -> Response:
    product = writes.create(state, domain_prefix, "products", _writable("products", body))
    return json_response({"data": [product["id"]]})


@router.delete(API + "/products/{record_id}")
def delete_product(state: Authorised, domain_prefix: str, record_id: str) -> Response:
    writes.delete(state, domain_prefix, "products", record_id)
    return Response(status_code=200)


# What a client may set through the API; everything else in a body is ignored, as there.
_READ_ONLY = frozenset(
    {"id", "version", "created_at", "updated_at", "deleted_at", "name", "balance"}
    | {"year_to_date", "loyalty_balance", "has_variants", "variant_count"}
)
_WRITABLE = {
    "customers": frozenset(TEMPLATES["customers"]) - _READ_ONLY,
    "products": (frozenset(TEMPLATES["products"]) - _READ_ONLY) | {"name"},
}


def _writable(object_type: str, body: Record) -> Record:
    return {name: value for name, value in body.items() if name in _WRITABLE[object_type]}


def _live(state: SandboxState, domain_prefix: str, object_type: str, record_id: str) -> Record:
    record = writes.existing(state, domain_prefix, object_type, record_id)
    if is_deleted(record):
        raise LookupError(record_id)
    return record


def _version(name: str, value: str) -> int | None:
    """A version bound; the spec allows it empty (``after=``), which means none."""
    if not value:
        return None
    if not value.isdigit():
        raise LightspeedError(400, f"{name} must be a non-negative integer version")
    return int(value)


def _known_type(object_type: str) -> None:
    if object_type not in OBJECT_TYPES:
        raise LightspeedError(404, "Not found")
