"""The Xero emulator: Accounting API, connections, seed data and control adapters."""

from __future__ import annotations

from fastapi import APIRouter

from ledgerbridge.sandbox.xero import api, connections
from ledgerbridge.sandbox.xero.control import control_create, control_delete, control_update
from ledgerbridge.sandbox.xero.resources import OBJECT_TYPES
from ledgerbridge.sandbox.xero.seed import seed

router = APIRouter()
router.include_router(connections.router)
router.include_router(api.router)

__all__ = ["OBJECT_TYPES", "control_create", "control_delete", "control_update", "router", "seed"]
