"""The sandbox application: the three provider emulators on one origin, plus ``/_sandbox``.

Each provider lives under its own prefix at its production paths (``/xero``,
``/quickbooks``, ``/lightspeed``); see docs/sandbox.md for the full mapping.
"""

from __future__ import annotations

from fastapi import FastAPI

from ledgerbridge.sandbox import control, oauth
from ledgerbridge.sandbox.middleware import SandboxMiddleware
from ledgerbridge.sandbox.providers import provider_modules, seed_providers
from ledgerbridge.sandbox.settings import SandboxSettings
from ledgerbridge.sandbox.state import new_state
from ledgerbridge.sandbox.webhooks import control as webhooks


def create_app(settings: SandboxSettings | None = None, seed: int = 0, size: int = 100) -> FastAPI:
    """A seeded sandbox: ``size`` records per object type per account, drawn from ``seed``."""
    state = new_state(settings, seed, size)
    seed_providers(state)
    app = FastAPI(
        title="ledgerbridge provider sandbox",
        docs_url="/_sandbox/docs",
        openapi_url="/_sandbox/openapi.json",
        redoc_url=None,
    )
    app.state.sandbox = state
    app.include_router(webhooks.router, prefix="/_sandbox")
    app.include_router(control.router, prefix="/_sandbox")
    app.add_exception_handler(control.ControlError, control.control_error_response)
    app.include_router(oauth.router)
    for name, module in provider_modules().items():
        app.include_router(module.router, prefix=f"/{name}")
    # Outermost, around Starlette's own error handling (see middleware.py for why).
    app.middleware_stack = SandboxMiddleware(app.build_middleware_stack(), state)
    return app
