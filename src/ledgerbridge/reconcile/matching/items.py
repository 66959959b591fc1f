"""The records a reconciliation compares."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Item:
    """One money movement or document on either side of a reconciliation.

    `amount` is signed as its own side sees it (a bank credit is positive, a debit
    negative; an invoice is positive, a credit note negative). The engine compares
    magnitudes and checks signs against the job's sign convention.
    """

    id: str
    amount: Decimal
    currency: str
    date: dt.date
    reference: str | None = None
    text: str = ""
    counterparty: str | None = None
    due_date: dt.date | None = None
    kind: str = "payment"
