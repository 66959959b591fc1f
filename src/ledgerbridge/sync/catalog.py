"""Which provider modules pull which object types (the one place that lists them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any, Protocol, cast

import httpx

from ledgerbridge.providers import Provider
from ledgerbridge.providers.lightspeed import mapping as lightspeed_mapping
from ledgerbridge.providers.lightspeed import pull as lightspeed_pull
from ledgerbridge.providers.pulling import Cursor, FetchedPage, ObjectType, RemoteObject
from ledgerbridge.providers.quickbooks import mapping as quickbooks_mapping
from ledgerbridge.providers.quickbooks import pull as quickbooks_pull
from ledgerbridge.providers.xero import mapping as xero_mapping
from ledgerbridge.providers.xero import pull as xero_pull
from ledgerbridge.unified import Unified


class Puller(Protocol):
    """What ``providers/<name>/pull.py`` offers (see ``providers/pulling.py``)."""

    OBJECT_TYPES: dict[str, ObjectType]

    def start(self, saved: Cursor | None, overlap: timedelta) -> Cursor: ...

    def position(self, cursor: Cursor) -> tuple[Any, ...]: ...

    async def fetch_page(
        self,
        http: httpx.AsyncClient,
        object_type: str,
        cursor: Cursor,
        *,
        page_size: int | None = None,
    ) -> FetchedPage: ...

    async def sweep_ids(self, http: httpx.AsyncClient, object_type: str) -> set[str]: ...

    def remote_object(self, object_type: str, record: dict[str, Any]) -> RemoteObject: ...

    async def fetch_tombstones(
        self, http: httpx.AsyncClient, object_types: Sequence[str], since: datetime
    ) -> list[tuple[str, RemoteObject]]: ...


class DependentReader(Protocol):
    """Optional, for a provider whose records carry fields derived from others without
    being re-listed (QuickBooks: a customer's balance moves with its invoices)."""

    def dependents(
        self, object_type: str, objects: Sequence[RemoteObject]
    ) -> dict[str, set[str]]: ...

    async def fetch_by_ids(
        self, http: httpx.AsyncClient, object_type: str, ids: Sequence[str]
    ) -> list[RemoteObject]: ...


class Mapper(Protocol):
    def to_unified(self, object_type: str, obj: RemoteObject) -> Unified: ...


def _modules(pull: ModuleType, mapping: ModuleType) -> tuple[Puller, Mapper]:
    return cast(Puller, pull), cast(Mapper, mapping)


MODULES: dict[Provider, tuple[Puller, Mapper]] = {
    Provider.xero: _modules(xero_pull, xero_mapping),
    Provider.quickbooks: _modules(quickbooks_pull, quickbooks_mapping),
    Provider.lightspeed: _modules(lightspeed_pull, lightspeed_mapping),
}


# The providers that have such records; the others' pages move nothing elsewhere.
DEPENDENT_READERS: dict[Provider, DependentReader] = {
    Provider.quickbooks: cast(DependentReader, quickbooks_pull),
}


def object_types(provider: Provider) -> dict[str, ObjectType]:
    return MODULES[provider][0].OBJECT_TYPES
