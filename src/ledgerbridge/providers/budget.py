"""The call budget a provider grants each account, shared by every process that calls it.

Providers limit calls per account (Xero: 60 a minute and 5,000 a day per organisation;
QuickBooks: 10 a second and 500 a minute per company; Lightspeed: 300 per register plus
50 per five minutes per store). DBOS queues bound how many syncs and pushes run, not how
many calls they make, so every call first takes a permit from a pyrate-limiter bucket
kept where all processes see it: a table of the PostgreSQL database in production, a
file-locked SQLite file in the data dir on the embedded default. Pull and push draw on
the same budget; a 429 that slips through is still honoured by the retrying transport.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pyrate_limiter import Duration, Limiter, Rate, SQLiteBucket
from pyrate_limiter.buckets.postgres import PostgresBucket

from ledgerbridge.providers import Provider
from ledgerbridge.settings import Settings

# A call that had to wait for a window to roll goes this long after it: the provider
# counts a call when it arrives, and the one that opened the window may have arrived
# later than it took its permit (more so with a batch's calls in flight at once on a
# loaded machine). pyrate-limiter's own 50 ms let most runs of a loaded
# benchmarks/push.py draw a 429 or a few, and 250 ms still some on Xero's minute; a
# QuickBooks 429 (no Retry-After) costs a minute. A quarter of the shortest window at
# most, so QuickBooks' second keeps most of its pace.
BOUNDARY_MARGIN_MS = 1000


def margin_ms(budget: list[Rate]) -> int:
    return min(BOUNDARY_MARGIN_MS, budget[0].interval // 4)


def rates(settings: Settings, provider: Provider) -> list[Rate]:
    """The account's limits, shortest window first, without any a shorter one implies."""
    kept: list[Rate] = []
    for rate in _configured(settings, provider):
        if kept and rate.limit / rate.interval >= kept[-1].limit / kept[-1].interval:
            continue  # implied by the shorter window
        while kept and kept[-1].limit >= rate.limit:
            kept.pop()  # a longer window allowing no more calls implies the shorter one
        kept.append(rate)
    return kept


def _configured(settings: Settings, provider: Provider) -> list[Rate]:
    if provider is Provider.xero:
        return [
            Rate(settings.xero_calls_per_minute, Duration.MINUTE),
            Rate(settings.xero_calls_per_day, Duration.DAY),
        ]
    if provider is Provider.quickbooks:
        return [
            Rate(settings.quickbooks_calls_per_second, Duration.SECOND),
            Rate(settings.quickbooks_calls_per_minute, Duration.MINUTE),
        ]
    return [Rate(settings.lightspeed_calls_per_5_minutes, 5 * Duration.MINUTE)]


# Calls in flight at once per account that a batch of pushes keeps (below the provider's
# own cap, Xero 5 and QuickBooks 10 per company, leaving room for a sync's call).
IN_FLIGHT = {Provider.xero: 4, Provider.quickbooks: 8, Provider.lightspeed: 4}


# How long a call may wait for its budget before BudgetExhausted; None: as long as it takes.
_patience: ContextVar[float | None] = ContextVar("budget_patience", default=None)


@contextmanager
def yielding(seconds: float) -> Iterator[None]:
    """Calls made inside (and in the tasks started inside) wait at most ``seconds`` for
    their budget, then raise ``BudgetExhausted``: for callers that can give their queue
    slot back and continue later (sync runs)."""
    token = _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(token)


@dataclass(frozen=True)
class Lane:
    """Background work (the drift audit): its calls are taken only while the account has
    used less than ``share`` of each window, so the rest is always left to syncs and pushes;
    ``give_way`` is asked before each call and returns a reason to stop now, or None."""

    share: float
    give_way: Callable[[], str | None] | None = None


_lane: ContextVar[Lane | None] = ContextVar("budget_lane", default=None)
GIVE_WAY_SECONDS = 5.0  # a background caller that gave way asks again this much later


@contextmanager
def background(lane: Lane) -> Iterator[None]:
    """Calls made inside are background work (see ``Lane``)."""
    token = _lane.set(lane)
    try:
        yield
    finally:
        _lane.reset(token)


def scaled(rates: list[Rate], share: float) -> list[Rate]:
    """The windows of ``rates`` with ``share`` of each limit (at least one call)."""
    return [Rate(max(1, math.floor(r.limit * share)), r.interval) for r in rates]


class BudgetExhausted(Exception):
    """The account's budget would make this call wait longer than a caller should hold its
    place: come back in ``retry_after`` seconds, when it has refilled."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, retry_after)
        self.message = message
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message


class Turns:
    """Concurrent tasks that must spend the budget in order (a batch of pushes, oldest
    first): the calls inside ``next().held()`` take their first permit only after the
    turn before took one, and once one is refused (``BudgetExhausted``) every later one is
    refused too, so none overtakes an operation that waits for the budget."""

    def __init__(self) -> None:
        self._last: asyncio.Event | None = None
        self.refused: BudgetExhausted | None = None

    def next(self) -> Turn:
        mine = Turn(self, self._last, asyncio.Event())
        self._last = mine.done
        return mine


@dataclass
class Turn:
    turns: Turns
    after: asyncio.Event | None  # set once the turn before has taken its permit or gone
    done: asyncio.Event

    @contextmanager
    def held(self) -> Iterator[None]:
        token = _turn.set(self)
        try:
            yield
        finally:
            _turn.reset(token)
            self.done.set()  # a task that never called gives its turn up too


_turn: ContextVar[Turn | None] = ContextVar("budget_turn", default=None)


class CallBudgets:
    """One limiter per provider account, created on first use and kept for the process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._limiters: dict[tuple[Provider, str, float], Limiter] = {}
        self._lock = threading.Lock()
        self._pool: Any = None

    async def spend(self, provider: Provider, account: str) -> None:
        """Wait until the account's budget allows one more call, then take it; inside
        ``yielding(s)``, if that would take longer than ``s``, raise ``BudgetExhausted``
        instead, so the caller gives its place in the queue back rather than block in it."""
        lane = _lane.get()
        if lane is not None and lane.give_way is not None and (reason := lane.give_way()):
            raise BudgetExhausted(reason, GIVE_WAY_SECONDS)
        turn = _turn.get()
        if turn is None or turn.done.is_set():
            await self._take(provider, account, lane)
            return
        try:
            if turn.after is not None:
                await turn.after.wait()
            if turn.turns.refused is not None:
                raise turn.turns.refused
            await self._take(provider, account, lane)
        except BudgetExhausted as exc:
            turn.turns.refused = turn.turns.refused or exc
            raise
        finally:
            turn.done.set()

    async def _take(self, provider: Provider, account: str, lane: Lane | None) -> None:
        if not self._settings.provider_call_budgets:
            return
        share = lane.share if lane is not None else 1.0
        limiter = self._limiter(provider, account, share)
        wait = _patience.get()
        if wait is None:
            await limiter.try_acquire_async(account, blocking=True)
            return
        if await limiter.try_acquire_async(account, blocking=True, timeout=wait):
            return
        refill = max(wait, await self._refill_seconds(limiter, account))
        spent = "spent" if share >= 1 else f"{share:.0%} spent (the rest is kept for syncs)"
        raise BudgetExhausted(
            f"the {provider.value} call budget of this account is {spent}; "
            f"it refills in about {refill:.0f}s",
            refill,
        )

    @staticmethod
    async def _refill_seconds(limiter: Limiter, account: str) -> float:
        item = limiter.bucket_factory.wrap_item(account, 1)
        if inspect.isawaitable(item):
            item = await item
        bucket = limiter.bucket_factory.get(item)
        if inspect.isawaitable(bucket):
            bucket = await bucket
        waiting = bucket.waiting(item)
        if inspect.isawaitable(waiting):
            waiting = await waiting
        return (int(waiting) + limiter.buffer_ms) / 1000

    def _limiter(self, provider: Provider, account: str, share: float = 1.0) -> Limiter:
        key = (provider, account, share)
        with self._lock:
            found = self._limiters.get(key)
            if found is None:
                budget = rates(self._settings, provider)
                found = self._limiters[key] = Limiter(
                    self._bucket(provider, account, share), buffer_ms=margin_ms(budget)
                )
            return found

    def _bucket(self, provider: Provider, account: str, share: float) -> Any:
        # A share is the same table (the same calls counted) with smaller limits.
        table = f"{provider.value}_{hashlib.sha256(account.encode()).hexdigest()[:16]}"
        budget = rates(self._settings, provider)
        if share < 1:
            budget = scaled(budget, share)
        if self._settings.is_sqlite:
            self._settings.data_dir.mkdir(parents=True, exist_ok=True)
            return SQLiteBucket.init_from_file(
                budget,
                table=table,
                db_path=str((self._settings.data_dir / "call-budgets.db").resolve()),
                create_new_table=True,
                use_file_lock=True,
            )
        if self._pool is None:
            from psycopg_pool import ConnectionPool

            url = self._settings.libpq_database_url
            # A permit is stamped with the database's clock, then stored on another
            # connection: waiting for one in between stamps the call earlier than it goes,
            # and Xero then counts it in a window we think has rolled. One a connection's
            # batch spends at a time: room for ten accounts at once.
            self._pool = ConnectionPool(url, min_size=1, max_size=10, open=True)
        return PostgresBucket(self._pool, table, budget)

    def close(self) -> None:
        with self._lock:
            limiters, self._limiters = list(self._limiters.values()), {}
        for limiter in limiters:
            limiter.close()  # stops its leaker thread, which would use the closed pool
        if self._pool is not None:
            self._pool.close()
