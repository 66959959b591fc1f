"""ledgerbridge pointed at the sandbox, with webhook keys, DBOS's tables and helpers that
sign deliveries exactly as the sandbox's providers do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from ledgerbridge import runtime
from ledgerbridge.app import create_app
from ledgerbridge.inbound.models import ProviderNotification
from ledgerbridge.sandbox.webhooks import payloads
from ledgerbridge.services import Services
from ledgerbridge.settings import Settings
from tests.conftest import make_settings

XERO_KEY = "xero-webhook-key-" + "Zq8" * 10
QUICKBOOKS_KEY = "quickbooks-verifier-" + "Tk4" * 8
LIGHTSPEED_KEY = "sandbox-client-secret"  # the OAuth client secret signs Lightspeed's
KEYS = {"xero": XERO_KEY, "quickbooks": QUICKBOOKS_KEY, "lightspeed": LIGHTSPEED_KEY}


@pytest.fixture
def lb_settings(database_url: str, sandbox_url: str, tmp_path: Path) -> Settings:
    return make_settings(
        database_url,
        tmp_path,
        sandbox_url=sandbox_url,
        xero_webhook_key=XERO_KEY,
        quickbooks_webhook_verifier=QUICKBOOKS_KEY,
        provider_webhook_coalesce_seconds=5,
    )


@pytest.fixture
def svc(lb_settings: Settings) -> Iterator[Services]:
    runtime.migrate(lb_settings)  # DBOS's tables: coalescing is queued for real
    services = Services.build(lb_settings)
    yield services
    services.db.dispose()
    if services._dbos_client is not None:
        services._dbos_client.destroy()


@pytest.fixture
def lb(svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc=svc), raise_server_exceptions=False) as client:
        yield client


def signed(
    provider: str,
    account: str,
    object_type: str,
    record_id: str,
    action: str = "update",
    key: str | None = None,
    when_ms: int = 1_765_100_000_000,
    **options: Any,
) -> tuple[bytes, dict[str, str]]:
    """One delivery as the sandbox's ``provider`` would send it for one change."""
    event = payloads.event(
        provider, account, object_type, record_id, {"id": record_id}, action, when_ms, **options
    )
    assert event is not None
    return payloads.delivery(provider, [event], key or KEYS[provider])


def notifications(svc: Services, connection_id: str | int) -> list[ProviderNotification]:
    with svc.db.system(read_only=True) as session:
        rows = session.scalars(
            select(ProviderNotification)
            .where(ProviderNotification.connection_id == int(connection_id))
            .order_by(ProviderNotification.id)
        ).all()
        session.expunge_all()
        return list(rows)


def coalescing(svc: Services, connection_id: str | int) -> list[str]:
    """The coalescing workflows queued for the connection."""
    found = svc.dbos_client().list_workflows(
        workflow_id_prefix=f"provider-webhooks-{connection_id}-", load_input=False
    )
    return [w.workflow_id for w in found]
