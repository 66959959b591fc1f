"""Lightspeed Retail (X-Series) API 2.0 emulator, served under ``/lightspeed``.

Stores are addressed by domain prefix: ``/lightspeed/{domain_prefix}/api/2.0/{collection}``
stands for ``https://{domain_prefix}.retail.lightspeed.app/api/2.0/{collection}``.
"""

from ledgerbridge.sandbox.lightspeed.api import router
from ledgerbridge.sandbox.lightspeed.control import control_create, control_delete, control_update
from ledgerbridge.sandbox.lightspeed.records import OBJECT_TYPES
from ledgerbridge.sandbox.lightspeed.seeding import seed

__all__ = [
    "OBJECT_TYPES",
    "control_create",
    "control_delete",
    "control_update",
    "router",
    "seed",
]
