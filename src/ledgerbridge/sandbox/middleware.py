"""The path every provider request takes: rate limits, then faults, then the route; logged.

An answer that makes scheduled changes due (``scheduled.py``) makes them before it is sent.

It wraps the whole application, outside Starlette's error handling, so that it sees the
server's own ``send`` (needed to drop a connection without answering) and records the
500 of a failing route like any other status. Control calls (``/_sandbox``) pass
straight through: they are neither limited, faulted nor logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_plus

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledgerbridge.sandbox.faults import (
    BAD_BODIES,
    REWRITES,
    bad_body,
    fault_response,
    rewritten_answer,
)
from ledgerbridge.sandbox.ledger import LedgerEntry
from ledgerbridge.sandbox.providers import make_change
from ledgerbridge.sandbox.ratelimits import limit_headers, limits_for, too_many_requests
from ledgerbridge.sandbox.routing import Target, classify
from ledgerbridge.sandbox.state import SandboxState
from ledgerbridge.sandbox.tokens import bearer_token

GRANT_TYPE_KEY = "sandbox_grant_type"  # token routes put the grant_type here in request.state


class SandboxMiddleware:
    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path: str = scope["path"]
        target = classify(path, headers.get("xero-tenant-id"))
        if target.provider is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})
        status = 0

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if target.surface == "api" and 200 <= status < 300:
                    self._make_scheduled_changes(target, path, scope)
            await send(message)

        fault: str | None = None

        async def answer(send_answer: Send) -> None:
            nonlocal fault
            fault = await self._inject_faults(target, path, scope, receive, send, send_answer)
            if fault is None:
                await self.app(scope, receive, send_answer)

        try:
            await self._within_limits(target, headers, scope, receive, record_status, answer)
        finally:  # a failing route still answered 500, and is logged as such
            self.state.ledger.record(
                LedgerEntry(
                    at_ms=self.state.clock.time_ms(),
                    method=scope["method"],
                    path=path,
                    query=scope["query_string"].decode("latin-1"),
                    provider=target.provider,
                    account=target.account,
                    status=status,
                    grant_type=scope["state"].get(GRANT_TYPE_KEY),
                    fault=fault,
                )
            )

    def _make_scheduled_changes(self, target: Target, path: str, scope: Scope) -> None:
        """The changes this answer makes due, made before it is sent (``scheduled.py``)."""
        assert target.provider is not None
        request = f"{path}?{unquote_plus(scope['query_string'].decode('latin-1'))}"
        for change in self.state.scheduled.due(target.provider, target.account, request):
            make_change(self.state, change)

    async def _inject_faults(
        self, target: Target, path: str, scope: Scope, receive: Receive, raw_send: Send, send: Send
    ) -> str | None:
        """Apply the faults drawn for this request; the kind of the one that answered, if any."""
        injection = self.state.faults.pick(target, path)
        if injection.latency_ms:
            await asyncio.sleep(injection.latency_ms / 1000)
        rule = injection.failure
        if rule is None:
            return None
        if rule.kind == "drop":
            await _drop_connection(receive, raw_send)
        elif rule.kind in BAD_BODIES:
            await bad_body(rule, receive, send)
        elif rule.kind in REWRITES:
            await rewritten_answer(rule, self.app, scope, receive, send)
        else:
            assert target.provider is not None
            now = self.state.clock.time_ms()
            response = fault_response(rule, target.provider, self.state.settings, now)
            await response(scope, receive, send)
        return rule.kind

    async def _within_limits(
        self,
        target: Target,
        headers: Headers,
        scope: Scope,
        receive: Receive,
        send: Send,
        answer: Callable[[Send], Awaitable[None]],
    ) -> None:
        """Answer with the provider's 429 when over a limit; else let ``answer`` run, holding a
        place among the calls in flight (so injected latency counts toward concurrency)."""
        state = self.state
        if target.surface != "api" or target.account is None or not state.settings.rate_limits:
            await answer(send)
            return
        assert target.provider is not None
        grant = state.tokens.grant_of(target.provider, bearer_token(headers.get("authorization")))
        account = state.store.account(target.provider, target.account)
        limits = limits_for(
            state.settings,
            target.provider,
            target.account,
            grant.client_id if grant else None,
            account.registers if account else 1,
        )
        now = state.clock.time_ms()
        verdict = state.limits.admit(limits, now)
        if verdict.rejected is not None:
            response = too_many_requests(
                target.provider,
                verdict.rejected.problem,
                verdict.retry_after_seconds,
                state.settings,
                now,
                limits,
            )
            await response(scope, receive, send)
            return
        extra = [
            (k.encode(), v.encode())
            for k, v in limit_headers(target.provider, verdict, limits).items()
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await answer(send_with_headers)
        finally:
            state.limits.release(verdict)


async def _drop_connection(receive: Receive, send: Send) -> None:
    """Close the socket without a response, as a failing proxy or network would.

    uvicorn's ``send`` is a method of its request cycle, which holds the transport.
    Elsewhere, failing mid-request makes the server cut the connection instead.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionAbortedError("injected fault: dropped connection")
    transport.close()
    while (await receive())["type"] != "http.disconnect":
        pass
