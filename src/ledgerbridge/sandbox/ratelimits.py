"""Each provider's rate limits, with its own headers and 429 answer.

Limits are rolling windows (calls in the last N ms) or concurrency caps (calls in
flight), counted per provider account and app (OAuth client) as the providers do:

- Xero: per tenant 5 in flight, 60/min, 5,000/day; per app 10,000/min. Headers
  ``X-DayLimit-Remaining``, ``X-MinLimit-Remaining``, ``X-AppMinLimit-Remaining``; a 429
  carries ``Retry-After`` (seconds) and ``X-Rate-Limit-Problem``.
- QuickBooks: per realm 500/min; per realm and app 10/s and 10 in flight. A 429 carries
  a Fault body and, only when configured, ``Retry-After``.
- Lightspeed: per store and app ``300 x registers + 50`` per rolling 5 minutes. Headers
  ``X-RateLimit-Limit``, ``X-RateLimit-Remaining``; a 429's ``Retry-After`` is an HTTP date.
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate

from starlette.responses import JSONResponse, Response

from ledgerbridge.sandbox.settings import SandboxSettings

MINUTE = 60_000


@dataclass(frozen=True)
class Limit:
    problem: str  # which limit this is, in Xero's X-Rate-Limit-Problem words
    key: tuple[str | None, ...]
    allowed: int
    window_ms: int | None  # None: a cap on calls in flight


@dataclass
class Verdict:
    rejected: Limit | None = None
    retry_after_seconds: int = 0
    remaining: dict[str, int] = field(default_factory=dict)  # problem -> calls left
    held: list[tuple[str | None, ...]] = field(default_factory=list)  # in-flight slots taken


def limits_for(
    settings: SandboxSettings,
    provider: str,
    account: str,
    client_id: str | None,
    registers: int = 1,
) -> list[Limit]:
    if not settings.rate_limits:
        return []
    s = settings
    if provider == "xero":
        tenant = ("xero", client_id, account)
        return [
            Limit("concurrent", (*tenant, "concurrent"), s.xero_tenant_concurrent, None),
            Limit("minute", (*tenant, "minute"), s.xero_tenant_per_minute, MINUTE),
            Limit("day", (*tenant, "day"), s.xero_tenant_per_day, 24 * 60 * MINUTE),
            Limit("appminute", ("xero", client_id, "appminute"), s.xero_app_per_minute, MINUTE),
        ]
    if provider == "quickbooks":
        realm_app = ("quickbooks", client_id, account)
        return [
            Limit(
                "concurrent", (*realm_app, "concurrent"), s.quickbooks_realm_app_concurrent, None
            ),
            Limit("second", (*realm_app, "second"), s.quickbooks_realm_app_per_second, 1000),
            Limit(
                "minute", ("quickbooks", account, "minute"), s.quickbooks_realm_per_minute, MINUTE
            ),
        ]
    if provider == "lightspeed":
        allowed = s.lightspeed_requests_per_register * registers + s.lightspeed_requests_base
        window = s.lightspeed_window_seconds * 1000
        return [Limit("window", ("lightspeed", client_id, account), allowed, window)]
    return []


class RateLimits:
    """Counts calls against limits. Rejected calls do not count."""

    def __init__(self) -> None:
        self._calls: defaultdict[tuple[str | None, ...], deque[int]] = defaultdict(deque)
        self._in_flight: defaultdict[tuple[str | None, ...], int] = defaultdict(int)
        self._lock = threading.Lock()

    def admit(self, limits: list[Limit], now_ms: int) -> Verdict:
        verdict = Verdict()
        if not limits:
            return verdict
        with self._lock:
            for limit in limits:
                wait_ms = self._wait_ms(limit, now_ms)
                if wait_ms is not None:
                    verdict.rejected = limit
                    verdict.retry_after_seconds = max(1, math.ceil(wait_ms / 1000))
                    return verdict
            for limit in limits:
                if limit.window_ms is None:
                    self._in_flight[limit.key] += 1
                    verdict.held.append(limit.key)
                    verdict.remaining[limit.problem] = limit.allowed - self._in_flight[limit.key]
                else:
                    calls = self._calls[limit.key]
                    calls.append(now_ms)
                    verdict.remaining[limit.problem] = limit.allowed - len(calls)
        return verdict

    def release(self, verdict: Verdict) -> None:
        with self._lock:
            for key in verdict.held:
                self._in_flight[key] -= 1

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._in_flight.clear()

    def _wait_ms(self, limit: Limit, now_ms: int) -> int | None:
        """None when the limit lets one more call through, else how long until it would."""
        if limit.window_ms is None:
            return None if self._in_flight[limit.key] < limit.allowed else 1000
        calls = self._calls[limit.key]
        while calls and calls[0] <= now_ms - limit.window_ms:
            calls.popleft()
        if len(calls) < limit.allowed:
            return None
        return calls[len(calls) - limit.allowed] + limit.window_ms - now_ms


def limit_headers(provider: str, verdict: Verdict, limits: list[Limit]) -> dict[str, str]:
    """The headers a provider puts on every answer under its limits."""
    if provider == "xero":
        names = {
            "day": "X-DayLimit-Remaining",
            "minute": "X-MinLimit-Remaining",
            "appminute": "X-AppMinLimit-Remaining",
        }
        return {
            h: str(max(0, verdict.remaining[p])) for p, h in names.items() if p in verdict.remaining
        }
    if provider == "lightspeed" and limits:
        return {
            "X-RateLimit-Limit": str(limits[0].allowed),
            "X-RateLimit-Remaining": str(max(0, verdict.remaining.get("window", 0))),
        }
    return {}


def too_many_requests(
    provider: str,
    problem: str,
    retry_after_seconds: int,
    settings: SandboxSettings,
    now_ms: int,
    limits: list[Limit] | None = None,
) -> Response:
    """The provider's own 429 answer."""
    if provider == "xero":
        return JSONResponse(
            {
                "Title": "Too Many Requests",
                "Status": 429,
                "Detail": f"Rate limit exceeded: {problem}",
            },
            status_code=429,
            headers={"Retry-After": str(retry_after_seconds), "X-Rate-Limit-Problem": problem},
        )
    if provider == "quickbooks":
        headers = {}
        if settings.quickbooks_retry_after_seconds is not None:
            headers["Retry-After"] = str(settings.quickbooks_retry_after_seconds)
        body = {
            "Fault": {
                "Error": [
                    {
                        "Message": "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                        "Detail": "ThrottleExceeded",
                        "code": "3001",
                        "element": "",
                    }
                ],
                "type": "ThrottleExceeded",
            },
            "time": iso_ms(now_ms),
        }
        return JSONResponse(body, status_code=429, headers=headers)
    retry_at = formatdate((now_ms / 1000) + retry_after_seconds, usegmt=True)
    headers = {"Retry-After": retry_at}
    if limits:
        headers |= {"X-RateLimit-Limit": str(limits[0].allowed), "X-RateLimit-Remaining": "0"}
    return JSONResponse(
        {"error": "Too Many Requests", "message": "Rate limiting enforced"},
        status_code=429,
        headers=headers,
    )


def iso_ms(ms: int) -> str:
    """An ISO 8601 UTC timestamp with milliseconds, as QuickBooks stamps its answers."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
