"""ISO 20022 camt.053 statements."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ledgerbridge.reconcile.statements import StatementError, parse_camt053, to_item

FIXTURES = Path(__file__).parent / "fixtures"
HEAD = (
    b'<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">\n'
    b"<BkToCstmrStmt><Stmt>\n"
)
TAIL = b"</Stmt></BkToCstmrStmt></Document>\n"


def entry(body: bytes) -> bytes:
    return HEAD + b"<Ntry>\n" + body + b"</Ntry>\n" + TAIL


def test_booked_entries_become_lines_and_pending_ones_are_skipped():
    credit, debit = parse_camt053((FIXTURES / "statement.camt053.xml").read_bytes())
    assert (credit.id, credit.date, credit.amount, credit.currency) == (
        "BANKREF-1",
        date(2024, 1, 2),
        Decimal("120.50"),
        "EUR",
    )
    assert (credit.reference, credit.counterparty, credit.description) == (
        "E2E-104",
        "ACME GmbH",
        "INV-104 thank you",
    )
    assert (debit.amount, debit.date, debit.description) == (
        Decimal("-2.00"),
        date(2024, 1, 3),
        "Account fee",
    )
    assert to_item(credit).text == "INV-104 thank you"


def test_older_versions_with_plain_status_and_names():
    body = (
        b'<Amt Ccy="CHF">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>\n'
        b"<BookgDt><Dt>2024-02-01</Dt></BookgDt>\n"
        b"<NtryDtls><TxDtls><RltdPties><Dbtr><Nm>Zeta AG</Nm></Dbtr></RltdPties>\n"
        b"<RmtInf><Strd><CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>\n"
        b"</TxDtls></NtryDtls>\n"
    )
    (line,) = parse_camt053(entry(body))
    assert (line.counterparty, line.reference, line.currency) == (
        "Zeta AG",
        "RF18539007547034",
        "CHF",
    )


@pytest.mark.parametrize(
    ("data", "line", "problem"),
    [
        ((FIXTURES / "bad_amount.camt053.xml").read_bytes(), 30, "amount '2,00'"),
        (entry(b'<Amt Ccy="EUR">1.00</Amt>\n<CdtDbtInd>XX</CdtDbtInd>\n'), 4, "indicator 'XX'"),
        (entry(b'<Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>\n'), 4, "without a booking"),
        (entry(b"<CdtDbtInd>CRDT</CdtDbtInd>\n"), 4, "without an amount"),
        (
            entry(
                b'<Amt Ccy="EUR">1</Amt><CdtDbtInd>CRDT</CdtDbtInd>\n'
                b"<BookgDt><Dt>2024-02-30</Dt></BookgDt>\n"
            ),
            6,
            "date '2024-02-30'",
        ),
        (HEAD + b"<Ntry>\n<Amt>\n", 6, "malformed XML"),  # where the data ends
        (b'<?xml version="1.0"?>\n<Document xmlns="urn:other"/>', 2, "not a camt.053 document"),
    ],
)
def test_bad_files_name_the_line_and_the_problem(data, line, problem):
    with pytest.raises(StatementError) as error:
        parse_camt053(data)
    assert error.value.line == line
    assert problem in error.value.problem


def test_entities_are_not_expanded():
    data = (
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "boom">]>'
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        b"<BkToCstmrStmt><Stmt><Ntry><Amt Ccy='EUR'>1</Amt><CdtDbtInd>CRDT</CdtDbtInd>"
        b"<BookgDt><Dt>2024-01-01</Dt></BookgDt><AddtlNtryInf>&x;</AddtlNtryInf></Ntry>"
        b"</Stmt></BkToCstmrStmt></Document>"
    )
    (line,) = parse_camt053(data)
    assert "boom" not in line.description
