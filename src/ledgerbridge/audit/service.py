"""Recording provider calls, with what they were for, and pruning old ones.

The HTTP transport of every provider client records each attempt (``record``); the code
that makes the call says what it is for by wrapping it in ``calls_for(...)``. Calls to
token endpoints are collected while they happen and recorded afterwards (``record_calls``).
Bodies are redacted (tokens, secrets, authorization) and capped before they are stored;
headers are never stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import httpx

from ledgerbridge.audit.models import ProviderCall
from ledgerbridge.db.engine import Database
from ledgerbridge.db.retention import delete_in_batches
from ledgerbridge.observability.logging import REDACTED, redact, redact_text
from ledgerbridge.providers.oauth import Call

MAX_BODY = 64 * 1024
REQUEST_ID_HEADERS = ("xero-correlation-id", "intuit_tid", "x-request-id", "x-correlation-id")
# The only form fields (OAuth token requests) whose values are kept; every other value —
# code, code_verifier, refresh_token, token, client_secret, assertions — is redacted.
PLAIN_FORM_FIELDS = frozenset(
    {"grant_type", "redirect_uri", "scope", "token_type_hint", "client_id"}
)


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


def _body(content: bytes | None, content_type: str | None) -> str | None:
    if not content:
        return None
    text = content[:MAX_BODY].decode("utf-8", errors="replace")
    if content_type and content_type.startswith("application/x-www-form-urlencoded"):
        fields = parse_qsl(text, keep_blank_values=True)
        kept = [(k, v if k in PLAIN_FORM_FIELDS else REDACTED) for k, v in fields]
        return urlencode(kept, safe="[]/:")
    try:
        return json.dumps(redact(json.loads(text)), ensure_ascii=False)
    except ValueError:
        return redact_text(text)


def _row(
    purpose: Purpose,
    request: httpx.Request,
    response: httpx.Response | None,
    error: str | None,
    duration_ms: int,
) -> ProviderCall:
    request_id = None
    if response is not None:
        request_id = next(
            (response.headers[h] for h in REQUEST_ID_HEADERS if h in response.headers), None
        )
    return ProviderCall(
        **asdict(purpose),  # whose call it was: the row has a column for each field
        method=request.method,
        path=redact_text(str(request.url.copy_with(query=None)))[:2000] + _query(request),
        request_body=_body(_content(request), request.headers.get("content-type")),
        response_body=_body(response.content, response.headers.get("content-type"))
        if response is not None
        else None,
        status=response.status_code if response is not None else None,
        error=redact_text(error) if error else None,
        duration_ms=duration_ms,
        provider_request_id=request_id,
    )


def record(
    db: Database,
    purpose: Purpose,
    request: httpx.Request,
    response: httpx.Response | None,
    error: str | None,
    duration_ms: int,
) -> None:
    with db.system() as session:
        session.add(_row(purpose, request, response, error, duration_ms))


def record_calls(db: Database, purpose: Purpose, calls: Sequence[Call]) -> None:
    """Record calls collected while they happened, numbered as attempts in their order."""
    if not calls:
        return
    with db.system() as session:
        session.add_all(
            _row(with_attempt(purpose, n), c.request, c.response, c.error, c.duration_ms)
            for n, c in enumerate(calls, start=1)
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
    """Delete calls recorded before ``now - older_than``, in batches."""
    return delete_in_batches(db, ProviderCall, ProviderCall.created_at < now - older_than)
