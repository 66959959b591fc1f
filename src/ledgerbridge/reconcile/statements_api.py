"""Routes: import bank statements (CSV, OFX/QFX, camt.053) and read them back.

An import is all or nothing: a file with one bad line is a 422 naming the line and the
problem, and stores nothing. Importing the same file again (same bytes, same format and
mapping) returns the statement already imported instead of a second copy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import multiprocessing
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import PurePath
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Response, UploadFile
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ledgerbridge.children import start_as_helper
from ledgerbridge.db.base import undeleted, utcnow
from ledgerbridge.db.bulk import bulk_insert
from ledgerbridge.db.engine import Database
from ledgerbridge.db.locks import lock
from ledgerbridge.errors import ApiError, not_found
from ledgerbridge.pagination import Cursor, Limit, Page, page_of
from ledgerbridge.reconcile.models import Statement, StatementEntry
from ledgerbridge.reconcile.schemas import StatementLineOut, StatementOut
from ledgerbridge.reconcile.statements import (
    PRESETS,
    CsvMapping,
    StatementError,
    StatementLine,
    iter_ofx,
    parse_camt053,
    parse_csv,
)
from ledgerbridge.routing import ReconcileDeveloper, ReconcileViewer, Svc
from ledgerbridge.schemas import Id
from ledgerbridge.security.principal import TenantSession
from ledgerbridge.settings import Settings

router = APIRouter(tags=["statements"])
Format = Literal["csv", "ofx", "qfx", "camt053"]
MAX_BYTES = 50 * 1024 * 1024
MAX_ID = 128  # statement_lines.external_id
INSERT_BATCH = 5000
IMPORTS_AT_ONCE = 2  # per API process; more wait their turn
WRITE_PAUSE = 0.002  # seconds between two batches on SQLite
IMPORTER_NICENESS = 10  # below the API process: on a busy machine, answers come first


@functools.cache
def _importers() -> ProcessPoolExecutor:
    """The processes that hash, parse and store uploaded statements, started on the first
    upload. Not threads of the API process: parsing holds the interpreter lock for most
    of an import's CPU seconds, which a thread would take from the event loop (and
    /health) in slices of the switch interval, many times per request. Spawned, not
    forked: a fork would copy the API's threads and open connections mid-use."""
    return ProcessPoolExecutor(
        IMPORTS_AT_ONCE,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_as_helper,
        initargs=(IMPORTER_NICENESS,),
    )


EXTENSIONS: dict[str, Format] = {".csv": "csv", ".ofx": "ofx", ".qfx": "qfx", ".xml": "camt053"}


@router.post("/v1/statements", status_code=201, response_model=StatementOut)
async def import_statement(
    principal: ReconcileDeveloper,
    svc: Svc,
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
    upload = Upload(
        kind=kind,
        data=data,
        mapping=_csv_mapping(kind, preset, mapping),
        mapping_text=mapping or preset or "",
        currency=currency,
        name=name or file.filename or "statement",
        filename=(file.filename or "")[:255] or None,
    )
    # Hashing, parsing and storing take seconds for a large file: in another process,
    # so that every other request (and /health) is answered meanwhile; and a few at a
    # time, so that a burst of uploads cannot take every core.
    try:
        outcome = await asyncio.get_running_loop().run_in_executor(
            _importers(),
            import_upload,
            svc.settings,
            principal.tenant_id,
            principal.subject,
            upload,
        )
    except BrokenProcessPool:
        _importers.cache_clear()  # an importer died (killed?): start afresh next time
        raise
    if isinstance(outcome, Refusal):
        raise ApiError(outcome.status, outcome.code, outcome.message, outcome.details)
    statement, created = outcome
    if created:
        response.headers["Location"] = f"/v1/statements/{statement.id}"
    else:
        response.status_code = 200
    return statement


@dataclass(frozen=True)
class Upload:
    kind: Format
    data: bytes
    mapping: CsvMapping | str | None
    mapping_text: str
    currency: str | None
    name: str
    filename: str | None


@dataclass(frozen=True)
class Refusal:
    """An ApiError as it crosses back from an importer process."""

    status: int
    code: str
    message: str
    details: Any


def import_upload(
    settings: Settings, tenant: str, subject: str, upload: Upload
) -> tuple[StatementOut, bool] | Refusal:
    """In an importer process: ``store_upload`` on a database connection of its own."""
    db = Database.connect(settings)
    try:
        statement, created = store_upload(db, tenant, subject, upload)
        return StatementOut.of(statement), created
    except ApiError as exc:
        return Refusal(exc.status, exc.code, exc.message, exc.details)
    finally:
        db.dispose()


def store_upload(db: Database, tenant: str, subject: str, upload: Upload) -> tuple[Statement, bool]:
    """The statement of ``upload`` and whether it was imported just now (False: the same
    file was imported before). The file is parsed with no transaction open, a batch of
    lines at a time, and each batch is stored by one set-based insert in a short
    transaction of its own: a large file never holds SQLite's write lock (or a
    PostgreSQL connection) for longer than one batch, so other tenants' writes proceed
    in between. Until its last line is stored the statement is hidden (as a deleted one
    is), so an import is still all or nothing: a bad line, a crash or a concurrent
    import of the same file leaves nothing visible."""
    # Fed in parts, not joined first: a copy of 50 MiB would hold the interpreter lock,
    # while hashing a large buffer releases it.
    hasher = hashlib.sha256(b"|".join([upload.kind.encode(), upload.mapping_text.encode(), b""]))
    hasher.update(upload.data)
    digest = hasher.hexdigest()
    with db.tenant(tenant, read_only=True) as session:
        existing = _imported(session, digest)
    if existing is not None:
        return existing, False
    with db.tenant(tenant) as session:
        hidden = Statement(
            tenant_id=tenant,
            name=upload.name,
            format="ofx" if upload.kind == "qfx" else upload.kind,
            filename=upload.filename,
            content_hash=digest,
            line_count=0,
            currencies=[],
            imported_by=subject,
            deleted_at=utcnow(),  # hidden until every line is stored
        )
        session.add(hidden)
        session.flush()
        statement_id = hidden.id
    summary = _Summary()
    try:
        for batch in _batches(_parse(upload.kind, upload.data, upload.mapping, upload.currency)):
            summary.add(batch)
            with db.tenant(tenant) as session:
                insert_lines(session, tenant, statement_id, batch)
            if db.is_sqlite:
                time.sleep(WRITE_PAUSE)  # let writers waiting for the lock in first
        return _publish(db, tenant, statement_id, digest, summary)
    except BaseException:
        _discard(db, tenant, statement_id)
        raise


class _Summary:
    """What the statement row records of its lines, gathered batch by batch; and the
    check that no transaction id repeats (as stored, truncated)."""

    def __init__(self) -> None:
        self.count = 0
        self.currencies: set[str] = set()
        self.first: dt.date | None = None
        self.last: dt.date | None = None
        self.ids: dict[str, int] = {}

    def add(self, batch: list[StatementLine]) -> None:
        ids = self.ids
        for line in batch:
            stored = line.id[:MAX_ID]
            if stored in ids:
                raise ApiError(
                    422,
                    "invalid_statement",
                    f"the statement was not imported: line {line.line}: transaction id "
                    f"{line.id!r} repeats the one on line {ids[stored]}",
                    {"line": line.line, "problem": "repeated transaction id"},
                )
            ids[stored] = line.line
        self.count += len(batch)
        self.currencies.update(line.currency for line in batch)
        dates = [line.date for line in batch]
        if dates:
            low, high = min(dates), max(dates)
            self.first = low if self.first is None else min(self.first, low)
            self.last = high if self.last is None else max(self.last, high)


def _batches(lines: Iterable[StatementLine]) -> Iterator[list[StatementLine]]:
    batch: list[StatementLine] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= INSERT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _publish(
    db: Database, tenant: str, statement_id: int, digest: str, summary: _Summary
) -> tuple[Statement, bool]:
    with db.tenant(tenant) as session:
        # Imports of one file take turns here: the second finds the first's statement.
        lock(session, f"statement:{tenant}:{digest}")
        existing = _imported(session, digest)
        if existing is None:
            statement = session.get(Statement, statement_id)
            assert statement is not None
            statement.line_count = summary.count
            statement.currencies = sorted(summary.currencies)
            statement.first_date, statement.last_date = summary.first, summary.last
            statement.deleted_at = None
            return statement, True
    _discard(db, tenant, statement_id)
    return existing, False


def _discard(db: Database, tenant: str, statement_id: int) -> None:
    """Remove a hidden statement's lines (a batch per transaction) and then itself."""
    while True:
        with db.tenant(tenant) as session:
            ids = (
                select(StatementEntry.id)
                .where(StatementEntry.statement_id == statement_id)
                .limit(INSERT_BATCH)
            )
            result = session.execute(
                delete(StatementEntry).where(StatementEntry.id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
            removed: int = result.rowcount  # type: ignore[attr-defined]
        if not removed:
            break
    with db.tenant(tenant) as session:
        session.execute(delete(Statement).where(Statement.id == statement_id))


def insert_lines(
    session: Session, tenant: str, statement_id: int, lines: list[StatementLine]
) -> None:
    """Store ``lines`` with one set-based statement (COPY FROM is refused on tables with
    row-level security, so PostgreSQL gets one INSERT ... SELECT FROM unnest)."""
    bulk_insert(
        session,
        StatementEntry,
        (
            {
                "tenant_id": tenant,
                "statement_id": statement_id,
                "line": line.line,
                "external_id": line.id[:MAX_ID],
                "booked_on": line.date,
                "value_date": line.value_date,
                "amount": str(line.amount),
                "currency": line.currency,
                "description": line.description,
                "reference": line.reference[:255] if line.reference else None,
                "counterparty": line.counterparty[:255] if line.counterparty else None,
            }
            for line in lines
        ),
    )


def _imported(session: Session, digest: str) -> Statement | None:
    return session.scalars(undeleted(Statement).where(Statement.content_hash == digest)).first()


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
) -> Iterator[StatementLine]:
    """The file's lines as they are read; a bad one ends the import with a 422."""
    try:
        if kind == "csv":
            assert mapping is not None
            yield from parse_csv(data, mapping, currency=currency)
        elif kind == "camt053":
            yield from parse_camt053(data)
        else:
            yield from iter_ofx(data)
    except StatementError as exc:
        raise ApiError(
            422,
            "invalid_statement",
            f"the statement was not imported: {exc}",
            {"line": exc.line, "problem": exc.problem},
        ) from None


@router.get("/v1/statements", response_model=Page[StatementOut])
def list_statements(
    _: ReconcileViewer, session: TenantSession, limit: Limit = 50, cursor: Cursor = None
) -> Page[StatementOut]:
    return page_of(session, undeleted(Statement), limit, cursor, StatementOut.of)


def _statement(session: TenantSession, statement_id: int) -> Statement:
    statement = session.get(Statement, statement_id)
    if statement is None or statement.deleted_at is not None:
        raise not_found("statement")
    return statement


@router.get("/v1/statements/{statement_id}", response_model=StatementOut)
def get_statement(statement_id: Id, _: ReconcileViewer, session: TenantSession) -> StatementOut:
    return StatementOut.of(_statement(session, statement_id))


@router.get("/v1/statements/{statement_id}/lines", response_model=Page[StatementLineOut])
def list_statement_lines(
    statement_id: Id,
    _: ReconcileViewer,
    session: TenantSession,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[StatementLineOut]:
    statement = _statement(session, statement_id)
    query = select(StatementEntry).where(StatementEntry.statement_id == statement.id)
    return page_of(session, query, limit, cursor, StatementLineOut.of)


@router.delete("/v1/statements/{statement_id}", status_code=204)
def delete_statement(statement_id: Id, _: ReconcileDeveloper, session: TenantSession) -> Response:
    """Soft delete: later runs of jobs reading it fail with a clear message."""
    _statement(session, statement_id).deleted_at = utcnow()
    return Response(status_code=204)
