"""Fault injection: latency, 5xx errors, forced 429s, dropped connections, slow tokens, and
answers that are wrong although they succeed: a 200 without the collection asked for, a
200 that is not JSON, a body that drips a byte at a time, a body far too large.

Rules are posted to ``POST /_sandbox/faults``. A rule matches a provider's requests
(optionally one account and a path prefix). ``count`` makes it deterministic ("the next
N matching calls"); ``rate`` makes it probabilistic, drawn from a seeded generator so a
run can be repeated.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledgerbridge.sandbox.ratelimits import iso_ms, too_many_requests
from ledgerbridge.sandbox.routing import Target
from ledgerbridge.sandbox.settings import SandboxSettings

FaultKind = Literal[
    "latency",
    "error",
    "rate_limit",
    "drop",
    "slow_token",
    "missing_collection",
    "empty_collection",
    "not_json",
    "drip_body",
    "oversize_body",
]
BAD_BODIES = frozenset({"not_json", "drip_body", "oversize_body"})  # instead of the route
REWRITES = frozenset({"missing_collection", "empty_collection"})  # of the route's answer
DRIP_FOR_SECONDS = 600.0  # a dripping body ends after this long (if the client still listens)


class FaultRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Literal["xero", "quickbooks", "lightspeed"]
    kind: FaultKind
    account: str | None = None
    path_prefix: str | None = None
    count: int | None = Field(None, ge=1, description="Affect only the next N matching calls.")
    rate: float = Field(1.0, ge=0.0, le=1.0, description="Chance that a matching call is hit.")
    latency_ms: int = Field(
        1000, ge=0, description="For latency and slow_token; drip_body: between two bytes."
    )
    size_bytes: int = Field(
        70 * 1024 * 1024, ge=1, le=1024**3, description="For oversize_body: its length."
    )
    status: int = Field(
        503, ge=200, le=599, description="For error (QuickBooks: 200 wraps a Fault in a 200)."
    )
    retry_after_seconds: int = Field(1, ge=0, description="For rate_limit.")


@dataclass(frozen=True)
class Injection:
    """What to do to one request: wait ``latency_ms``, then maybe fail with ``failure``."""

    latency_ms: int = 0
    failure: FaultRule | None = None


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self._rules: list[FaultRule] = []
        self._remaining: dict[int, int] = {}  # id(rule) -> calls left, for counted rules
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)
            if rule.count is not None:
                self._remaining[id(rule)] = rule.count

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return [
                r.model_copy(update={"count": self._remaining[id(r)]}) if r.count else r
                for r in self._rules
            ]

    def clear(self, provider: str | None = None) -> None:
        with self._lock:
            self._rules = [
                r for r in self._rules if provider is not None and r.provider != provider
            ]
            self._remaining = {id(r): self._remaining[id(r)] for r in self._rules if r.count}

    def pick(self, target: Target, path: str) -> Injection:
        """Draw the faults for one request, using up counted rules."""
        if target.provider is None or target.surface == "control":
            return Injection()
        latency = 0
        failure: FaultRule | None = None
        with self._lock:
            for rule in list(self._rules):
                if not _matches(rule, target, path) or self._rng.random() >= rule.rate:
                    continue
                if rule.kind in ("latency", "slow_token"):
                    latency += rule.latency_ms
                elif failure is None:
                    failure = rule
                else:
                    continue
                self._use(rule)
        return Injection(latency, failure)

    def _use(self, rule: FaultRule) -> None:
        if rule.count is None:
            return
        self._remaining[id(rule)] -= 1
        if self._remaining[id(rule)] <= 0:
            self._rules = [r for r in self._rules if r is not rule]
            del self._remaining[id(rule)]


def _matches(rule: FaultRule, target: Target, path: str) -> bool:
    if rule.provider != target.provider:
        return False
    if rule.kind == "slow_token" and target.surface != "token":
        return False
    if rule.account is not None and rule.account != target.account:
        return False
    return rule.path_prefix is None or path.startswith(rule.path_prefix)


def fault_response(
    rule: FaultRule, provider: str, settings: SandboxSettings, now_ms: int
) -> Response:
    """The answer an ``error`` or ``rate_limit`` fault gives, in the provider's own shape."""
    if rule.kind == "rate_limit":
        return too_many_requests(provider, "minute", rule.retry_after_seconds, settings, now_ms)
    return _server_error(provider, rule.status, now_ms)


async def rewritten_answer(
    rule: FaultRule, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """The route's own answer with its collections taken out (``missing_collection``: every
    list or object at the top level, e.g. ``Items``, ``QueryResponse``, ``data``) or emptied
    (``empty_collection``: every list, at any depth, e.g. ``{"Items": []}``)."""
    start: Message = {}
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    try:
        body = json.loads(b"".join(chunks))
    except ValueError:
        body = None
    if isinstance(body, dict):
        if rule.kind == "missing_collection":
            body = {k: v for k, v in body.items() if not isinstance(v, list | dict)}
        else:
            body = _emptied(body)
    content = json.dumps(body).encode()
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(content)).encode()))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def _emptied(value: Any) -> Any:
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {k: _emptied(v) for k, v in value.items()}
    return value


async def bad_body(rule: FaultRule, receive: Receive, send: Send) -> None:
    """A 200 whose body is not the answer at all (``BAD_BODIES``), sent straight to ASGI."""
    if rule.kind == "not_json":
        await _answer(
            send, b"<html><body>Service temporarily unavailable</body></html>", "text/html"
        )
    elif rule.kind == "oversize_body":  # streamed, with no length announced
        await _start(send, "application/json", None)
        chunk = b" " * (1024 * 1024)
        left = rule.size_bytes - 2
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        while left > 0:
            part = chunk[: min(left, len(chunk))]
            left -= len(part)
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"}"})
    else:
        await _drip(rule, receive, send)


async def _drip(rule: FaultRule, receive: Receive, send: Send) -> None:
    """JSON whitespace, one byte at a time, until the client hangs up (or for a long while)."""
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.create_task(watch())
    try:
        await _start(send, "application/json", None)
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        waited = 0.0
        interval = max(rule.latency_ms, 1) / 1000
        while waited < DRIP_FOR_SECONDS and not gone.is_set():
            await asyncio.sleep(interval)
            waited += interval
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
        await send({"type": "http.response.body", "body": b"}"})
    finally:
        watcher.cancel()


async def _start(send: Send, content_type: str, length: int | None) -> None:
    headers = [(b"content-type", content_type.encode())]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})


async def _answer(send: Send, body: bytes, content_type: str) -> None:
    await _start(send, content_type, len(body))
    await send({"type": "http.response.body", "body": body})


def _server_error(provider: str, status: int, now_ms: int) -> Response:
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
