"""OFX and QFX statements through ofxtools."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ledgerbridge.reconcile.statements import StatementError, parse_ofx

FIXTURES = Path(__file__).parent / "fixtures"


def test_bank_statement_in_sgml_ofx():
    credit, debit = parse_ofx((FIXTURES / "statement.ofx").read_bytes())
    assert (credit.id, credit.date, credit.amount, credit.currency) == (
        "20240102-1",
        date(2024, 1, 2),
        Decimal("120.50"),
        "EUR",
    )
    assert credit.counterparty == "ACME LTD"
    assert credit.description == "ACME LTD INV-104 thanks"
    assert (debit.amount, debit.line) == (Decimal("-2.00"), 37)


def test_credit_card_statement_in_xml_qfx():
    (line,) = parse_ofx((FIXTURES / "statement.qfx").read_bytes())
    assert (line.id, line.amount, line.currency) == ("cc-1", Decimal("-45.10"), "USD")


def test_bad_amount_names_the_transaction_and_its_line():
    with pytest.raises(StatementError) as error:
        parse_ofx((FIXTURES / "bad_amount.ofx").read_bytes())
    assert error.value.line == 37
    assert "transaction 20240103-1" in error.value.problem


def test_truncated_and_foreign_files_are_refused():
    whole = (FIXTURES / "statement.ofx").read_bytes()
    for data in (whole[: len(whole) // 2], b"date,amount\n2024-01-01,1\n", b""):
        with pytest.raises(StatementError):
            parse_ofx(data)
