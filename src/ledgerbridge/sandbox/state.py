"""Everything one running sandbox knows, reachable from routes as ``request.app.state.sandbox``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from ledgerbridge.sandbox.clock import Clock
from ledgerbridge.sandbox.faults import Faults
from ledgerbridge.sandbox.ledger import Ledger
from ledgerbridge.sandbox.ratelimits import RateLimits
from ledgerbridge.sandbox.scheduled import Scheduled
from ledgerbridge.sandbox.settings import SandboxSettings
from ledgerbridge.sandbox.store import Store
from ledgerbridge.sandbox.tokens import Client, TokenRegistry
from ledgerbridge.sandbox.webhooks.delivery import Webhooks


@dataclass
class SandboxState:
    settings: SandboxSettings
    store: Store
    tokens: TokenRegistry
    clock: Clock
    provider_data: dict[str, Any] = field(default_factory=dict)
    ledger: Ledger = field(default_factory=Ledger)
    faults: Faults = field(default_factory=Faults)
    limits: RateLimits = field(default_factory=RateLimits)
    scheduled: Scheduled = field(default_factory=Scheduled)  # changes made while clients read
    webhooks: Webhooks = field(default_factory=Webhooks)  # where changes are sent
    seed: int = 0
    size: int = 0
    initial_settings: SandboxSettings | None = None  # what POST /_sandbox/reset goes back to
    seed_seconds: dict[str, float] = field(default_factory=dict)  # how long each seeding took


def new_state(
    settings: SandboxSettings | None = None, seed: int = 0, size: int = 0
) -> SandboxState:
    """An empty sandbox (no accounts yet) that knows the default OAuth client."""
    settings = settings or SandboxSettings()
    clock = Clock()
    state = SandboxState(
        settings=settings,
        store=Store(),
        tokens=TokenRegistry(clock),
        clock=clock,
        faults=Faults(seed),
        seed=seed,
        size=size,
        initial_settings=settings,
    )
    register_default_client(state)
    state.webhooks.retry_scale = lambda: state.settings.webhook_retry_scale
    state.store.listener = lambda *change: state.webhooks.changed(state.clock.time_ms(), *change)
    return state


def register_default_client(state: SandboxState) -> None:
    settings = state.settings
    state.tokens.register_client(Client(settings.client_id, settings.client_secret))


def sandbox_state(request: Request) -> SandboxState:
    """The sandbox serving ``request``; use as ``Depends(sandbox_state)``."""
    state: SandboxState = request.app.state.sandbox
    return state
