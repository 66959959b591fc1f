"""CSV statements with a column mapping, and presets for common bank exports."""

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledgerbridge.reconcile.statements.lines import (
    StatementError,
    StatementLine,
    check_amount,
    check_text,
    decode,
    with_content_ids,
)

_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


class CsvMapping(BaseModel):
    """Which header names hold which field. Either `amount_column` (signed) or
    `debit_column` and/or `credit_column` (unsigned; debits become negative)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    date_column: str
    amount_column: str | None = None
    debit_column: str | None = None
    credit_column: str | None = None
    description_columns: list[str] = Field(default_factory=list)
    reference_column: str | None = None
    counterparty_column: str | None = None
    currency_column: str | None = None
    id_column: str | None = None
    value_date_column: str | None = None
    default_currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    date_formats: list[str] = Field(default_factory=lambda: ["%Y-%m-%d"], min_length=1)
    delimiter: Literal[",", ";", "\t", "|"] = ","
    decimal_separator: Literal[".", ","] = "."
    thousands_separator: Literal["", ",", ".", " ", "'"] = ""
    encoding: str = "utf-8-sig"

    @model_validator(mode="after")
    def _check(self) -> Self:
        has_split = self.debit_column is not None or self.credit_column is not None
        if (self.amount_column is None) == (not has_split):
            raise ValueError("map either amount_column, or debit_column and/or credit_column")
        if self.decimal_separator == self.thousands_separator:
            raise ValueError("decimal and thousands separators must differ")
        return self


PRESETS: dict[str, CsvMapping] = {
    # date,description,amount with ISO dates: the shape most tools export.
    "generic": CsvMapping(
        date_column="date", amount_column="amount", description_columns=["description"]
    ),
    # Separate, unsigned debit and credit columns and day-first dates (common in the UK).
    "debit_credit": CsvMapping(
        date_column="Date",
        debit_column="Debit",
        credit_column="Credit",
        description_columns=["Description"],
        date_formats=["%d/%m/%Y", "%d/%m/%y"],
        thousands_separator=",",
    ),
    # German-style export: semicolons, decimal commas, dotted dates.
    "eu_semicolon": CsvMapping(
        date_column="Buchungstag",
        value_date_column="Valutadatum",
        amount_column="Betrag",
        description_columns=["Buchungstext", "Verwendungszweck"],
        counterparty_column="Beguenstigter/Zahlungspflichtiger",
        currency_column="Waehrung",
        date_formats=["%d.%m.%Y", "%d.%m.%y"],
        delimiter=";",
        decimal_separator=",",
        thousands_separator=".",
    ),
}


def parse_csv(
    data: bytes, mapping: CsvMapping | str, *, currency: str | None = None
) -> list[StatementLine]:
    """Lines of a CSV statement. `mapping` is a CsvMapping or a preset's name;
    `currency` applies when the file has no currency column."""
    if isinstance(mapping, str):
        if mapping not in PRESETS:
            raise StatementError(
                None, f"unknown CSV preset {mapping!r}; known: {', '.join(PRESETS)}"
            )
        mapping = PRESETS[mapping]
    text = _decode(data, mapping.encoding)
    check_text(text)
    default_currency = currency or mapping.default_currency
    if mapping.currency_column is None and default_currency is None:
        raise StatementError(None, "no currency: map a currency column or give a currency")

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise StatementError(None, "the file is empty")
        columns = _locate(header, mapping)
        rows = []
        start = reader.line_num + 1
        for row in reader:
            if any(field.strip() for field in row):
                if len(row) != len(header):
                    raise StatementError(
                        start, f"expected {len(header)} fields as in the header, found {len(row)}"
                    )
                rows.append((start, row))
            start = reader.line_num + 1
    except csv.Error as error:
        raise StatementError(reader.line_num or 1, f"malformed CSV: {error}") from None

    parsed = [_parse_row(line, row, columns, mapping, default_currency) for line, row in rows]
    return with_content_ids(parsed)


def _decode(data: bytes, encoding: str) -> str:
    if not data.strip():
        raise StatementError(None, "the file is empty")
    try:
        return decode(data, encoding)
    except LookupError:
        raise StatementError(None, f"unknown encoding {encoding!r}") from None


def _locate(header: list[str], mapping: CsvMapping) -> dict[str, int | list[int]]:
    positions = {name.strip().casefold(): index for index, name in enumerate(header)}

    def find(column: str) -> int:
        index = positions.get(column.strip().casefold())
        if index is None:
            found = ", ".join(repr(name) for name in header)
            raise StatementError(1, f"column {column!r} not found in the header ({found})")
        return index

    located: dict[str, int | list[int]] = {
        "description": [find(column) for column in mapping.description_columns]
    }
    for field in (
        "date",
        "amount",
        "debit",
        "credit",
        "reference",
        "counterparty",
        "currency",
        "id",
        "value_date",
    ):
        column = getattr(mapping, f"{field}_column")
        if column is not None:
            located[field] = find(column)
    return located


def _parse_row(
    line: int,
    row: list[str],
    columns: dict[str, int | list[int]],
    mapping: CsvMapping,
    default_currency: str | None,
) -> StatementLine:
    def cell(field: str) -> str | None:
        index = columns.get(field)
        if not isinstance(index, int):
            return None
        return row[index].strip() or None

    booked = _parse_date(line, cell("date"), mapping.date_formats, "date")
    value_raw = cell("value_date")
    value_date = (
        _parse_date(line, value_raw, mapping.date_formats, "value date") if value_raw else None
    )
    if "amount" in columns:
        amount = _parse_amount(line, cell("amount"), mapping, "amount")
    else:
        debit, credit = cell("debit"), cell("credit")
        if debit is None and credit is None:
            raise StatementError(line, "both debit and credit are empty")
        amount = Decimal(0)
        if credit is not None:
            amount += abs(_parse_amount(line, credit, mapping, "credit"))
        if debit is not None:
            amount -= abs(_parse_amount(line, debit, mapping, "debit"))
    currency = (cell("currency") or default_currency or "").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise StatementError(line, f"currency {currency!r} is not a three-letter code")
    description_columns = columns["description"]
    assert isinstance(description_columns, list)
    description = " ".join(row[i].strip() for i in description_columns if row[i].strip())
    return StatementLine(
        line=line,
        id=cell("id") or "",
        date=booked,
        amount=amount,
        currency=currency,
        description=description,
        reference=cell("reference"),
        counterparty=cell("counterparty"),
        value_date=value_date,
    )


def _parse_date(line: int, raw: str | None, formats: list[str], label: str) -> date:
    if raw is None:
        raise StatementError(line, f"{label} is empty")
    for pattern in formats:
        try:
            return datetime.strptime(raw, pattern).date()
        except ValueError:
            continue
    raise StatementError(line, f"{label} {raw!r} does not match {' or '.join(formats)}")


def _parse_amount(line: int, raw: str | None, mapping: CsvMapping, label: str) -> Decimal:
    if raw is None:
        raise StatementError(line, f"{label} is empty")
    text = raw.replace("\u00a0", " ").strip()
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    if text.endswith("-"):
        negative, text = True, text[:-1].strip()
    if mapping.thousands_separator:
        text = text.replace(mapping.thousands_separator, "")
    text = text.replace(" ", "").replace(mapping.decimal_separator, ".")
    if not _NUMBER.fullmatch(text):
        raise StatementError(line, f"{label} {raw!r} is not a number")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise StatementError(line, f"{label} {raw!r} is not a number") from None
    problem = check_amount(amount)
    if problem:
        raise StatementError(line, f"{label} {raw!r}: {problem}")
    return -amount if negative else amount
