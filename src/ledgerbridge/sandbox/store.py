"""The in-memory record store the three provider emulators share.

Every provider account holds one collection per object type. A collection keeps its
records in change order, keyed by ``(stamp, seq, id)``: ``stamp`` is what the provider
filters on (Xero ``UpdatedDateUTC`` and QuickBooks ``LastUpdatedTime`` in epoch
milliseconds, Lightspeed's store-wide ``version``), ``seq`` a store-wide counter that
breaks ties between records sharing a stamp. "Everything changed since X", and any page
of it, is then a bisect and a slice, however large the collection.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList

Record = dict[str, Any]
_Key = tuple[int, int, str]
# (record id, the record or None when hard-deleted, action: "create" | "update" | "delete")
ChangeHook = Callable[[str, Record | None, str], None]
# (provider, account id, object type, record id, record or None, action): every change a
# provider's user or API makes, e.g. to send that provider's webhooks (``webhooks/``).
Listener = Callable[[str, str, str, str, Record | None, str], None]


@dataclass(frozen=True)
class Account:
    """One provider account: a Xero organisation, a QuickBooks company, a Lightspeed store."""

    provider: str  # "xero" | "quickbooks" | "lightspeed"
    account_id: str  # Xero tenantId, QuickBooks realmId, Lightspeed domain_prefix
    name: str
    currency: str
    registers: int = 1  # Lightspeed's rate limit grows with the store's registers


class Collection:
    """The records of one object type in one account, in change order."""

    def __init__(self, seq: Iterator[int], on_change: ChangeHook | None = None) -> None:
        self._seq = seq
        self._on_change = on_change
        self._records: dict[str, Record] = {}
        self._keys: dict[str, _Key] = {}
        self._order: SortedList = SortedList()
        self._max_stamp = 0

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._records

    @property
    def max_stamp(self) -> int:
        return self._max_stamp

    def get(self, record_id: str) -> Record | None:
        return self._records.get(record_id)

    def put(self, record_id: str, record: Record, stamp: int) -> None:
        """Insert or replace a record; it moves to the end of the change order for ``stamp``."""
        old = self._keys.get(record_id)
        if old is not None:
            self._order.remove(old)
        key = (stamp, next(self._seq), record_id)
        self._keys[record_id] = key
        self._records[record_id] = record
        self._order.add(key)
        self._max_stamp = max(self._max_stamp, stamp)
        if self._on_change is not None:
            self._on_change(record_id, record, "create" if old is None else "update")

    def remove(self, record_id: str) -> Record | None:
        """Hard-delete a record: it vanishes from every listing (Xero Items, QBO transactions)."""
        key = self._keys.pop(record_id, None)
        if key is None:
            return None
        self._order.remove(key)
        removed = self._records.pop(record_id)
        if self._on_change is not None:
            self._on_change(record_id, None, "delete")
        return removed

    def stamp_of(self, record_id: str) -> int | None:
        key = self._keys.get(record_id)
        return None if key is None else key[0]

    def count_since(self, stamp: int | None = None, *, inclusive: bool = True) -> int:
        return len(self._order) - self._start(stamp, inclusive)

    def page_since(
        self,
        stamp: int | None = None,
        *,
        inclusive: bool = True,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Record]:
        """Records changed at or after ``stamp`` (after, if not ``inclusive``), in change order.

        ``stamp=None`` means every record. ``offset``/``limit`` cut one page out of them.
        """
        start = self._start(stamp, inclusive) + offset
        stop = None if limit is None else start + limit
        return [self._records[key[2]] for key in self._order.islice(start, stop)]

    def all(self) -> list[Record]:
        return self.page_since(None)

    def ids(self) -> list[str]:
        return [key[2] for key in self._order]

    def _start(self, stamp: int | None, inclusive: bool) -> int:
        if stamp is None:
            return 0
        if inclusive:
            return int(self._order.bisect_left((stamp, -1, "")))
        return int(self._order.bisect_left((stamp + 1, -1, "")))


@dataclass
class Store:
    """Accounts and their collections. One lock serialises writers; readers take it too."""

    accounts: dict[tuple[str, str], Account] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    listener: Listener | None = None  # told of every change after seeding (see Collection)
    _collections: dict[tuple[str, str, str], Collection] = field(default_factory=dict)
    _seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add_account(self, account: Account) -> Account:
        self.accounts[(account.provider, account.account_id)] = account
        return account

    def account(self, provider: str, account_id: str) -> Account | None:
        return self.accounts.get((provider, account_id))

    def accounts_of(self, provider: str) -> list[Account]:
        return [a for (p, _), a in self.accounts.items() if p == provider]

    def collection(self, provider: str, account_id: str, object_type: str) -> Collection:
        """The collection, created empty on first use."""
        key = (provider, account_id, object_type)
        found = self._collections.get(key)
        if found is None:
            found = self._collections[key] = Collection(self._seq, self._hook(*key))
        return found

    def _hook(self, provider: str, account_id: str, object_type: str) -> ChangeHook:
        def changed(record_id: str, record: Record | None, action: str) -> None:
            if self.listener is not None:
                self.listener(provider, account_id, object_type, record_id, record, action)

        return changed

    def clear(self) -> None:
        self.accounts.clear()
        self._collections.clear()
