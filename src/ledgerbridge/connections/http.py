"""An HTTP client for one connection's provider account.

Everything a data call needs and no provider module should repeat: the account's base URL
and headers, the connection's access token (refreshed through the vault, and once more on
a 401 — never a loop), and retries with exponential backoff and jitter for 429s, 5xx and
dropped connections, honouring the provider's ``Retry-After`` (seconds or an HTTP date).

An answer is read whole before anyone sees it, and never unboundedly: a body larger than
``max_body`` bytes (as sent, ``LEDGERBRIDGE_PROVIDER_MAX_BODY_BYTES``) or an attempt not
finished within ``deadline`` seconds (``LEDGERBRIDGE_PROVIDER_CALL_DEADLINE_SECONDS``; the
read timeout alone restarts with every byte, so a body that drips would never end) is
retried like a dropped connection, then raised.
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import cache

import httpx
import stamina

from ledgerbridge.audit.service import current_purpose, record, with_attempt
from ledgerbridge.connections.tokens import access_token
from ledgerbridge.providers import Provider
from ledgerbridge.providers.endpoints import endpoints_for
from ledgerbridge.services import Services

TIMEOUT = httpx.Timeout(30.0, connect=5.0)
RETRY_ATTEMPTS = 6
RETRY_CEILING_SECONDS = 120.0  # never wait longer than this for one Retry-After
RETRY_BUDGET_SECONDS = 600.0  # give up on one call after this long
NO_RETRY_AFTER_SECONDS = 60.0  # QuickBooks may omit Retry-After: Intuit advises a minute
MAX_BODY_BYTES = 64 * 1024 * 1024
CALL_DEADLINE_SECONDS = 120.0


class AnswerTooLarge(httpx.TransportError):
    """A provider answer longer than the cap: abandoned unread, retried, then raised."""


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, cap: int, request: httpx.Request) -> None:
        self._inner = inner
        self._cap = cap
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._inner:
            size += len(chunk)
            if size > self._cap:
                raise AnswerTooLarge(
                    f"the answer is larger than {self._cap} bytes", request=self._request
                )
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class Retryable(Exception):
    """A response worth trying again, after ``wait`` seconds if the provider said so."""

    def __init__(self, response: httpx.Response, wait: float | None) -> None:
        super().__init__(f"retryable: {response.status_code}")
        self.response = response
        self.wait = wait


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds to wait per ``Retry-After`` (delta-seconds or an HTTP date), if present."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _backoff(exc: Exception) -> bool | float:
    if isinstance(exc, Retryable):
        return True if exc.wait is None else min(exc.wait, RETRY_CEILING_SECONDS)
    return isinstance(exc, httpx.TransportError)


# (request, response or None, error or None, duration in ms, attempt number)
AuditHook = Callable[[httpx.Request, httpx.Response | None, str | None, int, int], Awaitable[None]]


class RetryingTransport(httpx.AsyncBaseTransport):
    """Spends the account's call budget before every attempt; retries what is retryable."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        provider: Provider,
        spend: Callable[[], Awaitable[None]],
        audit: AuditHook,
        *,
        max_body: int = MAX_BODY_BYTES,
        deadline: float = CALL_DEADLINE_SECONDS,
    ) -> None:
        self._inner = inner
        self._provider = provider
        self._spend = spend
        self._audit = audit
        self._max_body = max_body
        self._deadline = deadline

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            async for attempt in stamina.retry_context(
                on=_backoff,
                attempts=RETRY_ATTEMPTS,
                timeout=RETRY_BUDGET_SECONDS,
                wait_initial=0.5,
                wait_max=30.0,
            ):
                with attempt:
                    await self._spend()
                    response = await self._attempt(request, attempt.num)
                    if response.status_code == 429 or response.status_code in (500, 502, 503, 504):
                        wait = retry_after(response)
                        if response.status_code == 429 and wait is None:
                            wait = self._default_429_wait()
                        raise Retryable(response, wait)
                    return response
        except Retryable as exc:
            return exc.response  # out of attempts: the caller sees the provider's answer
        raise AssertionError("unreachable: stamina returns or raises")

    async def _attempt(self, request: httpx.Request, number: int) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = await self._read(request)
        except httpx.TransportError as exc:
            elapsed = int((time.perf_counter() - started) * 1000)
            await self._audit(request, None, f"{type(exc).__name__}: {exc}", elapsed, number)
            raise
        elapsed = int((time.perf_counter() - started) * 1000)
        await self._audit(request, response, None, elapsed, number)
        return response

    async def _read(self, request: httpx.Request) -> httpx.Response:
        """One answer, read whole within the deadline and the size cap."""
        try:
            async with asyncio.timeout(self._deadline):
                response = await self._inner.handle_async_request(request)
                try:
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > self._max_body:
                        raise AnswerTooLarge(
                            f"the answer declares {declared} bytes, over {self._max_body}",
                            request=request,
                        )
                    assert isinstance(response.stream, httpx.AsyncByteStream)
                    response.stream = _CappedStream(response.stream, self._max_body, request)
                    await response.aread()
                except BaseException:
                    await response.aclose()
                    raise
        except TimeoutError:
            raise httpx.ReadTimeout(
                f"the answer was not complete within {self._deadline:g} s", request=request
            ) from None
        return response

    def _default_429_wait(self) -> float | None:
        return NO_RETRY_AFTER_SECONDS if self._provider is Provider.quickbooks else None

    async def aclose(self) -> None:
        await self._inner.aclose()


class ConnectionAuth(httpx.Auth):
    """Bearer token from the vault; on a 401, one refresh and one retry."""

    def __init__(self, token_for: Callable[[str | None], str]) -> None:
        self._token_for = token_for

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await asyncio.to_thread(self._token_for, None)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            await response.aread()
            token = await asyncio.to_thread(self._token_for, token)
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


@cache
def _ssl_context() -> ssl.SSLContext:
    # Made once per process: loading the CA bundle for every client cost each push more
    # CPU than the rest of its call.
    return httpx.create_ssl_context()


def connection_client(
    svc: Services,
    connection_id: int,
    provider: Provider,
    account: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` on the account's API base, as ``providers/*/pull.py`` expects."""

    async def audit(
        request: httpx.Request,
        response: httpx.Response | None,
        error: str | None,
        duration_ms: int,
        attempt: int,
    ) -> None:
        purpose = current_purpose()
        if purpose is None:
            return
        await asyncio.to_thread(
            record, svc.db, with_attempt(purpose, attempt), request, response, error, duration_ms
        )

    def token_for(rejected: str | None) -> str:
        return access_token(svc.db, svc.vault, svc.settings, connection_id, rejected=rejected).token

    headers = {"Accept": "application/json"}
    if provider is Provider.xero:
        headers["xero-tenant-id"] = account
    base = endpoints_for(svc.settings, provider).api_url(account)
    return httpx.AsyncClient(
        base_url=base,
        headers=headers,
        auth=ConnectionAuth(token_for),
        timeout=TIMEOUT,
        transport=RetryingTransport(
            transport or httpx.AsyncHTTPTransport(verify=_ssl_context()),
            provider,
            lambda: svc.budgets.spend(provider, account),
            audit,
            max_body=svc.settings.provider_max_body_bytes,
            deadline=svc.settings.provider_call_deadline_seconds,
        ),
    )
