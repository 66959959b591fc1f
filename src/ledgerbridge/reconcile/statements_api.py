"""Routes: import bank statements (CSV, OFX/QFX, camt.053) and read them back.

An import is all or nothing: a file with one bad line is a 422 naming the line and the
problem, and stores nothing. Importing the same file again (same bytes, same format and
mapping) returns the statement already imported instead of a second copy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import PurePath
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Response, UploadFile
from pydantic import ValidationError
from sqlalchemy import insert, select

from ledgerbridge.db.base import utcnow
from ledgerbridge.errors import ApiError, not_found
from ledgerbridge.pagination import Cursor, Limit, Page, id_page
from ledgerbridge.reconcile.models import Statement, StatementEntry
from ledgerbridge.reconcile.schemas import StatementLineOut, StatementOut
from ledgerbridge.reconcile.statements import (
    PRESETS,
    CsvMapping,
    StatementError,
    StatementLine,
    parse_camt053,
    parse_csv,
    parse_ofx,
)
from ledgerbridge.security.principal import Principal, TenantSession, requires
from ledgerbridge.security.roles import Role, Scope

router = APIRouter(tags=["statements"])
Developer = Annotated[Principal, Depends(requires(Role.developer, Scope.reconcile))]
Viewer = Annotated[Principal, Depends(requires(Role.viewer, Scope.reconcile))]
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
Format = Literal["csv", "ofx", "qfx", "camt053"]
MAX_BYTES = 50 * 1024 * 1024
EXTENSIONS: dict[str, Format] = {".csv": "csv", ".ofx": "ofx", ".qfx": "qfx", ".xml": "camt053"}


@router.post("/v1/statements", status_code=201, response_model=StatementOut)
async def import_statement(
    principal: Developer,
    session: TenantSession,
    response: Response,
    file: Annotated[
        UploadFile,
        # format: binary tells client generators to send a file (OpenAPI 3.0 style).
        File(description="the statement file", json_schema_extra={"format": "binary"}),
    ],
    format: Annotated[
        Format | None, Form(description="csv, ofx, qfx or camt053; by default from the file name")
    ] = None,
    name: Annotated[str | None, Form(max_length=200)] = None,
    preset: Annotated[
        str | None, Form(description=f"CSV column preset: {', '.join(PRESETS)}")
    ] = None,
    mapping: Annotated[
        str | None, Form(max_length=10_000, description="CSV column mapping, as JSON")
    ] = None,
    currency: Annotated[
        str | None, Form(pattern=r"^[A-Z]{3}$", description="CSV: when no column holds it")
    ] = None,
) -> StatementOut:
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ApiError(413, "too_large", f"a statement may be at most {MAX_BYTES // 2**20} MiB")
    kind = format or _format_from_name(file.filename)
    csv_mapping = _csv_mapping(kind, preset, mapping)
    digest = hashlib.sha256(
        b"|".join([kind.encode(), (mapping or preset or "").encode(), data])
    ).hexdigest()
    existing = session.scalars(
        select(Statement).where(Statement.content_hash == digest, Statement.deleted_at.is_(None))
    ).first()
    if existing is not None:
        response.status_code = 200
        return StatementOut.of(existing)
    lines = _parse(kind, data, csv_mapping, currency)
    _require_unique_ids(lines)
    statement = Statement(
        tenant_id=principal.tenant_id,
        name=name or file.filename or "statement",
        format="ofx" if kind == "qfx" else kind,
        filename=(file.filename or "")[:255] or None,
        content_hash=digest,
        line_count=len(lines),
        currencies=sorted({line.currency for line in lines}),
        first_date=min((line.date for line in lines), default=None),
        last_date=max((line.date for line in lines), default=None),
        imported_by=principal.subject,
    )
    session.add(statement)
    session.flush()
    if lines:
        session.execute(
            insert(StatementEntry),
            [
                {
                    "tenant_id": principal.tenant_id,
                    "statement_id": statement.id,
                    "line": line.line,
                    "external_id": line.id[:128],
                    "booked_on": line.date,
                    "value_date": line.value_date,
                    "amount": str(line.amount),
                    "currency": line.currency,
                    "description": line.description,
                    "reference": line.reference[:255] if line.reference else None,
                    "counterparty": line.counterparty[:255] if line.counterparty else None,
                }
                for line in lines
            ],
        )
    response.headers["Location"] = f"/v1/statements/{statement.id}"
    return StatementOut.of(statement)


def _format_from_name(filename: str | None) -> Format:
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in EXTENSIONS:
        raise ApiError(
            422, "unknown_format", "say which format the file is: format=csv, ofx, qfx or camt053"
        )
    return EXTENSIONS[suffix]


def _csv_mapping(kind: Format, preset: str | None, mapping: str | None) -> CsvMapping | str | None:
    if kind != "csv":
        if preset or mapping:
            raise ApiError(422, "validation_error", "preset and mapping apply to CSV files only")
        return None
    if (preset is None) == (mapping is None):
        raise ApiError(
            422,
            "validation_error",
            f"a CSV statement needs either a preset ({', '.join(PRESETS)}) or a mapping",
        )
    if preset is not None:
        if preset not in PRESETS:
            raise ApiError(
                422, "validation_error", f"unknown preset {preset!r}; known: {', '.join(PRESETS)}"
            )
        return preset
    try:
        return CsvMapping.model_validate(json.loads(mapping or ""))
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        problems = "; ".join(e["msg"] for e in errors)
        raise ApiError(
            422,
            "validation_error",
            f"mapping is not a valid CSV column mapping: {problems}",
            errors,
        ) from None
    except ValueError:
        raise ApiError(422, "validation_error", "mapping is not valid JSON") from None


def _parse(
    kind: Format, data: bytes, mapping: CsvMapping | str | None, currency: str | None
) -> list[StatementLine]:
    try:
        if kind == "csv":
            assert mapping is not None
            return parse_csv(data, mapping, currency=currency)
        if kind == "camt053":
            return parse_camt053(data)
        return parse_ofx(data)
    except StatementError as exc:
        raise ApiError(
            422,
            "invalid_statement",
            f"the statement was not imported: {exc}",
            {"line": exc.line, "problem": exc.problem},
        ) from None


def _require_unique_ids(lines: list[StatementLine]) -> None:
    first: dict[str, int] = {}
    for line in lines:
        if line.id in first:
            raise ApiError(
                422,
                "invalid_statement",
                f"the statement was not imported: line {line.line}: transaction id "
                f"{line.id!r} repeats the one on line {first[line.id]}",
                {"line": line.line, "problem": "repeated transaction id"},
            )
        first[line.id] = line.line


@router.get("/v1/statements", response_model=Page[StatementOut])
def list_statements(
    _: Viewer, session: TenantSession, limit: Limit = 50, cursor: Cursor = None
) -> Page[StatementOut]:
    query = select(Statement).where(Statement.deleted_at.is_(None))
    rows, next_cursor = id_page(session, query, limit, cursor)
    return Page(data=[StatementOut.of(s) for s in rows], next_cursor=next_cursor)


def _statement(session: TenantSession, statement_id: int) -> Statement:
    statement = session.get(Statement, statement_id)
    if statement is None or statement.deleted_at is not None:
        raise not_found("statement")
    return statement


@router.get("/v1/statements/{statement_id}", response_model=StatementOut)
def get_statement(statement_id: Id, _: Viewer, session: TenantSession) -> StatementOut:
    return StatementOut.of(_statement(session, statement_id))


@router.get("/v1/statements/{statement_id}/lines", response_model=Page[StatementLineOut])
def list_statement_lines(
    statement_id: Id,
    _: Viewer,
    session: TenantSession,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[StatementLineOut]:
    statement = _statement(session, statement_id)
    query = select(StatementEntry).where(StatementEntry.statement_id == statement.id)
    rows, next_cursor = id_page(session, query, limit, cursor)
    return Page(data=[StatementLineOut.of(line) for line in rows], next_cursor=next_cursor)


@router.delete("/v1/statements/{statement_id}", status_code=204)
def delete_statement(statement_id: Id, _: Developer, session: TenantSession) -> Response:
    """Soft delete: later runs of jobs reading it fail with a clear message."""
    _statement(session, statement_id).deleted_at = utcnow()
    return Response(status_code=204)
