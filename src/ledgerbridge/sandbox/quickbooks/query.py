"""A parser for QuickBooks' query language, the subset the real service accepts.

    SELECT * | COUNT(*) FROM <Entity>
      [WHERE <field> <op> <value> [AND ...]]
      [ORDERBY | ORDER BY <field> [ASC | DESC] [, ...]]
      [STARTPOSITION <n>] [MAXRESULTS <n>]

Operators are ``= < > <= >= IN LIKE``; there is no OR, no JOIN, no projection (``SELECT
*, Sku`` is accepted, as the official SDK sends it, and still returns every field).
Keywords are case-insensitive. Syntax errors are worded like the service's own parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NoReturn

from ledgerbridge.sandbox.quickbooks.errors import query_parser_error

Value = str | int | float | bool

DEFAULT_MAX_RESULTS = 100
MAX_RESULTS_LIMIT = 1000

KEYWORDS = frozenset(
    {
        "select",
        "count",
        "from",
        "where",
        "and",
        "or",
        "in",
        "like",
        "order",
        "orderby",
        "by",
        "asc",
        "desc",
        "startposition",
        "maxresults",
        "true",
        "false",
        "iterator",
    }
)

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|=|<|>)
  | (?P<punct>[*,().;])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # "string" | "number" | "word" | "keyword" | "op" | "punct" | "eof"
    text: str
    column: int  # 1-based, as the service reports it

    @property
    def value(self) -> str:
        return self.text.lower() if self.kind == "keyword" else self.text


@dataclass(frozen=True)
class Condition:
    field: str  # dotted, as written: "MetaData.LastUpdatedTime"
    op: str  # "=", "<", ">", "<=", ">=", "in", "like"
    values: tuple[Value, ...]  # one value, or several for IN


@dataclass(frozen=True)
class OrderBy:
    field: str
    descending: bool = False


@dataclass(frozen=True)
class Query:
    entity: str
    count: bool = False
    conditions: tuple[Condition, ...] = ()
    order: tuple[OrderBy, ...] = ()
    start_position: int = 1
    max_results: int = DEFAULT_MAX_RESULTS
    extra_fields: tuple[str, ...] = field(default=())  # "SELECT *, Sku": ignored


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            char = text[position]
            raise query_parser_error(
                f"Invalid content. Lexical error at line 1, column {position + 1}.  "
                f'Encountered: "{char}" ({ord(char)}), after : ""'
            )
        kind = match.lastgroup or ""
        if kind != "space":
            word = match.group()
            if kind == "word" and word.lower() in KEYWORDS:
                kind = "keyword"
            tokens.append(Token(kind, word, position + 1))
        position = match.end()
    tokens.append(Token("eof", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, *values: str) -> bool:
        token = self.current
        return token.kind in ("keyword", "punct", "op") and token.value in values

    def expect(self, *values: str) -> Token:
        if not self.at(*values):
            self.fail(values)
        return self.advance()

    def fail(self, expected: tuple[str, ...]) -> NoReturn:
        token = self.current
        if token.kind == "eof":
            found = '"<EOF>"'
        elif token.kind == "keyword":
            found = f'" <{token.text.upper()}> "{token.text} ""'
        else:
            found = f'" <{token.kind.upper()}> "{token.text} ""'
        wanted = "\n".join(f'    "{value}" ...' for value in expected)
        raise query_parser_error(
            f"Encountered {found} at line 1, column {token.column}.\n"
            f"Was expecting one of:\n{wanted}\n    "
        )

    def identifier(self) -> str:
        token = self.current
        if token.kind != "word":
            self.fail(("<IDENTIFIER>",))
        self.advance()
        return token.text

    def dotted_field(self) -> str:
        parts = [self.identifier()]
        while self.at("."):
            self.advance()
            parts.append(self.identifier())
        return ".".join(parts)

    def literal(self) -> Value:
        token = self.current
        if token.kind == "string":
            self.advance()
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        if token.kind == "number":
            self.advance()
            return float(token.text) if "." in token.text else int(token.text)
        if self.at("true", "false"):
            return self.advance().value == "true"
        self.fail(("<STRING>", "<NUMBER>", "true", "false"))

    def integer(self) -> int:
        token = self.current
        if token.kind != "number" or "." in token.text:
            self.fail(("<INTEGER>",))
        self.advance()
        return int(token.text)

    def parse(self) -> Query:
        self.expect("select")
        count = False
        extra: list[str] = []
        if self.at("count"):
            self.advance()
            self.expect("(")
            self.expect("*")
            self.expect(")")
            count = True
        elif self.at("*"):
            self.advance()
            while self.at(","):
                self.advance()
                extra.append(self.dotted_field())
        else:
            # A projection: the service answers with every field anyway.
            extra.append(self.dotted_field())
            while self.at(","):
                self.advance()
                extra.append(self.dotted_field())
        self.expect("from")
        entity = self.identifier()
        conditions: list[Condition] = []
        if self.at("where"):
            self.advance()
            conditions.append(self.condition())
            while self.at("and"):
                self.advance()
                conditions.append(self.condition())
        order: list[OrderBy] = []
        start, limit = 1, DEFAULT_MAX_RESULTS
        seen: set[str] = set()
        while not self.at(";") and self.current.kind != "eof":
            clause = self.current.value if self.current.kind == "keyword" else ""
            if clause in seen or clause not in ("order", "orderby", "startposition", "maxresults"):
                self.fail(("<EOF>", "and", "orderby", "startposition", "maxresults"))
            self.advance()
            if clause in ("order", "orderby"):
                seen.update(("order", "orderby"))
                if clause == "order":
                    self.expect("by")
                order = self.order_list()
            else:
                seen.add(clause)
                if clause == "startposition":
                    start = self.integer()
                else:
                    limit = self.integer()
        if self.at(";"):
            self.advance()
        if self.current.kind != "eof":
            self.fail(("<EOF>",))
        return Query(
            entity=entity,
            count=count,
            conditions=tuple(conditions),
            order=tuple(order),
            start_position=max(start, 1),
            max_results=limit,
            extra_fields=tuple(extra),
        )

    def condition(self) -> Condition:
        name = self.dotted_field()
        if self.at("in"):
            self.advance()
            self.expect("(")
            values = [self.literal()]
            while self.at(","):
                self.advance()
                values.append(self.literal())
            self.expect(")")
            return Condition(name, "in", tuple(values))
        if self.at("like"):
            self.advance()
            token = self.current
            if token.kind != "string":
                self.fail(("<STRING>",))
            return Condition(name, "like", (self.literal(),))
        if self.current.kind == "op":
            op = self.advance().text
            return Condition(name, op, (self.literal(),))
        self.fail(("=", "<", ">", "<=", ">=", "in", "like"))

    def order_list(self) -> list[OrderBy]:
        order = [self.order_item()]
        while self.at(","):
            self.advance()
            order.append(self.order_item())
        return order

    def order_item(self) -> OrderBy:
        name = self.dotted_field()
        descending = False
        if self.at("asc", "desc"):
            descending = self.advance().value == "desc"
        return OrderBy(name, descending)


def parse_query(text: str) -> Query:
    """Parse one query; raises :class:`QboFault` (code 4000) on a syntax error."""
    if not text.strip():
        raise query_parser_error(
            'Encountered "<EOF>" at line 0, column 0.\nWas expecting:\n    "select" ...\n    '
        )
    return _Parser(text).parse()
