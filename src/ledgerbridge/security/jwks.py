"""The host app's RS256 signing keys, from its JWKS URL, without ever stalling a request.

Keys are cached by ``kid``. One fetch at a time runs in a thread of its own (never the
event loop, never the request thread pool), with a short timeout; requests that need it
wait for it without holding a thread, and every other request goes on. Any attempt —
failed, or not yielding the ``kid`` asked for — is not repeated for
``failure_ttl`` seconds: meanwhile tokens with an unknown ``kid`` are refused at once.
Known keys are served while a refresh runs, and kept when a refresh fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import jwt
import structlog

from ledgerbridge.overload import outside_admission

log = structlog.get_logger(__name__)
LIFESPAN_SECONDS = 300.0  # refresh the key set this often


class KeyUnavailable(Exception):
    """No signing key for this token's ``kid`` (unknown, or the JWKS could not be read)."""


class JwksKeys:
    def __init__(self, url: str, *, timeout: float, failure_ttl: float) -> None:
        self._client = jwt.PyJWKClient(url, cache_jwk_set=False, cache_keys=False, timeout=timeout)
        self._timeout = timeout
        self._failure_ttl = failure_ttl
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jwks")
        self._lock = threading.Lock()
        self._keys: dict[str, Any] = {}
        self._attempted_at: float | None = None  # monotonic time of the last fetch's end
        self._succeeded_at: float | None = None
        self._inflight: Future[None] | None = None

    async def key(self, kid: str | None) -> Any:
        """The verification key for ``kid``; raises :class:`KeyUnavailable`.

        Waiting for a fetch holds no thread: the event loop serves everything else.
        """
        found, fetch = self._find(kid)
        if found is not None:
            return found
        if fetch is not None:
            # A fetch past its deadline logs its own failure; this request is refused below.
            with contextlib.suppress(TimeoutError):
                waiting = asyncio.shield(asyncio.wrap_future(fetch))
                async with outside_admission():
                    await asyncio.wait_for(waiting, timeout=self._timeout + 1)
        return self._fetched(kid)

    def key_blocking(self, kid: str | None) -> Any:
        """The same, for callers off the event loop (a thread, the command line)."""
        found, fetch = self._find(kid)
        if found is not None:
            return found
        if fetch is not None:
            with contextlib.suppress(FutureTimeout):
                fetch.result(timeout=self._timeout + 1)
        return self._fetched(kid)

    def _find(self, kid: str | None) -> tuple[Any, Future[None] | None]:
        """A cached key, or the fetch to wait for (None: none allowed now)."""
        if not isinstance(kid, str) or not kid:
            raise KeyUnavailable("the token names no key (kid)")
        with self._lock:
            found = self._keys.get(kid)
            stale = self._succeeded_at is None or self._since(self._succeeded_at) > LIFESPAN_SECONDS
            if found is not None:
                if stale and self._may_fetch():
                    self._start_fetch()  # in the background: the known key serves meanwhile
                return found, None
            return None, self._inflight or (self._start_fetch() if self._may_fetch() else None)

    def _fetched(self, kid: str | None) -> Any:
        with self._lock:
            found = self._keys.get(kid or "")
        if found is None:
            raise KeyUnavailable("no signing key for this token")
        return found

    @staticmethod
    def _since(moment: float) -> float:
        return time.monotonic() - moment

    def _may_fetch(self) -> bool:
        if self._inflight is not None:
            return False
        return self._attempted_at is None or self._since(self._attempted_at) >= self._failure_ttl

    def _start_fetch(self) -> Future[None]:
        self._inflight = self._executor.submit(self._fetch)
        return self._inflight

    def _fetch(self) -> None:
        keys: dict[str, Any] | None = None
        try:
            keys = {
                k.key_id: k.key for k in self._client.get_signing_keys(refresh=True) if k.key_id
            }
        except Exception as exc:  # any failure: logged, cached briefly, never echoed
            log.warning("JWKS fetch failed", error_type=type(exc).__name__)
        with self._lock:
            self._attempted_at = time.monotonic()
            if keys is not None:
                self._keys, self._succeeded_at = keys, self._attempted_at
            self._inflight = None
