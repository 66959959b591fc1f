"""ISO 20022 camt.053 (bank-to-customer statement) files, read with lxml.

One line per booked entry (<Ntry>); pending and informational entries are skipped.
lxml rather than a dedicated camt parser because errors must name their line, and
lxml keeps each element's source line.
"""

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from ledgerbridge.reconcile.statements.lines import (
    StatementError,
    StatementLine,
    check_amount,
    with_content_ids,
)

_NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:camt.053."
_SKIPPED_STATUSES = {"PDNG", "INFO", "FUTR"}
_NOT_PROVIDED = "NOTPROVIDED"

Element = etree._Element
Namespaces = dict[str, str]


def parse_camt053(data: bytes) -> list[StatementLine]:
    root = _parse_xml(data)
    namespace = etree.QName(root).namespace or ""
    if not namespace.startswith(_NAMESPACE_PREFIX):
        raise StatementError(_line(root), f"not a camt.053 document (namespace {namespace!r})")
    ns = {"c": namespace}
    statements = root.findall("c:BkToCstmrStmt/c:Stmt", ns)
    if not statements:
        raise StatementError(_line(root), "no statement (Stmt) in the document")

    entries = []
    for statement in statements:
        for entry in statement.findall("c:Ntry", ns):
            status = _text(entry, "c:Sts/c:Cd", ns) or _text(entry, "c:Sts", ns)
            if status not in _SKIPPED_STATUSES:
                entries.append(_entry(entry, ns))
    return with_content_ids(entries)


def _line(element: Element) -> int | None:
    line: object = element.sourceline  # typed loosely by the stubs
    return line if isinstance(line, int) else None


def _parse_xml(data: bytes) -> Element:
    if not data.strip():
        raise StatementError(None, "the file is empty")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as error:
        raise StatementError(error.lineno, f"malformed XML: {error.msg}") from None


def _entry(entry: Element, ns: Namespaces) -> StatementLine:
    line = _line(entry)
    amount_element = entry.find("c:Amt", ns)
    if amount_element is None:
        raise StatementError(line, "entry without an amount (Amt)")
    amount = _amount(amount_element)
    currency = (amount_element.get("Ccy") or "").upper()
    if len(currency) != 3:
        raise StatementError(_line(amount_element), "amount without a currency (Ccy)")
    direction = _text(entry, "c:CdtDbtInd", ns)
    if direction not in ("CRDT", "DBIT"):
        raise StatementError(line, f"credit/debit indicator {direction!r} is not CRDT or DBIT")
    booked = _date(entry, "c:BookgDt", ns) or _date(entry, "c:ValDt", ns)
    if booked is None:
        raise StatementError(line, "entry without a booking or value date")

    details = entry.findall("c:NtryDtls/c:TxDtls", ns)
    remittance = [
        text
        for detail in details
        for element in detail.findall("c:RmtInf/c:Ustrd", ns)
        if (text := (element.text or "").strip())
    ]
    additional = _text(entry, "c:AddtlNtryInf", ns)
    references = [
        ref
        for detail in details
        for ref in (
            _text(detail, "c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref", ns),
            _text(detail, "c:Refs/c:EndToEndId", ns),
        )
        if ref and ref != _NOT_PROVIDED
    ]
    party = "Dbtr" if direction == "CRDT" else "Cdtr"
    names = [
        name
        for detail in details
        for name in (
            _text(detail, f"c:RltdPties/c:{party}/c:Nm", ns),
            _text(detail, f"c:RltdPties/c:{party}/c:Pty/c:Nm", ns),
        )
        if name
    ]
    return StatementLine(
        line=line or 0,
        id=_text(entry, "c:AcctSvcrRef", ns) or _text(entry, "c:NtryRef", ns) or "",
        date=booked,
        amount=amount if direction == "CRDT" else -amount,
        currency=currency,
        description=" ".join([*remittance, *([additional] if additional else [])]),
        reference=references[0] if references else None,
        counterparty=names[0] if names else None,
        value_date=_date(entry, "c:ValDt", ns),
    )


def _text(element: Element, path: str, ns: Namespaces) -> str | None:
    found = element.find(path, ns)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _amount(element: Element) -> Decimal:
    raw = (element.text or "").strip()
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount < 0:
        raise StatementError(_line(element), f"amount {raw!r} is not a positive number")
    problem = check_amount(amount)
    if problem:
        raise StatementError(_line(element), f"amount {raw!r}: {problem}")
    return amount


def _date(entry: Element, path: str, ns: Namespaces) -> date | None:
    holder = entry.find(path, ns)
    if holder is None:
        return None
    day, moment = holder.find("c:Dt", ns), holder.find("c:DtTm", ns)
    element = day if day is not None else moment
    if element is None or not element.text:
        return None
    text = element.text.strip()
    try:
        return date.fromisoformat(text) if element is day else datetime.fromisoformat(text).date()
    except ValueError:
        raise StatementError(_line(element), f"date {text!r} is not an ISO date") from None
