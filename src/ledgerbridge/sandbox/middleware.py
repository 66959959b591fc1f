"""The path every provider request takes: faults, then rate limits, then the route; logged.

It wraps the whole application, outside Starlette's error handling, so that it sees the
server's own ``send`` (needed to drop a connection without answering) and records the
500 of a failing route like any other status. Control calls (``/_sandbox``) pass
straight through: they are neither limited, faulted nor logged.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledgerbridge.sandbox.faults import FaultRule
from ledgerbridge.sandbox.ledger import LedgerEntry
from ledgerbridge.sandbox.ratelimits import iso_ms, limit_headers, limits_for, too_many_requests
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
            await send(message)

        fault = await self._inject_faults(target, path, scope, receive, send, record_status)
        if fault is None:
            await self._call_within_limits(target, headers, scope, receive, record_status)
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
        else:
            await self._fault_response(rule, target)(scope, receive, send)
        return rule.kind

    def _fault_response(self, rule: FaultRule, target: Target) -> Response:
        assert target.provider is not None
        now = self.state.clock.time_ms()
        if rule.kind == "rate_limit":
            return too_many_requests(
                target.provider, "minute", rule.retry_after_seconds, self.state.settings, now
            )
        return provider_error(target.provider, rule.status, now)

    async def _call_within_limits(
        self, target: Target, headers: Headers, scope: Scope, receive: Receive, send: Send
    ) -> None:
        state = self.state
        if target.surface != "api" or target.account is None or not state.settings.rate_limits:
            await self.app(scope, receive, send)
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
            await self.app(scope, receive, send_with_headers)
        finally:
            state.limits.release(verdict)


def provider_error(provider: str, status: int, now_ms: int) -> Response:
    """A server-side failure in the provider's own error shape.

    QuickBooks may wrap a Fault in HTTP 200: a status of 200 gives exactly that.
    """
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Server Error"
    if provider == "quickbooks":
        fault: dict[str, Any] = {
            "Fault": {
                "Error": [
                    {
                        "Message": (
                            "An application error has occurred while processing your request"
                        ),
                        "Detail": f"System Failure Error: {reason}",
                        "code": "10000",
                        "element": "",
                    }
                ],
                "type": "SystemFault",
            },
            "time": iso_ms(now_ms),
        }
        return JSONResponse(fault, status_code=status)
    if provider == "xero":
        return JSONResponse(
            {"Title": reason, "Status": status, "Detail": "An error occurred in Xero."},
            status_code=status,
        )
    return JSONResponse({"error": reason}, status_code=status)


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
