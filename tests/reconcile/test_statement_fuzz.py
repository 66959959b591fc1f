"""Any file given to the statement parsers yields its lines or a StatementError (a 422
naming the line and the problem), never another exception, and never a line that the
database could not store. The OFX reader also agrees with ofxtools on valid files."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ofxtools.Parser import OFXTree

from ledgerbridge.reconcile.statements import (
    CsvMapping,
    StatementError,
    StatementLine,
    parse_camt053,
    parse_csv,
    parse_ofx,
)
from ledgerbridge.reconcile.statements.lines import check_amount

FIXTURES = Path(__file__).parent / "fixtures"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FULL_MAPPING = CsvMapping(
    date_column="date",
    amount_column="amount",
    description_columns=["description"],
    reference_column="reference",
    id_column="id",
    currency_column="currency",
    value_date_column="value_date",
    date_formats=["%Y-%m-%d", "%d/%m/%Y"],
)

Parser = Callable[[bytes], list[StatementLine]]
PARSERS: dict[str, Parser] = {
    "ofx": parse_ofx,
    "camt053": parse_camt053,
    "csv": lambda data: parse_csv(data, "generic", currency="EUR"),
    "csv-full": lambda data: parse_csv(data, FULL_MAPPING),
}
SEEDS: dict[str, list[bytes]] = {
    "ofx": [(FIXTURES / name).read_bytes() for name in ("statement.ofx", "statement.qfx")],
    "camt053": [(FIXTURES / "statement.camt053.xml").read_bytes()],
    "csv": [(FIXTURES / "generic.csv").read_bytes()],
    "csv-full": [
        b"date,amount,description,reference,id,currency,value_date\n"
        b"2024-01-02,120.50,Payment,INV-1,b1,EUR,02/01/2024\n"
        b"2024-01-03,-2.00,Fee,,b2,USD,\n"
    ],
}


def storable(lines: list[StatementLine]) -> None:
    """What the import stores fits its columns (see reconcile/models.py)."""
    for line in lines:
        assert isinstance(line.line, int) and isinstance(line.date, date)
        assert isinstance(line.amount, Decimal) and check_amount(line.amount) is None
        assert len(line.currency) == 3
        texts = (line.id, line.description, line.reference, line.counterparty, line.currency)
        assert all("\x00" not in text for text in texts if text)


def parses_cleanly(kind: str, data: bytes) -> None:
    try:
        lines = PARSERS[kind](data)
    except StatementError as error:
        assert error.line is None or isinstance(error.line, int)
        assert error.problem
        return
    storable(lines)


@st.composite
def mutated(draw: st.DrawFn, kind: str) -> bytes:
    """A seed file with a few bytes replaced, inserted, deleted or repeated."""
    data = bytearray(draw(st.sampled_from(SEEDS[kind])))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        change = draw(st.sampled_from(["replace", "insert", "delete", "repeat"]))
        piece = draw(st.binary(min_size=1, max_size=8)) if change != "delete" else b""
        if change == "replace":
            data[at : at + len(piece)] = piece
        elif change == "insert":
            data[at:at] = piece
        elif change == "delete":
            del data[at : at + draw(st.integers(1, 40))]
        else:
            end = min(len(data), at + draw(st.integers(1, 200)))
            data[at:at] = data[at:end] * draw(st.integers(1, 3))
    return bytes(data)


OFX_WORDS = [
    "<OFX>", "</OFX>", "<STMTRS>", "</STMTRS>", "<CCSTMTRS>", "</CCSTMTRS>",
    "<BANKTRANLIST>", "</BANKTRANLIST>", "<STMTTRN>", "</STMTTRN>", "<CURDEF>EUR",
    "<CURDEF>", "<DTPOSTED>20240102", "<DTPOSTED>20240231", "<DTPOSTED>20240102235959[-5:EST]",
    "<TRNAMT>1.50", "<TRNAMT>-2,5", "<TRNAMT>NaN", "<TRNAMT>1E+999", "<FITID>a", "<NAME>n",
    "</NAME>", "<MEMO>&amp;", "<PAYEE>", "</PAYEE>", "<CURRENCY>", "</CURRENCY>",
    "<CURSYM>usd", "<![CDATA[x]]>", "<![CDATA[", "<?xml?>", "<!-- c -->", "<X/>", "<", ">",
    "text", "\n", "\x00", "é",
]  # fmt: skip


@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    for kind in PARSERS:
        parses_cleanly(kind, data)


@FUZZ
@given(st.data())
def test_damaged_files(data: st.DataObject) -> None:
    for kind in PARSERS:
        parses_cleanly(kind, data.draw(mutated(kind), label=kind))


@FUZZ
@given(words=st.lists(st.sampled_from(OFX_WORDS), max_size=60))
def test_ofx_token_soup(words: list[str]) -> None:
    parses_cleanly("ofx", "".join(words).encode())
    parses_cleanly("ofx", ("<OFX><STMTRS><BANKTRANLIST>" + "".join(words)).encode())


# --- the OFX reader agrees with ofxtools on valid files ------------------------------

transactions = st.lists(
    st.tuples(
        st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
        st.decimals(min_value=-10**9, max_value=10**9, places=2, allow_nan=False),
        st.text(st.characters(min_codepoint=32, max_codepoint=126, exclude_characters="<>&"),
                min_size=1, max_size=32).map(str.strip).filter(bool),
        st.sampled_from(["", "memo & more", "INV-1"]),
        st.sampled_from(["EUR", "USD", None]),
    ),
    min_size=1,
    max_size=8,
)  # fmt: skip


def ofx_document(found: list[tuple[date, Decimal, str, str, str | None]], xml: bool) -> bytes:
    def leaf(tag: str, value: str) -> str:
        value = value.replace("&", "&amp;")
        return f"<{tag}>{value}</{tag}>" if xml else f"<{tag}>{value}\n"

    body = []
    for n, (day, amount, name, memo, currency) in enumerate(found):
        body.append(
            "<STMTTRN>" + leaf("TRNTYPE", "OTHER") + leaf("DTPOSTED", day.strftime("%Y%m%d"))
        )
        body.append(leaf("TRNAMT", str(amount)) + leaf("FITID", f"t{n}") + leaf("NAME", name))
        if memo:
            body.append(leaf("MEMO", memo))
        if currency:
            body.append(
                "<CURRENCY>" + leaf("CURRATE", "1.0") + leaf("CURSYM", currency) + "</CURRENCY>"
            )
        body.append("</STMTTRN>\n")
    header = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<?OFX OFXHEADER="200" VERSION="220" '
        'SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n'
        if xml
        else "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\n"
        "CHARSET:1252\nCOMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n"
    )
    status = "<STATUS>" + leaf("CODE", "0") + leaf("SEVERITY", "INFO") + "</STATUS>"
    document = (
        f"{header}<OFX><SIGNONMSGSRSV1><SONRS>{status}{leaf('DTSERVER', '20240105120000')}"
        f"{leaf('LANGUAGE', 'ENG')}</SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1><STMTTRNRS>"
        f"{leaf('TRNUID', '1')}{status}<STMTRS>{leaf('CURDEF', 'GBP')}<BANKACCTFROM>"
        f"{leaf('BANKID', '1')}{leaf('ACCTID', '2')}{leaf('ACCTTYPE', 'CHECKING')}</BANKACCTFROM>"
        f"<BANKTRANLIST>{leaf('DTSTART', '19900101')}{leaf('DTEND', '20901231')}\n"
        f"{''.join(body)}</BANKTRANLIST><LEDGERBAL>"
        f"{leaf('BALAMT', '0')}{leaf('DTASOF', '20240105')}</LEDGERBAL></STMTRS>"
        "</STMTTRNRS></BANKMSGSRSV1></OFX>\n"
    )
    return document.encode()


def by_ofxtools(data: bytes) -> list[tuple[object, ...]]:
    tree = OFXTree()
    tree.parse(io.BytesIO(data))
    found = []
    for statement in tree.convert().statements:
        for t in statement.banktranlist:
            own = t.currency.cursym if t.currency is not None else None
            text = " ".join(str(p).strip() for p in (t.name, t.memo) if p)
            found.append((t.fitid, t.dtposted.date(), t.trnamt, str(own or statement.curdef), text))
    return found


@FUZZ
@given(found=transactions, xml=st.booleans())
def test_the_ofx_reader_agrees_with_ofxtools(
    found: list[tuple[date, Decimal, str, str, str | None]], xml: bool
) -> None:
    data = ofx_document(found, xml)
    ours = [
        (line.id, line.date, line.amount, line.currency, line.description)
        for line in parse_ofx(data)
    ]
    assert ours == by_ofxtools(data)
