"""A trace id per request: returned in a header and bound to every log line of the request."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

TRACE_HEADER = "X-Trace-Id"
_trace_id: ContextVar[str | None] = ContextVar("trace_id", default=None)
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_trace_id() -> str | None:
    return _trace_id.get()


def set_trace_id(trace_id: str) -> None:
    _trace_id.set(trace_id)


def trace_id_from(traceparent: str | None, given: str | None) -> str:
    """Continue the caller's W3C trace or X-Trace-Id when well-formed; otherwise start one."""
    if traceparent and (match := _TRACEPARENT.match(traceparent.strip())):
        return match.group(1)
    if given and _SAFE_ID.match(given):
        return given
    return secrets.token_hex(16)
