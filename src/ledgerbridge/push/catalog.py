"""Which provider modules write which models (the one place that lists them)."""

from __future__ import annotations

from typing import Protocol

import httpx
from pydantic import BaseModel

from ledgerbridge.providers import Provider
from ledgerbridge.providers.lightspeed import push as lightspeed_push
from ledgerbridge.providers.pushing import Action, Pushed, PushRequest, Write
from ledgerbridge.providers.quickbooks import push as quickbooks_push
from ledgerbridge.providers.xero import push as xero_push
from ledgerbridge.unified import ContactWrite, InvoiceWrite, Model, PurchaseOrderWrite

WRITES: dict[Model, type[BaseModel]] = {
    Model.invoice: InvoiceWrite,
    Model.purchase_order: PurchaseOrderWrite,
    Model.contact: ContactWrite,
}


class Pusher(Protocol):
    """What ``providers/<name>/push.py`` offers (see ``providers/pushing.py``)."""

    CAPABILITIES: dict[Model, frozenset[Action]]

    def problems(self, model: Model, action: Action, body: Write | None) -> list[str]: ...

    async def execute(self, http: httpx.AsyncClient, request: PushRequest) -> Pushed: ...


PUSHERS: dict[Provider, Pusher] = {
    Provider.xero: xero_push,
    Provider.quickbooks: quickbooks_push,
    Provider.lightspeed: lightspeed_push,
}
