"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from ledgerbridge import __version__
from ledgerbridge.audit import api as audit
from ledgerbridge.connections import api as connections
from ledgerbridge.connections import mappings
from ledgerbridge.errors import ERROR_RESPONSES, install_error_handlers
from ledgerbridge.events import api as events
from ledgerbridge.observability import health
from ledgerbridge.observability.metrics import HttpMetrics
from ledgerbridge.observability.middleware import RequestObservability
from ledgerbridge.push import api as push
from ledgerbridge.reconcile import api as reconcile_api
from ledgerbridge.reconcile import statements_api
from ledgerbridge.security import api as api_keys
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings, load_settings
from ledgerbridge.sync import api as sync


def operation_id(route: APIRoute) -> str:
    """The route function's name (``list_records``): what a generated client calls the method."""
    return route.name


def create_app(settings: Settings | None = None, svc: Services | None = None) -> FastAPI:
    settings = settings or (svc.settings if svc else load_settings())
    svc = svc or Services.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await svc.close()

    app = FastAPI(
        title="ledgerbridge",
        version=__version__,
        description="Connect Xero, QuickBooks Online and Lightspeed X-Series accounts; "
        "mirror, push and reconcile their data.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        generate_unique_id_function=operation_id,
    )
    app.state.services = svc
    app.state.metrics = HttpMetrics()
    install_error_handlers(app)
    routers = (
        health.router,
        api_keys.router,
        connections.router,
        mappings.router,
        sync.router,
        push.router,
        reconcile_api.router,
        statements_api.router,
        events.router,
        audit.router,
    )
    for router in routers:
        app.include_router(router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Trace-Id", "Location"],
        )
    app.add_middleware(RequestObservability, metrics=app.state.metrics)
    return app
