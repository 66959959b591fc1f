"""The QuickBooks query-language parser: the subset the service accepts, its errors."""

from __future__ import annotations

import pytest

from ledgerbridge.sandbox.quickbooks.errors import QboFault
from ledgerbridge.sandbox.quickbooks.query import Condition, OrderBy, Query, parse_query


def test_incremental_sync_query() -> None:
    text = (
        "SELECT * FROM Invoice WHERE MetaData.LastUpdatedTime >= '2024-06-01T00:00:00-07:00' "
        "ORDERBY MetaData.LastUpdatedTime STARTPOSITION 1001 MAXRESULTS 1000"
    )
    assert parse_query(text) == Query(
        entity="Invoice",
        conditions=(Condition("MetaData.LastUpdatedTime", ">=", ("2024-06-01T00:00:00-07:00",)),),
        order=(OrderBy("MetaData.LastUpdatedTime"),),
        start_position=1001,
        max_results=1000,
    )


def test_keywords_are_case_insensitive_and_clauses_combine() -> None:
    query = parse_query(
        "select count(*) from Customer where DisplayName like 'Caf%' and Active in (true, false) "
        "and Balance > 10.5 order by DisplayName desc, Id maxresults 5 startposition 3;"
    )
    assert query.count
    assert query.conditions == (
        Condition("DisplayName", "like", ("Caf%",)),
        Condition("Active", "in", (True, False)),
        Condition("Balance", ">", (10.5,)),
    )
    assert query.order == (OrderBy("DisplayName", descending=True), OrderBy("Id"))
    assert (query.start_position, query.max_results) == (3, 5)


def test_defaults_and_what_the_official_sdk_sends() -> None:
    query = parse_query("SELECT *, Sku FROM Item")
    assert (query.entity, query.start_position, query.max_results) == ("Item", 1, 100)
    assert query.extra_fields == ("Sku",)
    assert parse_query("SELECT * FROM Invoice STARTPOSITION 0").start_position == 1


def test_escaped_quotes_in_strings() -> None:
    query = parse_query(r"SELECT * FROM Vendor WHERE DisplayName = 'Cutlery \'R Us'")
    assert query.conditions[0].values == ("Cutlery 'R Us",)


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("SELECT * FROM Invoice WHERE Id = '1' OR Id = '2'", 'Encountered " <OR> "OR "" at line 1'),
        ("SELECT * FROM Invoice WHERE", 'Encountered "<EOF>" at line 1, column 28'),
        (
            "SELECT * FROM Invoice WHERE Id % 2",
            'Lexical error at line 1, column 32.  Encountered: "%"',
        ),
        ("SELECT * FROM Invoice MAXRESULTS 1 MAXRESULTS 2", "<MAXRESULTS>"),
        ("SELECT * FROM Invoice JOIN Customer", "<WORD>"),
        ("", 'Encountered "<EOF>" at line 0, column 0'),
    ],
)
def test_syntax_errors_are_query_parser_errors(text: str, detail: str) -> None:
    with pytest.raises(QboFault) as raised:
        parse_query(text)
    [error] = raised.value.errors
    assert (error.code, error.message) == ("4000", "Error parsing query")
    assert error.detail.startswith("QueryParserError: ")
    assert detail in error.detail
    assert raised.value.status == 400
