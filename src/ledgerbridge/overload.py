"""Graceful overload: a bounded number of requests at work, a bounded wait for the rest.

Requests past the concurrency the database pool can serve wait their turn here, on the
event loop where waiting costs nothing, instead of in the thread pool and then for a
pooled connection. A request that cannot start within ``api_queue_seconds`` (or finds
the queue full) is answered at once with 503 and ``Retry-After``, in the one error shape.
Liveness, readiness and metrics never queue. The thread pool and the database pool are
sized from the same setting (``api_concurrency``, by default the pool size), so a request
that has started never waits for either; if a connection still cannot be had in time,
that too is a 503.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Receive, Scope, Send

from ledgerbridge.errors import ApiError, error_response
from ledgerbridge.settings import Settings

UNQUEUED = frozenset({"/health", "/ready", "/metrics"})
RETRY_AFTER_SECONDS = 2
log = structlog.get_logger(__name__)


@dataclass
class _Slot:
    slots: asyncio.Semaphore
    held: bool = True


_slot: ContextVar[_Slot | None] = ContextVar("admission_slot", default=None)


@asynccontextmanager
async def outside_admission() -> AsyncIterator[None]:
    """Give this request's slot back while it waits on something that is not work here
    (a slow JWKS), so that waiting callers never keep others from being served."""
    slot = _slot.get()
    if slot is None or not slot.held:
        yield
        return
    slot.slots.release()
    slot.held = False
    try:
        yield
    finally:
        await slot.slots.acquire()
        slot.held = True


def thread_pool_size(settings: Settings) -> int:
    """Threads for sync routes: a route and its sync dependencies (the tenant transaction)
    may each take one, with room for the requests just finishing."""
    return settings.request_concurrency * 2 + 8


def size_thread_pool(settings: Settings) -> None:
    """Called on the event loop at start-up: anyio's limiter for sync routes."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = thread_pool_size(settings)


class Admission:
    """At most ``limit`` requests at work; up to ``queue`` more wait at most ``wait`` s."""

    def __init__(self, app: ASGIApp, limit: int, queue: int, wait: float) -> None:
        self.app, self.limit, self.queue, self.wait = app, limit, queue, wait
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(limit)
        self.waiting = 0

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new server (or test client) runs a new event loop
            self._loop, self._slots, self.waiting = loop, asyncio.Semaphore(self.limit), 0
        return self._slots

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNQUEUED:
            await self.app(scope, receive, send)
            return
        slots = self._semaphore()
        if slots.locked():
            if self.waiting >= self.queue:
                await _shed(scope, receive, send, "too many requests are waiting")
                return
            self.waiting += 1
            try:
                await asyncio.wait_for(slots.acquire(), self.wait)
            except TimeoutError:
                await _shed(scope, receive, send, f"no capacity within {self.wait:g}s")
                return
            finally:
                self.waiting -= 1
        else:
            await slots.acquire()
        slot = _Slot(slots)
        token = _slot.set(slot)
        try:
            await self.app(scope, receive, send)
        finally:
            _slot.reset(token)
            if slot.held:
                slots.release()


async def _shed(scope: Scope, receive: Receive, send: Send, why: str) -> None:
    log.warning("request shed", path=scope["path"], reason=why)
    response = _overloaded(f"the service is at capacity ({why}); retry shortly")
    await response(scope, receive, send)


def _overloaded(message: str) -> JSONResponse:
    return error_response(
        ApiError(503, "overloaded", message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    )


def install_overload_handlers(app: FastAPI) -> None:
    """A pooled connection not had in time, or SQLite's write lock not had in time, is a
    503 to retry, not a 500."""

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(_request: Request, _exc: PoolTimeout) -> JSONResponse:
        return _overloaded("no database connection was free in time; retry shortly")

    @app.exception_handler(OperationalError)
    async def _operational(request: Request, exc: OperationalError) -> JSONResponse:
        if "database is locked" in str(exc.orig):
            return _overloaded("the database was busy for too long; retry shortly")
        handler: Any = app.exception_handlers[Exception]
        response: JSONResponse = await handler(request, exc)
        return response
