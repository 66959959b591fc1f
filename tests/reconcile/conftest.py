"""Small builders shared by the reconciliation tests."""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest

from ledgerbridge.reconcile.matching import Item

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
