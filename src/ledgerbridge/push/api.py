"""Routes: accept writes (202 before any provider call), follow and steer operations."""
# No ``from __future__ import annotations`` here: the route signatures carry annotations
# (a body model chosen at run time) that FastAPI must see as objects, not strings.

from collections.abc import Callable
from inspect import Signature
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel
from sqlalchemy import select

from ledgerbridge import durable
from ledgerbridge.connections.models import Connection
from ledgerbridge.db.base import utcnow
from ledgerbridge.errors import ApiError, conflict, existing, not_found
from ledgerbridge.pagination import Cursor, Limit, Page, page_of
from ledgerbridge.providers.pushing import Action
from ledgerbridge.push import service
from ledgerbridge.push.models import Operation, OperationStatus
from ledgerbridge.push.schemas import Accepted, OperationOut
from ledgerbridge.routing import PushDeveloper, PushViewer, Svc, keyword
from ledgerbridge.schemas import Id
from ledgerbridge.security.principal import Principal, TenantSession
from ledgerbridge.services import Services
from ledgerbridge.unified import ContactWrite, InvoiceWrite, Model, PurchaseOrderWrite

router = APIRouter(tags=["push"])
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Same key and body within 24 h (or at the same time): the same operation. "
            "Another body: 409."
        ),
    ),
]

COLLECTIONS: dict[str, tuple[Model, type[BaseModel]]] = {
    "invoices": (Model.invoice, InvoiceWrite),
    "purchase-orders": (Model.purchase_order, PurchaseOrderWrite),
    "contacts": (Model.contact, ContactWrite),
}


def _accept(
    svc: Services,
    session: TenantSession,
    principal: Principal,
    response: Response,
    *,
    connection_id: int,
    model: Model,
    action: Action,
    body: BaseModel | None,
    record_id: int | None,
    idempotency_key: str | None,
) -> Accepted:
    connection = existing(session.get(Connection, connection_id), "connection")
    operation, accepted_now = service.submit(
        session,
        connection=connection,
        model=model,
        action=action,
        body=body,
        record_id=record_id,
        idempotency_key=idempotency_key,
        requested_by=principal.subject,
    )
    durable.accept(  # stored before anything else happens: 202 means it will be done
        response,
        f"/v1/operations/{operation.id}",
        (lambda: service.enqueue(svc, operation)) if accepted_now else None,
        session,
    )
    return Accepted(
        operation_id=str(operation.id),
        status=OperationStatus(operation.status),
        record_id=str(operation.record_id) if operation.record_id else None,
    )


def _route(model: Model, action: Action, write: type[BaseModel] | None) -> Callable[..., Accepted]:
    """The route accepting ``action`` on ``model``: a record id unless it creates, a body
    unless it voids. FastAPI reads the parameters from the signature given here."""

    def route(**given: Any) -> Accepted:
        return _accept(
            given["svc"],
            given["session"],
            given["principal"],
            given["response"],
            connection_id=given["connection_id"],
            model=model,
            action=action,
            body=given.get("body"),
            record_id=given.get("record_id"),
            idempotency_key=given["idempotency_key"],
        )

    params = [keyword("connection_id", Id)]
    if action is not Action.create:
        params.append(keyword("record_id", Id))
    if write is not None:
        params.append(keyword("body", write))
    params += [
        keyword("principal", PushDeveloper),
        keyword("session", TenantSession),
        keyword("svc", Svc),
        keyword("response", Response),
        keyword("idempotency_key", IdempotencyKey, default=None),
    ]
    route.__signature__ = Signature(params, return_annotation=Accepted)  # type: ignore[attr-defined]
    return route


for _path, (_model, _write) in COLLECTIONS.items():
    _name = _model.value
    for _suffix, _method, _action, _body, _summary in (
        (
            "",
            "POST",
            Action.create,
            _write,
            f"Create a {_name} at the provider (202, then a durable operation)",
        ),
        ("/{record_id}", "PATCH", Action.update, _write, f"Update a {_name} at the provider"),
        ("/{record_id}/void", "POST", Action.void, None, f"Void (or delete) a {_name}"),
    ):
        router.add_api_route(
            f"/v1/connections/{{connection_id}}/{_path}{_suffix}",
            _route(_model, _action, _body),
            methods=[_method],
            name=f"{_action.value}_{_name}",
            summary=_summary,
            status_code=202,
            response_model=Accepted,
        )


@router.get("/v1/operations/{operation_id}", response_model=OperationOut)
def get_operation(operation_id: Id, _: PushViewer, session: TenantSession) -> OperationOut:
    return OperationOut.of(_operation(session, operation_id))


def _operation(session: TenantSession, operation_id: int) -> Operation:
    operation = session.get(Operation, operation_id)
    if operation is None or operation.deleted_at is not None:
        raise not_found("operation")
    return operation


@router.get("/v1/operations", response_model=Page[OperationOut])
def list_operations(
    _: PushViewer,
    session: TenantSession,
    status: OperationStatus | None = None,
    connection_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    include_deleted: bool = False,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[OperationOut]:
    query = select(Operation)
    if status is not None:
        query = query.where(Operation.status == status.value)
    if connection_id is not None:
        query = query.where(Operation.connection_id == connection_id)
    if not include_deleted:
        query = query.where(Operation.deleted_at.is_(None))
    return page_of(session, query, limit, cursor, OperationOut.of)


@router.post("/v1/operations/{operation_id}/retry", status_code=202, response_model=OperationOut)
def retry_operation(
    operation_id: Id, _: PushDeveloper, session: TenantSession, svc: Svc
) -> OperationOut:
    operation = _operation(session, operation_id)
    if operation.status != OperationStatus.failed:
        raise conflict(f"only a failed operation can be retried; this one is {operation.status}")
    operation.status = OperationStatus.pending
    operation.retries += 1  # a fresh provider idempotency key for the new attempt
    operation.error = operation.error_code = None
    operation.error_details = None
    session.commit()
    service.enqueue(svc, operation)
    return OperationOut.of(operation)


@router.post("/v1/operations/{operation_id}/cancel", response_model=OperationOut)
def cancel_operation(operation_id: Id, _: PushDeveloper, session: TenantSession) -> OperationOut:
    operation = _operation(session, operation_id)
    if operation.status != OperationStatus.pending:
        raise conflict(f"only a pending operation can be cancelled; this one is {operation.status}")
    operation.status = OperationStatus.cancelled
    operation.finished_at = utcnow()
    return OperationOut.of(operation)


@router.delete("/v1/operations/{operation_id}", status_code=204)
def delete_operation(operation_id: Id, _: PushDeveloper, session: TenantSession) -> None:
    operation = _operation(session, operation_id)
    if operation.status in (OperationStatus.pending, OperationStatus.running):
        raise ApiError(409, "conflict", "cancel the operation or let it finish first")
    operation.deleted_at = utcnow()
