"""CSV statements: column mappings, presets, and files that must be refused whole."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ledgerbridge.reconcile.statements import (
    PRESETS,
    CsvMapping,
    StatementError,
    parse_csv,
    to_item,
)

FIXTURES = Path(__file__).parent / "fixtures"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_generic_preset():
    lines = parse_csv(read("generic.csv"), "generic", currency="EUR")
    assert [(line.line, line.date, line.amount, line.description) for line in lines] == [
        (2, date(2024, 1, 2), Decimal("120.50"), "Payment INV-104 ACME LTD"),
        (3, date(2024, 1, 3), Decimal("-2.00"), "Bank fee"),
        (4, date(2024, 1, 5), Decimal("1200.00"), "Transfer, Beta GmbH"),
    ]
    assert {line.currency for line in lines} == {"EUR"}


def test_debit_credit_preset_signs_debits_negative():
    lines = parse_csv(read("debit_credit.csv"), "debit_credit", currency="GBP")
    assert [line.amount for line in lines] == [
        Decimal("120.50"),
        Decimal("-2.00"),
        Decimal("1200.00"),
    ]
    assert lines[0].date == date(2024, 1, 2)  # day first


def test_european_preset_reads_decimal_commas_and_counterparties():
    first, second = parse_csv(read("eu_semicolon.csv"), "eu_semicolon")
    assert (first.amount, first.currency, first.counterparty) == (
        Decimal("1234.56"),
        "EUR",
        "ACME GmbH",
    )
    assert first.description == "GUTSCHRIFT RE INV-104"
    assert (second.amount, second.date) == (Decimal("-4.90"), date(2024, 1, 3))  # two-digit year


def test_custom_mapping_with_ids_and_references():
    data = b"Booked;Amount;Ref;Id;Payer\n2024-02-01;(12.50);INV-9;tx-1;Acme\n"
    mapping = CsvMapping(
        date_column="booked",
        amount_column="amount",
        reference_column="ref",
        id_column="id",
        counterparty_column="payer",
        delimiter=";",
        default_currency="USD",
    )
    (line,) = parse_csv(data, mapping)
    assert (line.id, line.amount, line.reference, line.counterparty) == (
        "tx-1",
        Decimal("-12.50"),
        "INV-9",
        "Acme",
    )
    item = to_item(line)
    assert (item.id, item.reference, item.kind) == ("tx-1", "INV-9", "bank_line")


def test_ids_are_stable_across_imports_and_distinct_for_identical_lines():
    data = b"date,description,amount\n2024-01-02,fee,-1.00\n2024-01-02,fee,-1.00\n"
    first = [line.id for line in parse_csv(data, "generic", currency="EUR")]
    again = [line.id for line in parse_csv(data, "generic", currency="EUR")]
    assert first == again
    assert len(set(first)) == 2


def test_header_only_file_has_no_lines():
    assert parse_csv(b"date,description,amount\n", "generic", currency="EUR") == []


@pytest.mark.parametrize(
    ("data", "line", "problem"),
    [
        (read("bad_fields.csv"), 3, "expected 3 fields"),
        (read("bad_date.csv"), 3, "date '2024-13-03' does not match %Y-%m-%d"),
        (b"date,description,amount\n2024-01-02,x,12,50\n", 2, "expected 3 fields"),
        (b"date,description,amount\n2024-01-02,x,abc\n", 2, "amount 'abc' is not a number"),
        (b"date,description,amount\n2024-01-02,x,\n", 2, "amount is empty"),
        (b"date,memo,amount\n2024-01-02,x,1\n", 1, "column 'description' not found"),
        (
            b"date,description,amount\n2024-01-02,ok,1\n2024-01-03,\xff\xfe,2\n",
            3,
            "not valid utf-8-sig",
        ),
        (b'date,description,amount\n2024-01-02,"open quote,1\n', 2, "malformed CSV"),
        (b"Date,Description,Debit,Credit\n02/01/2024,x,,\n", 2, "both debit and credit are empty"),
    ],
)
def test_bad_files_name_the_line_and_the_problem(data, line, problem):
    preset = "debit_credit" if data.startswith(b"Date,") else "generic"
    with pytest.raises(StatementError) as error:
        parse_csv(data, preset, currency="EUR")
    assert error.value.line == line
    assert problem in error.value.problem
    assert str(error.value).startswith(f"line {line}: ")


def test_file_level_problems():
    with pytest.raises(StatementError, match="the file is empty"):
        parse_csv(b"", "generic", currency="EUR")
    with pytest.raises(StatementError, match="no currency"):
        parse_csv(b"date,description,amount\n", "generic")
    with pytest.raises(StatementError, match="unknown CSV preset 'nope'"):
        parse_csv(b"x", "nope")


def test_mapping_is_validated():
    with pytest.raises(ValueError, match="either amount_column"):
        CsvMapping(date_column="d")
    with pytest.raises(ValueError, match="either amount_column"):
        CsvMapping(date_column="d", amount_column="a", debit_column="b")
    assert set(PRESETS) == {"generic", "debit_credit", "eu_semicolon"}
