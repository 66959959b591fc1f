"""Routes: trigger syncs, follow them, read the mirrored records."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ledgerbridge import durable
from ledgerbridge.connections.models import Connection, ConnectionStatus
from ledgerbridge.errors import ApiError, conflict, existing, not_found
from ledgerbridge.mirror.encoding import loads
from ledgerbridge.pagination import Cursor, Limit, Page, id_page
from ledgerbridge.providers import Provider
from ledgerbridge.routing import (
    RecordsViewer,
    Svc,
    SyncAdmin,
    SyncDeveloper,
    SyncViewer,
    built_on_the_loop,
)
from ledgerbridge.schemas import Id
from ledgerbridge.security.principal import Principal, TenantSession, tenant_read
from ledgerbridge.security.roles import Role
from ledgerbridge.sync import service
from ledgerbridge.sync.models import RawObject, Record, SyncRun, SyncState
from ledgerbridge.sync.schemas import (
    RecordOut,
    ScheduleUpdate,
    SyncAccepted,
    SyncRequest,
    SyncRunOut,
    SyncStateOut,
    SyncStatusOut,
)
from ledgerbridge.unified import Model, model_filters, statuses

router = APIRouter(tags=["sync"])
# The provider's own payload carries what the unified model leaves out (names, e-mail and
# postal addresses, free text): only developers and above may read it.
RAW_ROLE = Role.developer
RemoteDataParam = Annotated[
    bool | None,
    Query(
        description="Include the provider's raw payload as `remote_data` (developer role or "
        "higher; a viewer asking for it gets 403). Single-record reads include it by default "
        "for developers and above, never for viewers."
    ),
]


def _connection(session: TenantSession, connection_id: int) -> Connection:
    connection = existing(session.get(Connection, connection_id), "connection")
    return connection


@router.post("/v1/connections/{connection_id}/syncs", status_code=202, response_model=SyncAccepted)
def trigger_sync(
    connection_id: Id,
    body: SyncRequest,
    principal: SyncDeveloper,
    session: TenantSession,
    svc: Svc,
    response: Response,
) -> SyncAccepted:
    connection = _connection(session, connection_id)
    if connection.status != ConnectionStatus.active:
        raise conflict(f"connection {connection.id} is {connection.status}: reconnect it first")
    try:
        run, _ = service.request_sync(
            session,
            connection,
            wanted=body.object_types,
            full_resync=body.full_resync,
            trigger="api",
            requested_by=principal.subject,
        )
    except service.UnknownObjectTypes as exc:
        raise ApiError(422, "unknown_object_types", str(exc)) from None
    durable.accept(response, f"/v1/sync-runs/{run.id}", lambda: service.enqueue(svc, run), session)
    return SyncAccepted(sync_run_id=str(run.id), status=run.status)


@router.get("/v1/sync-runs/{sync_run_id}", response_model=SyncRunOut)
def get_sync_run(sync_run_id: Id, _: SyncViewer, session: TenantSession) -> SyncRunOut:
    run = existing(session.get(SyncRun, sync_run_id), "sync run")
    return SyncRunOut.of(run)


@router.get("/v1/connections/{connection_id}/sync-status", response_model=SyncStatusOut)
def get_sync_status(connection_id: Id, _: SyncViewer, session: TenantSession) -> SyncStatusOut:
    connection = _connection(session, connection_id)
    states = session.scalars(
        select(SyncState)
        .where(SyncState.connection_id == connection.id)
        .order_by(SyncState.object_type)
    ).all()
    return SyncStatusOut(
        connection_id=str(connection.id),
        sync_interval_minutes=connection.sync_interval_minutes,
        sync_paused=connection.sync_paused,
        object_types=[SyncStateOut.of(s) for s in states],
    )


@router.patch("/v1/connections/{connection_id}/sync-schedule", response_model=SyncStatusOut)
def update_sync_schedule(
    connection_id: Id, body: ScheduleUpdate, _: SyncAdmin, session: TenantSession
) -> SyncStatusOut:
    connection = _connection(session, connection_id)
    if body.sync_interval_minutes is not None:
        connection.sync_interval_minutes = body.sync_interval_minutes
    if body.sync_paused is not None:
        connection.sync_paused = body.sync_paused
    session.flush()
    return get_sync_status(connection_id, _, session)


def _record_out(record: Record, raw: RawObject | None) -> RecordOut:
    return RecordOut.of(
        record,
        data=json.loads(record.data),
        remote_data=loads(raw.payload) if raw is not None else None,
    )


PRINTABLE = r"^[^\x00-\x1f\x7f]+$"  # PostgreSQL refuses NUL; no control characters at all


@dataclass(frozen=True)
class RecordFilters:
    """What a records list may be narrowed to, beside the model (each has an index)."""

    status: Annotated[
        str | None,
        Query(
            max_length=32,
            pattern=r"^[a-z_]+$",
            description="The unified status, e.g. `open` (see the model).",
        ),
    ] = None
    contact_remote_id: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=PRINTABLE,
            description="The contact's remote id.",
        ),
    ] = None
    date_from: Annotated[
        date | None,
        Query(
            description="Business date on or after (invoice, credit note and purchase order: "
            "issue date; payment, bank transaction: date; sale: its UTC date)."
        ),
    ] = None
    date_to: Annotated[date | None, Query(description="Business date on or before.")] = None
    currency: Annotated[
        str | None, Query(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. `NZD`.")
    ] = None
    remote_id: Annotated[
        str | None,
        Query(min_length=1, max_length=128, pattern=PRINTABLE, description="The provider's id."),
    ] = None
    updated_since: Annotated[datetime | None, Query()] = None
    include_deleted: bool = False


Filters = Annotated[RecordFilters, Depends(built_on_the_loop(RecordFilters))]


@dataclass(frozen=True)
class RecordPaging:
    include_remote_data: RemoteDataParam = None
    limit: Limit = 50
    cursor: Cursor = None


Paging = Annotated[RecordPaging, Depends(built_on_the_loop(RecordPaging))]


def _invalid(message: str, details: Any = None) -> ApiError:
    return ApiError(422, "validation_error", message, details)


def records_query(model: Model, filters: RecordFilters) -> Select[Record]:
    """The records of ``model`` that ``filters`` lets through; a filter the model has no
    field for, or a value it can never hold, is a 422."""
    query = select(Record).where(Record.model == model.value)
    has = model_filters(model)
    wanted: dict[str, Any] = {
        "status": filters.status,
        "contact_remote_id": filters.contact_remote_id,
        "currency": filters.currency,
    }
    if filters.date_from is not None or filters.date_to is not None:
        wanted["business_date"] = True
    for name, value in wanted.items():
        if value is not None and name not in has:
            shown = "date_from / date_to" if name == "business_date" else name
            raise _invalid(f"{model.value} records have no {shown} to filter on")
    if filters.status is not None:
        allowed = statuses(model)
        if filters.status not in allowed:
            raise _invalid(
                f"{model.value} status is one of {', '.join(allowed)}", {"status": allowed}
            )
        query = query.where(Record.status == filters.status)
    if filters.contact_remote_id is not None:
        query = query.where(Record.contact_remote_id == filters.contact_remote_id)
    if filters.currency is not None:
        query = query.where(Record.currency == filters.currency)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise _invalid("date_from is after date_to")
    if filters.date_from is not None:
        query = query.where(Record.business_date >= filters.date_from)
    if filters.date_to is not None:
        query = query.where(Record.business_date <= filters.date_to)
    if filters.remote_id is not None:
        query = query.where(Record.remote_id == filters.remote_id)
    if filters.updated_since is not None:
        if filters.updated_since.tzinfo is None:
            raise _invalid("updated_since needs a timezone (e.g. Z)")
        query = query.where(Record.updated_at >= filters.updated_since)
    if not filters.include_deleted:
        query = query.where(Record.remote_was_deleted.is_(False))
    return query


def _page(
    session: TenantSession, principal: Principal, query: Select[Record], paging: RecordPaging
) -> Page[RecordOut]:
    with_raw = _wants_remote_data(principal, paging.include_remote_data, default=False)
    rows, next_cursor = id_page(session, query, paging.limit, paging.cursor)
    raws = _raws(session, rows) if with_raw else {}
    return Page(
        data=[_record_out(r, raws.get(r.raw_object_id) if r.raw_object_id else None) for r in rows],
        next_cursor=next_cursor,
    )


@router.get("/v1/connections/{connection_id}/records/{model}", response_model=Page[RecordOut])
async def list_records(
    connection_id: Id,
    model: Model,
    principal: RecordsViewer,
    svc: Svc,
    filters: Filters,
    paging: Paging,
) -> Page[RecordOut]:
    def read(session: Session) -> Page[RecordOut]:
        query = records_query(model, filters).where(Record.connection_id == connection_id)
        page = _page(session, principal, query, paging)
        if not page.data:  # records found are the tenant's, so are their connection's
            _connection(session, connection_id)
        return page

    return await tenant_read(svc.db, principal, read)


@router.get("/v1/records/{model}", response_model=Page[RecordOut])
async def list_tenant_records(
    model: Model,
    principal: RecordsViewer,
    svc: Svc,
    filters: Filters,
    paging: Paging,
    connection_id: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="Only this connection's records.")
    ] = None,
    provider: Annotated[Provider | None, Query(description="Only this provider's.")] = None,
) -> Page[RecordOut]:
    """Records of every connection of the tenant, in one list (same filters and paging)."""

    def read(session: Session) -> Page[RecordOut]:
        query = records_query(model, filters)
        if connection_id is not None:
            query = query.where(Record.connection_id == _connection(session, connection_id).id)
        if provider is not None:
            of_provider = select(Connection.id).where(Connection.provider == provider.value)
            query = query.where(Record.connection_id.in_(of_provider))
        return _page(session, principal, query, paging)

    return await tenant_read(svc.db, principal, read)


def _wants_remote_data(principal: Principal, asked: bool | None, default: bool) -> bool:
    """Whether to include raw payloads: asked for explicitly by a viewer is a 403."""
    allowed = principal.role.allows(RAW_ROLE)
    if asked and not allowed:
        raise ApiError(
            403,
            "forbidden",
            f"raw provider payloads (include_remote_data) need the {RAW_ROLE.value} role or higher",
        )
    return (default if asked is None else asked) and allowed


def _raws(session: TenantSession, rows: list[Record]) -> dict[int, RawObject]:
    ids = [r.raw_object_id for r in rows]
    return {r.id: r for r in session.scalars(select(RawObject).where(RawObject.id.in_(ids)))}


@router.get("/v1/connections/{connection_id}/records/{model}/{record_id}", response_model=RecordOut)
def get_record(
    connection_id: Id,
    model: Model,
    record_id: Id,
    principal: RecordsViewer,
    session: TenantSession,
    include_remote_data: RemoteDataParam = None,
) -> RecordOut:
    with_raw = _wants_remote_data(principal, include_remote_data, default=True)
    record = session.get(Record, record_id)
    if record is None or record.connection_id != connection_id or record.model != model.value:
        raise not_found("record")
    raw = (
        session.get(RawObject, record.raw_object_id) if with_raw and record.raw_object_id else None
    )
    return _record_out(record, raw)
