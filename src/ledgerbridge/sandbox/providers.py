"""The provider emulators the sandbox serves, and how they are seeded and reset."""

from __future__ import annotations

import importlib
import importlib.util
import random
import time
from collections.abc import Callable
from typing import Any, Protocol, cast

from fastapi import APIRouter

from ledgerbridge.sandbox.routing import PROVIDERS
from ledgerbridge.sandbox.scheduled import ScheduledChange
from ledgerbridge.sandbox.state import SandboxState, register_default_client

Record = dict[str, Any]


class ProviderModule(Protocol):
    """What each ``ledgerbridge.sandbox.<provider>`` package exports."""

    router: APIRouter
    OBJECT_TYPES: tuple[str, ...]
    seed: Callable[[SandboxState, random.Random, int], None]
    control_create: Callable[[SandboxState, str, str, Record], Record]
    control_update: Callable[[SandboxState, str, str, str, Record], Record]
    control_delete: Callable[[SandboxState, str, str, str], Record | None]


def provider_modules() -> dict[str, ProviderModule]:
    """Every provider package present in this installation, by provider name."""
    found: dict[str, ProviderModule] = {}
    for name in PROVIDERS:
        module_name = f"ledgerbridge.sandbox.{name}"
        spec = importlib.util.find_spec(module_name)
        if spec is not None and spec.origin is not None:  # a package, not a bare folder
            found[name] = cast(ProviderModule, importlib.import_module(module_name))
    return found


def seed_providers(state: SandboxState) -> None:
    """Fill the store from ``state.seed``; each provider draws from its own generator,
    so one provider's data does not change when another's seeding does. Only the
    providers in ``settings.seed_providers`` are seeded, when it is set."""
    wanted = state.settings.seed_providers
    with state.store.lock:
        for name, module in provider_modules().items():
            if wanted is not None and name not in wanted:
                continue
            started = time.perf_counter()
            module.seed(state, random.Random(f"{state.seed}:{name}"), state.size)
            state.seed_seconds[name] = time.perf_counter() - started


def reset(state: SandboxState) -> None:
    """Back to how the sandbox started: seeded data, initial settings, no grants,
    faults, scheduled changes, webhooks, rate-limit history or ledger. Registered clients are
    forgotten too."""
    if state.initial_settings is not None:
        state.settings = state.initial_settings
    state.webhooks.clear()  # first: re-seeding sends nothing
    with state.store.lock:
        state.store.clear()
        state.provider_data.clear()
    state.tokens.clear()
    state.tokens.clients.clear()
    register_default_client(state)
    state.faults.clear()
    state.limits.clear()
    state.ledger.clear()
    state.scheduled.clear()
    state.clock.reset()
    seed_providers(state)


def make_change(state: SandboxState, change: ScheduledChange) -> None:
    """Make a scheduled change now; a refusal is kept in ``change.error``."""
    module = provider_modules().get(change.provider)
    try:
        if module is None:
            raise LookupError(f"Unknown provider {change.provider!r}.")
        with state.store.lock:
            if change.action == "create":
                module.control_create(state, change.account_id, change.object_type, change.body)
            elif change.action == "update":
                module.control_update(
                    state, change.account_id, change.object_type, str(change.record_id), change.body
                )
            else:
                module.control_delete(
                    state, change.account_id, change.object_type, str(change.record_id)
                )
    except (LookupError, ValueError) as error:
        change.error = str(error)
