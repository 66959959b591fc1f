"""Xero's ``where`` filter: the simple .NET-style expressions clients send.

Supported: comparisons ``== != > >= < <=`` between a (dotted) field and a literal
(``"text"``, numbers, ``true``/``false``/``null``, ``Guid("...")``,
``DateTime(2024, 5, 1)``); ``Field.Contains("x")``, ``.StartsWith``, ``.EndsWith``;
``.ToLower()``/``.ToUpper()`` on the field; ``AND``/``OR``/``&&``/``||``, ``!`` and
parentheses. For example ``Type=="ACCREC" AND Status=="AUTHORISED"`` or
``Contact.ContactID==Guid("...") && Date>=DateTime(2024,01,01)``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ledgerbridge.sandbox.xero.dates import ms_of

Record = dict[str, Any]
Predicate = Callable[[Record], bool]

_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>-?\d+(?:\.\d+)?)'
    r"|(?P<op>==|!=|>=|<=|&&|\|\||[<>(),.!])|(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_TEXT_TESTS: dict[str, Callable[[str, str], bool]] = {
    "Contains": lambda value, text: text in value,
    "StartsWith": lambda value, text: value.startswith(text),
    "EndsWith": lambda value, text: value.endswith(text),
}


class WhereError(ValueError):
    pass


class _DateLiteral(int):
    """A DateTime(...) literal, in epoch ms: fields are compared to it as dates."""


class _GuidLiteral(str):
    """A Guid("...") literal: compared without regard to case."""


def parse_where(text: str) -> Predicate:
    tokens = _tokenize(text)
    parser = _Parser(tokens)
    predicate = parser.or_expression()
    if parser.position != len(tokens):
        raise WhereError(f"Unexpected {tokens[parser.position][1]!r} in where clause")
    return predicate


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    text = text.strip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise WhereError(f"Cannot read the where clause at {text[position:]!r}")
        kind = found.lastgroup or ""
        tokens.append((kind, found.group(kind)))
        position = found.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.position >= len(self.tokens):
            raise WhereError("The where clause ends too soon")
        token = self.tokens[self.position]
        if expected is not None and token[1] != expected:
            raise WhereError(f"Expected {expected!r} but found {token[1]!r} in where clause")
        self.position += 1
        return token

    def or_expression(self) -> Predicate:
        parts = [self.and_expression()]
        while self.peek() in ("OR", "||"):
            self.take()
            parts.append(self.and_expression())
        return parts[0] if len(parts) == 1 else lambda r: any(p(r) for p in parts)

    def and_expression(self) -> Predicate:
        parts = [self.unary()]
        while self.peek() in ("AND", "&&"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else lambda r: all(p(r) for p in parts)

    def unary(self) -> Predicate:
        if self.peek() == "!":
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if self.peek() == "(":
            self.take()
            inner = self.or_expression()
            self.take(")")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        kind, word = self.take()
        if kind != "word":
            raise WhereError(f"Expected a field name but found {word!r} in where clause")
        path = [word]
        transform: Callable[[Any], Any] = lambda v: v  # noqa: E731
        while self.peek() == ".":
            self.take()
            name = self.take()[1]
            if self.peek() != "(":
                path.append(name)
                continue
            self.take("(")
            if name in ("ToLower", "ToUpper"):
                self.take(")")
                transform = str.lower if name == "ToLower" else str.upper
            elif name in _TEXT_TESTS:
                text = self.literal()
                self.take(")")
                test, get = _TEXT_TESTS[name], _getter(path)
                return lambda r: isinstance(v := get(r), str) and test(transform(v), str(text))
            else:
                raise WhereError(f"Method {name!r} is not supported in where clause")
        get = _getter(path)
        if self.peek() not in _COMPARE:
            return lambda r: bool(transform(get(r)))  # a bare boolean field
        compare = _COMPARE[self.take()[1]]
        literal = self.literal()
        return lambda r: _compare(compare, transform(get(r)), literal)

    def literal(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "word":
            lowered = text.lower()
            if lowered in ("true", "false"):
                return lowered == "true"
            if lowered == "null":
                return None
            if lowered == "guid":
                self.take("(")
                value = self.literal()
                self.take(")")
                return _GuidLiteral(str(value).lower())
            if lowered == "datetime":
                return self.date_literal()
        raise WhereError(f"Expected a value but found {text!r} in where clause")

    def date_literal(self) -> _DateLiteral:
        self.take("(")
        parts = [int(self.literal())]
        while self.peek() == ",":
            self.take()
            parts.append(int(self.literal()))
        self.take(")")
        if not 3 <= len(parts) <= 6:
            raise WhereError("DateTime needs year, month and day (and maybe time) in where clause")
        year, month, day, hour, minute, second = (*parts, 0, 0, 0)[:6]
        try:
            moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError as error:
            raise WhereError(f"Invalid DateTime in where clause: {error}") from None
        return _DateLiteral(int(moment.timestamp() * 1000))


def _getter(path: list[str]) -> Callable[[Record], Any]:
    def get(record: Record) -> Any:
        value: Any = record
        for key in path:
            if not isinstance(value, dict):
                return None
            value = value.get(key)
        return value

    return get


def _compare(compare: Callable[[Any, Any], bool], value: Any, literal: Any) -> bool:
    if isinstance(literal, _DateLiteral):
        try:
            value = ms_of(value)
        except ValueError:
            return False
    elif isinstance(literal, _GuidLiteral) and isinstance(value, str):
        value = value.lower()
    if literal is None or value is None:
        return compare(value, literal) if compare in (operator.eq, operator.ne) else False
    try:
        return compare(value, literal)
    except TypeError:
        return False
