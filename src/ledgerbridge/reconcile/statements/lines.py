"""What every statement importer produces, and its one error type."""

import codecs
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
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


DECODE_CHUNK = 1 << 20


def decode(data: bytes, encoding: str) -> str:
    """``data`` as text, decoded a MiB at a time: one call over a 50 MiB file in a
    single-byte code page holds the interpreter lock for half a second, stalling every
    other thread (the event loop included) meanwhile. LookupError: an unknown encoding."""
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(data)
    parts = []
    for start in range(0, len(data), DECODE_CHUNK):
        buffered = len(decoder.getstate()[0])
        try:
            parts.append(decoder.decode(view[start : start + DECODE_CHUNK], final=False))
        except UnicodeDecodeError as error:
            at = start - buffered + error.start
            line = data.count(b"\n", 0, at) + 1
            raise StatementError(line, f"not valid {encoding} text: {error.reason}") from None
    try:
        parts.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError as error:
        line = data.count(b"\n") + 1
        raise StatementError(line, f"not valid {encoding} text: {error.reason}") from None
    return "".join(parts)


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


class ContentIds:
    """Stable ids for lines without a bank id: a digest of date, amount and text, with
    a counter for identical lines, so that re-importing a statement gives the same ids."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def next(self, line: StatementLine) -> str:
        return self.of(line.date, line.amount, line.description)

    def of(self, booked: dt.date, amount: Decimal, text: str) -> str:
        digest = hashlib.sha256(f"{booked.isoformat()}|{amount}|{text}".encode()).hexdigest()[:16]
        self.seen[digest] += 1
        count = self.seen[digest]
        return digest if count == 1 else f"{digest}-{count}"


def with_content_ids(lines: Iterable[StatementLine]) -> list[StatementLine]:
    """``lines``, each without a bank id given the one ``ContentIds`` derives from it."""
    ids = ContentIds()
    found = []
    for line in lines:
        generated = ids.next(line)  # lines with a bank id count towards identical ones too
        found.append(replace(line, id=line.id or generated))
    return found
