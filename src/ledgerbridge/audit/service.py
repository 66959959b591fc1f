"""Recording provider calls, with what they were for, and pruning old ones.

The HTTP transport of every provider client records each attempt (``record``); the code
that makes the call says what it is for by wrapping it in ``calls_for(...)``. Bodies are
redacted (tokens, secrets, authorization) and capped before they are stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import httpx
from sqlalchemy import delete

from ledgerbridge.audit.models import ProviderCall
from ledgerbridge.db.engine import Database
from ledgerbridge.observability.logging import redact, redact_text

MAX_BODY = 64 * 1024
REQUEST_ID_HEADERS = ("xero-correlation-id", "intuit_tid", "x-request-id", "x-correlation-id")


@dataclass(frozen=True)
class Purpose:
    tenant_id: str
    connection_id: int | None
    entity_type: str | None = None
    entity_id: str | None = None
    operation_id: int | None = None
    attempt: int = 1


_purpose: ContextVar[Purpose | None] = ContextVar("audit_purpose", default=None)


@contextmanager
def calls_for(purpose: Purpose) -> Iterator[None]:
    token = _purpose.set(purpose)
    try:
        yield
    finally:
        _purpose.reset(token)


def current_purpose() -> Purpose | None:
    return _purpose.get()


def with_attempt(purpose: Purpose, attempt: int) -> Purpose:
    return replace(purpose, attempt=attempt)


def _body(content: bytes | None) -> str | None:
    if not content:
        return None
    text = content[:MAX_BODY].decode("utf-8", errors="replace")
    try:
        return json.dumps(redact(json.loads(text)), ensure_ascii=False)
    except ValueError:
        # Form bodies (token calls) and anything else: redact secrets in place.
        return redact_text(text)


def record(
    db: Database,
    purpose: Purpose,
    request: httpx.Request,
    response: httpx.Response | None,
    error: str | None,
    duration_ms: int,
) -> None:
    request_id = None
    if response is not None:
        request_id = next(
            (response.headers[h] for h in REQUEST_ID_HEADERS if h in response.headers), None
        )
    with db.system() as session:
        session.add(
            ProviderCall(
                tenant_id=purpose.tenant_id,
                connection_id=purpose.connection_id,
                entity_type=purpose.entity_type,
                entity_id=purpose.entity_id,
                operation_id=purpose.operation_id,
                attempt=purpose.attempt,
                method=request.method,
                path=redact_text(str(request.url.copy_with(query=None)))[:2000] + _query(request),
                request_body=_body(_content(request)),
                response_body=_body(response.content) if response is not None else None,
                status=response.status_code if response is not None else None,
                error=redact_text(error) if error else None,
                duration_ms=duration_ms,
                provider_request_id=request_id,
            )
        )


def _content(request: httpx.Request) -> bytes | None:
    try:
        return request.content
    except httpx.RequestNotRead:
        return None


def _query(request: httpx.Request) -> str:
    query = request.url.query.decode()
    return f"?{redact_text(query)}"[:1000] if query else ""


def prune(db: Database, older_than: timedelta, now: datetime) -> int:
    with db.system() as session:
        result = session.execute(
            delete(ProviderCall).where(ProviderCall.created_at < now - older_than)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
