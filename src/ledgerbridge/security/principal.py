"""The caller of a request, and the FastAPI dependencies that demand a role and a scope."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ledgerbridge.db.base import utcnow
from ledgerbridge.db.engine import Database
from ledgerbridge.errors import ApiError
from ledgerbridge.security import apikeys
from ledgerbridge.security.roles import Role, Scope
from ledgerbridge.security.tokens import InvalidToken, TokenVerifier
from ledgerbridge.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    subject: str  # the host app's user, or "api-key:<id>"
    role: Role
    scopes: frozenset[Scope] | None  # None: every area
    expires_at: datetime | None = None  # an API key's own expiry


@dataclass
class Gate:
    """What telling callers apart needs, built once per app (``app.py``)."""

    db: Database
    settings: Settings
    verifier: TokenVerifier
    _key_uses: apikeys.KeyUses | None = field(default=None, init=False)

    @classmethod
    def build(cls, db: Database, settings: Settings) -> Gate:
        return cls(db, settings, TokenVerifier(settings))

    @property
    def key_uses(self) -> apikeys.KeyUses:
        if self._key_uses is None:  # again after close: an app may be started again
            self._key_uses = apikeys.KeyUses(self.db)
        return self._key_uses

    @property
    def secret_key(self) -> str:
        assert self.settings.secret_key is not None  # load_settings guarantees one
        return self.settings.secret_key.get_secret_value()

    def close(self) -> None:
        if self._key_uses is not None:
            self._key_uses.close()
            self._key_uses = None


async def gate(request: Request) -> Gate:
    # Async, as ``services.services``: no trip through the thread pool for a lookup.
    found: Gate = request.app.state.gate
    return found


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


_bearer = HTTPBearer(auto_error=False, description="A JWT issued by the host app.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="A ledgerbridge API key.")


def _verify_key(found: Gate, presented: str) -> apikeys.VerifiedKey | None:
    with found.db.system(read_only=True) as session:
        return apikeys.verify(session, secret_keys=found.settings.secret_keys, presented=presented)


async def authenticate(
    request: Request,
    found: Annotated[Gate, Depends(gate)],
    _bearer_doc: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _key_doc: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    # The two security dependencies document the schemes in OpenAPI; the headers are read
    # here so that a malformed Authorization header is a clear 401, not a silent anonymous.
    # Async: a JWT waiting for the JWKS holds no thread; API keys are read in the pool.
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization must be 'Bearer <JWT>'")
        try:
            claims = await found.verifier.verify_async(token.strip())
        except InvalidToken as exc:
            raise _unauthorized(f"invalid token: {exc}") from None
        return Principal(claims.tenant_id, claims.subject, claims.role, None)
    if api_key:
        used = await run_in_threadpool(_verify_key, found, api_key)
        if used is None:
            raise _unauthorized("invalid, revoked or expired API key")
        found.key_uses.record(used, utcnow())  # by another thread, in its own transaction
        row = used.row
        scopes = frozenset(Scope(s) for s in row.scopes) or None
        return Principal(row.tenant_id, f"api-key:{row.id}", Role(row.role), scopes, row.expires_at)
    raise _unauthorized("missing credentials: send 'Authorization: Bearer <JWT>' or 'X-API-Key'")


def requires(role: Role, scope: Scope) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that admits callers with at least ``role`` and access to ``scope``."""

    # Async: a few comparisons, not worth a trip through the thread pool.
    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.role.allows(role):
            raise ApiError(403, "forbidden", f"this action needs the {role.value} role or higher")
        if principal.scopes is not None and scope not in principal.scopes:
            raise ApiError(403, "forbidden", f"this API key lacks the {scope.value!r} scope")
        return principal

    return check


async def tenant_session(
    request: Request,
    principal: Annotated[Principal, Depends(authenticate)],
    found: Annotated[Gate, Depends(gate)],
) -> AsyncIterator[Session]:
    """A transaction that sees only the caller's tenant, committed when the route returns.

    A read begins lazily (no connection is taken until the route, in its worker thread,
    first queries), so it is opened here on the event loop; a write takes SQLite's write
    lock as it begins, so it is opened in the thread pool. Either ends in the pool."""
    read_only = request.method in ("GET", "HEAD")
    transaction = found.db.tenant(principal.tenant_id, read_only=read_only)
    if read_only:
        session = transaction.__enter__()
    else:
        session = await run_in_threadpool(transaction.__enter__)
    failed = True
    try:
        yield session
        failed = False
    finally:
        raised = sys.exc_info() if failed else (None, None, None)
        await run_in_threadpool(transaction.__exit__, *raised)


TenantSession = Annotated[Session, Depends(tenant_session)]


async def tenant_read(db: Database, principal: Principal, read: Callable[[Session], T]) -> T:
    """``read`` in a read-only transaction of the caller's tenant that begins and ends in
    one trip to the thread pool. For the hottest reads (the records lists): a route taking
    ``TenantSession`` makes a second trip to end its transaction, which under a crowd of
    clients cost about a fifth of the request's CPU."""

    def run() -> T:
        with db.tenant(principal.tenant_id, read_only=True) as session:
            return read(session)

    return await run_in_threadpool(run)
