"""Small builders shared by the reconciliation tests."""

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import make_settings

from ledgerbridge import runtime
from ledgerbridge.app import create_app
from ledgerbridge.reconcile import runs
from ledgerbridge.reconcile.matching import Item
from ledgerbridge.services import Services

DAY = date(2024, 3, 1)


def payment(
    item_id: str,
    amount: str,
    *,
    text: str = "",
    payer: str | None = None,
    days: int = 0,
    currency: str = "EUR",
    reference: str | None = None,
) -> Item:
    return Item(
        id=item_id,
        amount=Decimal(amount),
        currency=currency,
        date=DAY + timedelta(days=days),
        reference=reference,
        text=text,
        counterparty=payer,
        kind="bank_line",
    )


def invoice(
    item_id: str,
    amount: str,
    *,
    customer: str | None = None,
    days: int = 0,
    terms: int | None = 30,
    currency: str = "EUR",
    reference: str | None = None,
) -> Item:
    issued = DAY + timedelta(days=days)
    return Item(
        id=item_id,
        amount=Decimal(amount),
        currency=currency,
        date=issued,
        reference=reference or item_id,
        counterparty=customer,
        due_date=issued + timedelta(days=terms) if terms is not None else None,
        kind="invoice",
    )


Builder = Callable[..., Item]


@pytest.fixture(name="pay")
def pay_fixture() -> Builder:
    return payment


@pytest.fixture(name="inv")
def inv_fixture() -> Builder:
    return invoice


# --- the service: jobs, runs and reviews through the API ---------------------------


@pytest.fixture
def rc_svc(database_url: str, tmp_path: Path) -> Iterator[Services]:
    """Services with a real DBOS system database (runs are enqueued and schedules made
    for real; ``run_job`` executes what the run workflow executes)."""
    settings = make_settings(database_url, tmp_path / "data")
    runtime.migrate(settings)
    services = Services.build(settings)
    yield services
    if services._dbos_client is not None:
        services._dbos_client.destroy()
    services.db.dispose()


@pytest.fixture
def rc(rc_svc: Services) -> Iterator[TestClient]:
    with TestClient(create_app(svc=rc_svc), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def run_job(rc_svc: Services) -> Callable[[str], None]:
    """Execute an accepted run as its workflow would."""

    def run(run_id: str) -> None:
        runs.execute(rc_svc, int(run_id))

    return run
