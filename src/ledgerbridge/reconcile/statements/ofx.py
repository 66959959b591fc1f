"""OFX and QFX statements (bank and credit card), version 1 (SGML) and 2 (XML).

One pass over the file, in time linear in its size: the markup is read token by token
(leaf elements may go unclosed, as SGML OFX leaves them), the transactions of every
``STMTRS`` and ``CCSTMTRS`` are kept, and everything else is only checked to be well
formed. Dates and amounts are read as ofxtools reads them (a date with a time zone is
the UTC day; a decimal comma is accepted); other fields are taken as they are, so a
bank's over-long ``NAME`` does not refuse the whole file.
"""

from __future__ import annotations

import re
import xml.sax.saxutils
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from ledgerbridge.reconcile.statements.lines import (
    ContentIds,
    StatementError,
    StatementLine,
    check_amount,
    check_text,
    decode,
)

# Every "<" starts exactly one token: a tag with the text up to the next "<"; a CDATA
# section, a processing instruction or a comment; or (the last alternative) anything
# malformed. Tokens therefore follow each other without gaps, and a lazy ``.*?`` that
# finds no end fails once, at the first malformed token, where reading stops.
_TOKEN = re.compile(
    r"<(/?)([A-Z][A-Z0-9._]*)(/?)>([^<]*)"
    r"|<!\[CDATA\[(.*?)\]\]>([^<]*)"
    r"|<(?:\?.*?\?|!--.*?--)>([^<]*)"
    r"|(<[^<]*)",
    re.DOTALL,
)
_HEADER_FIELD = re.compile(r"^\s*([A-Z]+)\s*:\s*(\S*)\s*$", re.MULTILINE)
_DATE = re.compile(
    r"(\d{4})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])"
    r"(?:([01]\d|2[0-3])([0-5]\d)(?:([0-5]\d|60)(?:\.\d{3})?"
    r"(?:\[([+-]?\d{1,2})(?:[.:]?(\d\d))?(?::[^\]]*)?\])?)?)?"
)
_PLAIN_AMOUNT = re.compile(r"[+-]?\d{1,15}(?:[.,]\d{0,6})?")
_AMOUNT = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)")
_CODECS = {"1252": "cp1252", "ISO-8859-1": "latin-1", "NONE": "utf-8"}
_STATEMENTS = frozenset({"STMTRS", "CCSTMTRS"})
_STRUCTURE = frozenset({"OFX", "STMTTRN", "BANKTRANLIST", *_STATEMENTS})
_ENTITIES = {"&nbsp;": " ", "&apos;": "'", "&quot;": '"'}
_MAX_DEPTH = 64


@dataclass
class _Transaction:
    line: int
    depth: int  # of its STMTTRN element
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class _Statement:
    currency: str | None = None
    waiting: list[_Transaction] = field(default_factory=list)  # read before its CURDEF


def parse_ofx(data: bytes) -> list[StatementLine]:
    """Every transaction of every bank or card statement in an OFX/QFX file."""
    return list(iter_ofx(data))


def iter_ofx(data: bytes) -> Iterator[StatementLine]:
    """The transactions of every bank or card statement in an OFX/QFX file, each as soon
    as it is read: a large file is never held as lines all at once. A problem found
    later raises StatementError then, after earlier lines were given."""
    if not data.strip():
        raise StatementError(None, "the file is empty")
    text = _decode(data)
    check_text(text)
    ids = ContentIds()
    seen = False
    for statement, transaction in _read(text):
        seen = True
        if transaction is not None and (statement.waiting or statement.currency is None):
            statement.waiting.append(transaction)  # its currency may come later
        if statement.currency is not None or transaction is None:
            ready = statement.waiting or ([transaction] if transaction is not None else [])
            statement.waiting = []
            for each in ready:
                line = _line(each, statement.currency)
                yield line if line.id else replace(line, id=ids.next(line))
    if not seen:
        raise StatementError(None, "no bank or credit card statement in the file")


def _decode(data: bytes) -> str:
    """The file as text, in the character set its header names (UTF-8 for OFX 2)."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    codec = "utf-8"
    if not head.startswith(b"<"):  # an OFX 1 header: KEY:VALUE lines
        start = head.find(b"<")
        fields = dict(
            _HEADER_FIELD.findall(head[: start if start >= 0 else None].decode("latin-1"))
        )
        if fields.get("ENCODING", "").upper() != "UTF-8":
            codec = _CODECS.get(fields.get("CHARSET", "NONE").upper(), "cp1252")
    return decode(data, codec)


class _Lines:
    """Line numbers of positions met in increasing order, each newline counted once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.counted_to = 0
        self.lines = 1

    def at(self, position: int) -> int:
        if position > self.counted_to:
            self.lines += self.text.count("\n", self.counted_to, position)
            self.counted_to = position
        return self.lines


def _read(text: str) -> Iterator[tuple[_Statement, _Transaction | None]]:
    """Each transaction of a statement as its element closes, and (statement, None)
    as each statement closes."""
    lines = _Lines(text)
    start = text.find("<")
    if start < 0 or re.search(r"<OFX>", text[start : start + 65536]) is None:
        raise StatementError(None, "not a readable OFX file: no <OFX> element")
    stack: list[str] = []
    statement: _Statement | None = None
    transaction: _Transaction | None = None
    pending = ""  # a leaf just read, whose closing tag may follow (OFX 2)
    opened = ""  # an element just opened with no text: a CDATA value may follow
    ended = False  # </OFX> was read
    position, end = start, len(text)
    while position < end:
        token = _TOKEN.match(text, position)
        assert token is not None  # the last alternative matches any "<"
        position = token.end()
        close, tag, empty, body, cdata, cdata_tail, other_tail, bad = token.groups()
        if tag is None:
            if bad is not None:
                raise StatementError(lines.at(token.start()), "malformed markup: a stray '<'")
            tail = cdata_tail if cdata is not None else other_tail
            if tail.strip():
                raise StatementError(lines.at(token.start()), "text outside any element")
            if cdata is None:
                continue
            if not opened or opened in _STRUCTURE:
                raise StatementError(lines.at(token.start()), "character data outside a field")
            stack.pop()  # <TAG><![CDATA[value]]>: TAG was a leaf after all
            tag, body, close, empty = opened, cdata, "", ""
        opened = ""
        if close:
            if body.strip():
                raise StatementError(lines.at(token.start()), f"text after </{tag}>")
            if pending == tag:  # </NAME> after <NAME>value
                pending = ""
                continue
            pending = ""
            if not stack or stack[-1] != tag:
                open_tag = f"<{stack[-1]}>" if stack else "nothing"
                raise StatementError(lines.at(token.start()), f"</{tag}> does not close {open_tag}")
            stack.pop()
            ended = not stack
            if transaction is not None and len(stack) < transaction.depth:
                if statement is not None:
                    yield statement, transaction
                transaction = None
            elif statement is not None and tag in _STATEMENTS and tag not in stack:
                yield statement, None
                statement = None
            continue
        pending = ""
        if not stack and (tag != "OFX" or ended or empty):
            raise StatementError(lines.at(token.start()), f"<{tag}> outside <OFX>")
        value = body.strip()
        if empty:  # <TAG/>
            if value:
                raise StatementError(lines.at(token.start()), f"text after <{tag}/>")
            continue
        if value:  # a leaf: <TAG>value
            if not stack:
                raise StatementError(lines.at(token.start()), f"<{tag}> holds no elements")
            pending = tag
            parent = stack[-1]
            if transaction is not None:
                key = tag if parent == "STMTTRN" else f"{parent}.{tag}"
                if key not in transaction.fields:
                    transaction.fields[key] = value
            elif tag == "CURDEF" and statement is not None and parent in _STATEMENTS:
                statement.currency = value
            continue
        if len(stack) >= _MAX_DEPTH:
            raise StatementError(lines.at(token.start()), "elements nested too deeply")
        if tag in _STATEMENTS and statement is None:
            statement = _Statement()
        elif tag == "STMTTRN" and statement is not None and stack[-1] == "BANKTRANLIST":
            transaction = _Transaction(lines.at(token.start()), len(stack) + 1)
            quick = _simple_transaction(text, position)
            if quick is not None:  # read at once; its </STMTTRN> is read next
                transaction.fields, position = quick
        stack.append(tag)
        opened = tag
    if stack:
        raise StatementError(lines.at(len(text)), f"the file ends inside <{stack[-1]}>")


_SIMPLE_TOKEN = re.compile(r"<(/?)([A-Z][A-Z0-9._]*)>([^<]*)")


def _simple_transaction(text: str, start: int) -> tuple[dict[str, str], int] | None:
    """The fields of a transaction made only of plain tags and values (nearly all are),
    and where its </STMTTRN> starts; None for anything else, which the general reader
    then reads (and names the problem of) token by token."""
    close_at = text.find("</STMTTRN>", start)
    if close_at < 0:
        return None
    block = text[start:close_at]
    tokens = _SIMPLE_TOKEN.findall(block)
    if block.count("<") != len(tokens) or (block and block[0] != "<"):
        return None
    fields: dict[str, str] = {}
    inner: list[str] = []
    pending = ""
    for close, tag, body in tokens:
        value = body.strip()
        if close:
            if value:
                return None
            if tag == pending:
                pending = ""
            elif inner and inner[-1] == tag:
                inner.pop()
                pending = ""
            else:
                return None
        elif value:
            key = f"{inner[-1]}.{tag}" if inner else tag
            if key not in fields:
                fields[key] = value
            pending = tag
        elif tag == "STMTTRN" or len(inner) >= _MAX_DEPTH:
            return None
        else:
            inner.append(tag)
            pending = ""
    if inner:
        return None
    return fields, close_at


def _line(transaction: _Transaction, default_currency: str | None) -> StatementLine:
    fields = transaction.fields
    fitid = _unescape(fields.get("FITID", ""))
    where = f"transaction {fitid}: " if fitid else ""

    def fail(problem: str) -> StatementError:
        return StatementError(transaction.line, f"{where}{problem}")

    raw_date = fields.get("DTPOSTED")
    if raw_date is None:
        raise fail("no DTPOSTED (the date posted)")
    posted = _date(raw_date)
    if posted is None:
        raise fail(f"DTPOSTED {raw_date!r} is not an OFX date")
    raw_amount = fields.get("TRNAMT")
    if raw_amount is None:
        raise fail("no TRNAMT (the amount)")
    if _PLAIN_AMOUNT.fullmatch(raw_amount):
        amount = Decimal(raw_amount.replace(",", ".") if "," in raw_amount else raw_amount)
    else:
        amount, problem = _amount(raw_amount)
        if problem:
            raise fail(f"TRNAMT {raw_amount!r}: {problem}")
    currency = (fields.get("CURRENCY.CURSYM") or default_currency or "").upper()
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise fail(f"currency {currency!r} is not a three-letter code")
    name = fields.get("NAME") or fields.get("PAYEE.NAME")
    counterparty = _unescape(name) if name else None
    memo = fields.get("MEMO")
    reference = fields.get("REFNUM") or fields.get("CHECKNUM")
    return StatementLine(
        line=transaction.line,
        id=fitid,
        date=posted,
        amount=amount,
        currency=currency,
        description=" ".join(part for part in (counterparty, memo and _unescape(memo)) if part),
        reference=_unescape(reference) if reference else None,
        counterparty=counterparty,
    )


def _unescape(value: str) -> str:
    return xml.sax.saxutils.unescape(value, _ENTITIES) if "&" in value else value


@lru_cache(maxsize=4096)
def _date(raw: str) -> date | None:
    found = _DATE.fullmatch(raw.strip())
    if found is None:
        return None
    year, month, day, hour, minute, second, offset_hours, offset_minutes = found.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            min(int(second or 0), 59),
            tzinfo=UTC,
        )
    except ValueError:  # 31 February
        return None
    if offset_hours:  # the UTC day, as ofxtools gives it
        hours = int(offset_hours)
        minutes = int(offset_minutes or 0) * (-1 if offset_hours.startswith("-") else 1)
        try:
            moment -= timedelta(hours=hours, minutes=minutes)
        except OverflowError:
            return None
    return moment.date()


def _amount(raw: str) -> tuple[Decimal, str | None]:
    text = raw.strip()
    if not _AMOUNT.fullmatch(text):
        return Decimal(0), "an amount is not a number"
    try:
        amount = Decimal(text.replace(",", "."))
    except InvalidOperation:
        return Decimal(0), "an amount is not a number"
    return amount, check_amount(amount)
