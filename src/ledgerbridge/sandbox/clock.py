"""The sandbox's sense of time, which tests can move forward (``POST /_sandbox/clock``)."""

from __future__ import annotations

import threading
import time


class Clock:
    """Wall-clock milliseconds plus an adjustable offset.

    ``now_ms`` is for record stamps: strictly increasing, so two writes never share an
    ``UpdatedDateUTC`` by accident. ``time_ms`` is for everything else (token expiry,
    rate-limit windows, the ledger) and never runs ahead of the offset wall clock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset_ms = 0
        self._last_stamp = 0

    def time_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self._offset_ms

    def now_ms(self) -> int:
        with self._lock:
            self._last_stamp = max(self.time_ms(), self._last_stamp + 1)
            return self._last_stamp

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset_ms += int(seconds * 1000)

    def reset(self) -> None:
        with self._lock:
            self._offset_ms = 0
