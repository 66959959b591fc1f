"""Sending the webhooks: registrations, a delivery per change, and each provider's retries.

A change (``Store.listener``) only queues a delivery: a background thread sends it, so no
change ever waits for a receiver. A delivery that fails (no answer within the provider's
timeout, or not 2xx — Xero wants exactly 200) is tried again on the provider's schedule,
every delay multiplied by the ``webhook_retry_scale`` setting (tests make it tiny); after
the last, the delivery is ``failed``, and Xero also disables the webhook, as it does.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledgerbridge.sandbox.webhooks import payloads

HOUR = 3600
# Seconds before each retry (after the first attempt). Xero: "decreasing frequency for up
# to 24 hours", schedule unpublished. QuickBooks: 0 s, 10 s, 20 s, 30 s, 5 min, 20 min,
# 2 h, 4 h, 6 h, then every 6 h (here until three days). Lightspeed: 20 retries over 48 h,
# exponential.
RETRIES: dict[str, Sequence[float]] = {
    "xero": [60, 300, 900, 1800, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 8 * HOUR],
    "quickbooks": [0, 10, 20, 30, 300, 1200, 2 * HOUR, 4 * HOUR, 6 * HOUR] + [6 * HOUR] * 9,
    "lightspeed": [round(8.5 * 1.6**n, 1) for n in range(20)],
}
TIMEOUTS = {"xero": 5.0, "quickbooks": 3.0, "lightspeed": 5.0}  # the receiver must answer by
KEPT = 10_000  # deliveries listed by GET /_sandbox/webhooks; older ones are forgotten


@dataclass
class Registration:
    provider: str
    url: str
    key: str
    format: str = "classic"  # QuickBooks: "classic" or "cloudevents"
    active: bool = True
    disabled_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "url": self.url,
            "format": self.format,
            "active": self.active,
            "disabled_reason": self.disabled_reason,
        }


@dataclass
class Delivery:
    id: int
    provider: str
    url: str
    body: bytes
    headers: dict[str, str]
    status: str = "pending"  # pending | delivered | failed
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "body": self.body.decode(),
        }


def accepted(provider: str, status: int) -> bool:
    return status == 200 if provider == "xero" else 200 <= status < 300


def send(provider: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """One attempt: its time, the receiver's status (None when it never answered)."""
    started = time.time()
    attempt: dict[str, Any] = {"at_ms": int(started * 1000), "status": None, "error": None}
    try:
        with httpx.Client(timeout=TIMEOUTS[provider], follow_redirects=False) as client:
            attempt["status"] = client.post(url, content=body, headers=headers).status_code
    except httpx.HTTPError as error:
        attempt["error"] = type(error).__name__
    attempt["ms"] = round((time.time() - started) * 1000)
    return attempt


class Webhooks:
    """Registered receivers and their deliveries, sent from background threads."""

    def __init__(self, retry_scale: Callable[[], float] = lambda: 1.0) -> None:
        self.registrations: dict[str, Registration] = {}
        self.deliveries: list[Delivery] = []
        self.retry_scale = retry_scale  # the ``webhook_retry_scale`` setting, read at each retry
        self._ids = itertools.count(1)
        self._sequence = itertools.count(1)
        self._due: list[tuple[float, int, Delivery, int]] = []  # (when, id, delivery, try)
        self._wake = threading.Condition()
        self._senders = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sandbox-webhook")
        self._thread: threading.Thread | None = None
        self._generation = 0  # bumped by clear(): deliveries of an earlier one are dropped

    def register(self, registration: Registration) -> None:
        self.registrations[registration.provider] = registration

    def snapshot(self, provider: str | None = None) -> dict[str, Any]:
        with self._wake:
            return {
                "registrations": [r.to_json() for r in self.registrations.values()],
                "deliveries": [
                    d.to_json()
                    for d in self.deliveries
                    if provider is None or d.provider == provider
                ],
            }

    def clear(self) -> None:
        with self._wake:
            self.registrations.clear()
            self.deliveries.clear()
            self._due.clear()
            self._generation += 1

    def changed(
        self,
        now_ms: int,
        provider: str,
        account_id: str,
        object_type: str,
        record_id: str,
        record: dict[str, Any] | None,
        action: str,
    ) -> None:
        """Queue the provider's webhook for one change (called under the store's lock)."""
        registration = self.registrations.get(provider)
        if registration is None or not registration.active:
            return
        found = payloads.event(
            provider,
            account_id,
            object_type,
            record_id,
            record,
            action,
            now_ms,
            registration.format,
        )
        if found is None:
            return
        body, headers = payloads.delivery(provider, [found], registration.key, next(self._sequence))
        delivery = Delivery(next(self._ids), provider, registration.url, body, headers)
        with self._wake:
            self.deliveries.append(delivery)
            del self.deliveries[:-KEPT]
            self._schedule(delivery, time.monotonic(), 0)

    def _schedule(self, delivery: Delivery, when: float, attempt: int) -> None:
        heapq.heappush(self._due, (when, delivery.id, delivery, attempt))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="sandbox-webhooks")
            self._thread.start()
        self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._due or self._due[0][0] > time.monotonic():
                    timeout = self._due[0][0] - time.monotonic() if self._due else None
                    self._wake.wait(timeout)
                _, _, delivery, attempt = heapq.heappop(self._due)
                generation = self._generation
            self._senders.submit(self._attempt, delivery, attempt, generation)

    def _attempt(self, delivery: Delivery, attempt: int, generation: int) -> None:
        result = send(delivery.provider, delivery.url, delivery.body, delivery.headers)
        with self._wake:
            if generation != self._generation:
                return
            delivery.attempts.append(result)
            if result["status"] is not None and accepted(delivery.provider, result["status"]):
                delivery.status = "delivered"
                return
            retries = RETRIES[delivery.provider]
            if attempt < len(retries):
                delay = retries[attempt] * self.retry_scale()
                self._schedule(delivery, time.monotonic() + delay, attempt + 1)
                return
            delivery.status = "failed"
            registration = self.registrations.get(delivery.provider)
            if delivery.provider == "xero" and registration is not None:
                registration.active = False  # Xero disables a webhook it cannot deliver
                registration.disabled_reason = "deliveries failed for 24 hours"
