"""OFX and QFX statements (bank and credit card), read with ofxtools."""

import io
import re
import warnings
from typing import Any

from ofxtools.models.base import Aggregate
from ofxtools.Parser import OFXTree

from ledgerbridge.reconcile.statements.lines import StatementError, StatementLine, content_ids

_TRANSACTION_TAG = re.compile(rb"<STMTTRN>", re.IGNORECASE)


def parse_ofx(data: bytes) -> list[StatementLine]:
    """Every transaction of every bank or card statement in an OFX/QFX file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # private tags such as Quicken's <INTU.BID>
            converted = _parse_tree(data).convert()
    except StatementError:
        raise
    except Exception as error:  # ofxtools raises many unrelated types for bad input
        raise _locate(data, error) from None
    statements = list(converted.statements)
    if not statements:
        raise StatementError(None, "no bank or credit card statement in the file")

    starts = _transaction_lines(data)
    found: list[tuple[int, Any, str]] = []
    for statement in statements:
        for transaction in statement.banktranlist or ():
            own = transaction.currency.cursym if transaction.currency is not None else None
            line = starts[len(found)] if len(found) < len(starts) else 0
            found.append((line, transaction, str(own or statement.curdef).upper()))
    texts = [_description(transaction) for _, transaction, _ in found]
    ids = content_ids(
        (t.dtposted.date(), t.trnamt, text) for (_, t, _), text in zip(found, texts, strict=True)
    )
    return [
        StatementLine(
            line=line,
            id=transaction.fitid or generated,
            date=transaction.dtposted.date(),
            amount=transaction.trnamt,
            currency=currency,
            description=text,
            reference=transaction.refnum or transaction.checknum or None,
            counterparty=_counterparty(transaction),
        )
        for (line, transaction, currency), text, generated in zip(found, texts, ids, strict=True)
    ]


def _parse_tree(data: bytes) -> OFXTree:
    if not data.strip():
        raise StatementError(None, "the file is empty")
    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(data))
    except Exception as error:
        raise StatementError(None, f"not a readable OFX file: {_reason(error)}") from None
    return tree


def _locate(data: bytes, error: Exception) -> StatementError:
    """Find which transaction is invalid, converting them one by one."""
    starts = _transaction_lines(data)
    root = _parse_tree(data).getroot()
    transactions = root.iter("STMTTRN") if root is not None else iter(())
    for position, element in enumerate(transactions):
        try:
            Aggregate.from_etree(element)
        except Exception as inner:
            fitid = element.findtext("FITID")
            where = f"transaction {fitid.strip()}: " if fitid else ""
            line = starts[position] if position < len(starts) else None
            return StatementError(line, f"{where}{_reason(inner)}")
    return StatementError(None, f"invalid OFX statement: {_reason(error)}")


def _transaction_lines(data: bytes) -> list[int]:
    return [data.count(b"\n", 0, match.start()) + 1 for match in _TRANSACTION_TAG.finditer(data)]


def _counterparty(transaction: Any) -> str | None:
    if transaction.name:
        return str(transaction.name)
    if transaction.payee is not None and transaction.payee.name:
        return str(transaction.payee.name)
    return None


def _description(transaction: Any) -> str:
    parts = [_counterparty(transaction), transaction.memo]
    return " ".join(str(part).strip() for part in parts if part)


def _reason(error: Exception) -> str:
    if type(error).__name__ == "InvalidOperation":
        return "an amount is not a number"
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0].rstrip(":")
