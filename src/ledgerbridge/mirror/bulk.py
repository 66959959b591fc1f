"""Set-based statements that read the same on SQLite and PostgreSQL.

A page of objects is a handful of statements, not one per row: a set of keys joined to a
table, and ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` of every row at once. On
PostgreSQL the rows travel as one JSON document (``INSERT … SELECT FROM
json_to_recordset(…)``): the statement's text is the same for any number of rows, so
neither the driver nor the server parses a statement the size of the page, and the driver
escapes no value one by one. SQLite runs the same upsert through
``executemany``, which SQLAlchemy sends as multi-row ``VALUES`` batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    FromClause,
    String,
    Table,
    Text,
    bindparam,
    cast,
    column,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def wanted(session: Session, ids: Sequence[str]) -> tuple[FromClause, ColumnElement[str]]:
    """``ids`` as rows of one column, to join a table to (one bound parameter)."""
    if is_postgresql(session):
        source = func.unnest(bindparam("wanted_ids", list(ids), type_=postgresql.ARRAY(String)))
        rows = source.table_valued("wanted_id").render_derived(name="wanted")
        return rows, rows.c.wanted_id
    each = func.json_each(bindparam("wanted_ids", orjson.dumps(list(ids)).decode(), type_=Text))
    rows = each.table_valued("value").alias("wanted")
    return rows, rows.c.value


def upsert(
    session: Session,
    table: Table,
    rows: list[dict[str, Any]],
    *,
    key: Sequence[str] = (),
    keep: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> Sequence[tuple[Any, ...]]:
    """Insert ``rows`` (all with the same columns); with ``key`` (a unique constraint's
    columns), a row that exists has every column but the key and ``keep`` replaced. The
    ``returning`` columns of every row written, in no particular order."""
    if not rows:
        return []
    names = list(rows[0])
    postgres = is_postgresql(session)
    if postgres:
        statement: Any = postgresql.insert(table).from_select(names, _from_json(table, names, rows))
    else:
        statement = sqlite.insert(table)
    if key:
        replaced = [n for n in names if n not in key and n not in keep]
        statement = statement.on_conflict_do_update(
            index_elements=list(key), set_={n: statement.excluded[n] for n in replaced}
        )
    if returning:
        statement = statement.returning(*(table.c[n] for n in returning))
    connection = session.connection()
    result = connection.execute(statement) if postgres else connection.execute(statement, rows)
    return [tuple(row) for row in result] if returning else []


def _from_json(table: Table, names: list[str], rows: list[dict[str, Any]]) -> Any:
    """The rows as one JSON document the server unpacks (``json_to_recordset``), encoded
    by orjson in one call: arrays of long texts would be escaped by the driver value by
    value, in Python."""
    document = orjson.dumps(rows, default=_exact).decode()
    records = func.json_to_recordset(cast(bindparam("incoming_rows", document, type_=Text), JSON))
    derived = records.table_valued(*(column(n, table.c[n].type) for n in names)).render_derived(
        name="incoming", with_types=True
    )
    return select(*(derived.c[n] for n in names))


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
