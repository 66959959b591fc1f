"""The QuickBooks Online Accounting API v3 emulator.

Served under ``/quickbooks`` at QuickBooks' own paths: ``/quickbooks/v3/company/{realmId}/
query``, ``/cdc``, ``/{entity}``, ``/{entity}/{id}``, ``/batch``, ``/companyinfo/{realmId}``.
"""

from ledgerbridge.sandbox.quickbooks.api import router
from ledgerbridge.sandbox.quickbooks.control import (
    control_create,
    control_delete,
    control_update,
)
from ledgerbridge.sandbox.quickbooks.entities import OBJECT_TYPES
from ledgerbridge.sandbox.quickbooks.seed import seed

__all__ = [
    "OBJECT_TYPES",
    "control_create",
    "control_delete",
    "control_update",
    "router",
    "seed",
]
