"""The request ledger: every request the sandbox received, so tests can count calls."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class LedgerEntry:
    at_ms: int
    method: str
    path: str
    query: str
    provider: str | None
    account: str | None
    status: int
    grant_type: str | None = None  # token endpoint calls only
    fault: str | None = None  # the injected fault that answered, if any

    def to_json(self) -> dict[str, Any]:
        entry = asdict(self)
        entry["time"] = datetime.fromtimestamp(self.at_ms / 1000, UTC).isoformat()
        return entry


class Ledger:
    """An in-memory, bounded log of requests, oldest first."""

    def __init__(self, max_entries: int = 500_000) -> None:
        self._entries: deque[LedgerEntry] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def record(self, entry: LedgerEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(
        self,
        provider: str | None = None,
        account: str | None = None,
        path_prefix: str | None = None,
        since_ms: int | None = None,
    ) -> list[LedgerEntry]:
        with self._lock:
            entries = list(self._entries)
        return [
            e
            for e in entries
            if (provider is None or e.provider == provider)
            and (account is None or e.account == account)
            and (path_prefix is None or e.path.startswith(path_prefix))
            and (since_ms is None or e.at_ms >= since_ms)
        ]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
