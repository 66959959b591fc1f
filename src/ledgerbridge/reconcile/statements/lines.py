"""What every statement importer produces, and its one error type."""

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from ledgerbridge.reconcile.matching.items import Item


@dataclass(frozen=True, slots=True)
class StatementLine:
    line: int  # where the transaction starts in the file
    id: str  # the bank's transaction id, or one derived from the line's content
    date: dt.date
    amount: Decimal  # credits positive, debits negative
    currency: str
    description: str
    reference: str | None = None
    counterparty: str | None = None
    value_date: dt.date | None = None


MAX_AMOUNT = Decimal(10) ** 15
MAX_AMOUNT_TEXT = 40  # statement_lines.amount
MAX_DECIMALS = 6  # amounts are summed in millionths


def check_amount(amount: Decimal) -> str | None:
    """Why ``amount`` cannot be stored and summed exactly, or None when it can."""
    if not amount.is_finite():
        return "not a number"
    if abs(amount) >= MAX_AMOUNT:
        return "too large"
    exponent = amount.as_tuple().exponent
    if (
        isinstance(exponent, int)
        and exponent < -MAX_DECIMALS
        and amount != amount.quantize(Decimal(1).scaleb(-MAX_DECIMALS))
    ):
        return f"more than {MAX_DECIMALS} decimal places"
    if len(str(amount)) > MAX_AMOUNT_TEXT:
        return "too many digits"
    return None


def check_text(text: str) -> None:
    """Refuse text a database column cannot hold (PostgreSQL refuses NUL characters)."""
    position = text.find("\x00")
    if position >= 0:
        line = text.count("\n", 0, position) + 1
        raise StatementError(line, "the file contains a NUL character")


class StatementError(Exception):
    """A statement that cannot be imported; nothing from it is."""

    def __init__(self, line: int | None, problem: str) -> None:
        self.line = line
        self.problem = problem
        super().__init__(f"line {line}: {problem}" if line is not None else problem)


def to_item(line: StatementLine, kind: str = "bank_line") -> Item:
    return Item(
        id=line.id,
        amount=line.amount,
        currency=line.currency,
        date=line.date,
        reference=line.reference,
        text=line.description,
        counterparty=line.counterparty,
        kind=kind,
    )


def content_ids(lines: Iterable[tuple[dt.date, Decimal, str]]) -> list[str]:
    """Stable ids for lines without a bank id: a digest of date, amount and text, with
    a counter for identical lines, so that re-importing a statement gives the same ids."""
    seen: Counter[str] = Counter()
    ids = []
    for booked, amount, text in lines:
        digest = hashlib.sha256(f"{booked.isoformat()}|{amount}|{text}".encode()).hexdigest()[:16]
        seen[digest] += 1
        ids.append(digest if seen[digest] == 1 else f"{digest}-{seen[digest]}")
    return ids
