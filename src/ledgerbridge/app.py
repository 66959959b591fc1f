"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.routing import APIRoute

from ledgerbridge import __version__, apidocs, health
from ledgerbridge.audit import api as audit
from ledgerbridge.connections import api as connections
from ledgerbridge.connections import mappings
from ledgerbridge.erasure import api as erasure
from ledgerbridge.errors import ERROR_RESPONSES, install_error_handlers
from ledgerbridge.events import api as events
from ledgerbridge.inbound import api as provider_webhooks
from ledgerbridge.observability.metrics import HttpMetrics, Row, Totals
from ledgerbridge.observability.middleware import RequestObservability
from ledgerbridge.overload import (
    Admission,
    install_overload_handlers,
    size_thread_pool,
)
from ledgerbridge.push import api as push
from ledgerbridge.reconcile import api as reconcile_api
from ledgerbridge.reconcile import statements_api
from ledgerbridge.security import api as api_keys
from ledgerbridge.security.limits import BodyLimit
from ledgerbridge.security.principal import Gate
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings, load_settings
from ledgerbridge.sync import api as sync
from ledgerbridge.sync import drift
from ledgerbridge.webhooks import api as webhooks

UPLOAD_FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the form's small fields


def operation_id(route: APIRoute) -> str:
    """The route function's name (``list_records``): what a generated client calls the method."""
    return route.name


def create_app(settings: Settings | None = None, svc: Services | None = None) -> FastAPI:
    settings = settings or (svc.settings if svc else load_settings())
    svc = svc or Services.build(settings)

    gate = Gate.build(svc.db, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        size_thread_pool(settings)
        yield
        gate.close()
        await svc.close()

    app = FastAPI(
        title="ledgerbridge",
        version=__version__,
        description="Connect Xero, QuickBooks Online and Lightspeed X-Series accounts; "
        "mirror, push and reconcile their data.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # Off in production unless LEDGERBRIDGE_API_DOCS=true; served offline (apidocs.py).
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
    )
    if settings.docs_enabled:
        apidocs.install(app)
    app.state.services = svc
    app.state.gate = gate
    app.state.metrics = HttpMetrics()
    app.state.metrics.registry.register(_drift_totals(svc))
    install_error_handlers(app)
    install_overload_handlers(app)
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
        erasure.router,
        provider_webhooks.router,
        webhooks.router,
    )
    for router in routers:
        app.include_router(router)
    # Innermost middleware: bodies are bounded before any route reads them or authenticates.
    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        routes={
            ("POST", "/v1/statements"): statements_api.MAX_BYTES + UPLOAD_FORM_OVERHEAD,
            **{
                ("POST", path): provider_webhooks.MAX_BYTES
                for path in provider_webhooks.PATHS.values()
            },
        },
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Trace-Id", "Location"],
        )
    app.add_middleware(
        Admission,
        limit=settings.request_concurrency,
        queue=settings.api_queue_limit,
        wait=settings.api_queue_seconds,
    )
    app.add_middleware(RequestObservability, metrics=app.state.metrics)
    return app


def _drift_totals(svc: Services) -> Totals:
    def fetch() -> list[Row]:
        with svc.db.system(read_only=True) as session:
            return list(drift.totals(session))

    return Totals(
        "ledgerbridge_drift_audit_objects",
        "Objects the drift audit compared with the provider (checked), found different "
        "(drifted) and repaired, by provider and object type",
        ["provider", "object_type"],
        ["checked", "drifted", "repaired"],
        fetch,
    )
