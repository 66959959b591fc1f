"""Set-based statements that read the same on SQLite and PostgreSQL.

A page of objects is a handful of statements, not one per row: a set of keys joined to a
table, and ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` of every row at once. On
PostgreSQL the rows travel as one array per column in the binary protocol (``INSERT …
SELECT FROM unnest(…)``): the statement's text is the same for any number of rows, and
no value is escaped or parsed as text on either side (a page's payloads, JSON sent as a
JSON document, cost the server more to parse than to store). SQLite runs the same upsert
through ``executemany``, which SQLAlchemy sends as multi-row ``VALUES`` batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import JSON, ColumnElement, FromClause, String, Table, Text, bindparam, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from ledgerbridge.mirror.encoding import dumps_as_is


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
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql":
        text = _unnest_upsert(
            dialect, table, tuple(names), tuple(key), tuple(keep), tuple(returning)
        )
        result = connection.exec_driver_sql(text, tuple(_columns(table, names, rows)))
        return [tuple(row) for row in result] if returning else []
    statement: Any = sqlite.insert(table)
    if key:
        replaced = [n for n in names if n not in key and n not in keep]
        statement = statement.on_conflict_do_update(
            index_elements=list(key), set_={n: statement.excluded[n] for n in replaced}
        )
    if returning:
        statement = statement.returning(*(table.c[n] for n in returning))
    result = connection.execute(statement, rows)
    return [tuple(row) for row in result] if returning else []


@cache
def _unnest_upsert(
    dialect: Dialect,
    table: Table,
    names: tuple[str, ...],
    key: tuple[str, ...],
    keep: tuple[str, ...],
    returning: tuple[str, ...],
) -> str:
    """The statement's text for these columns (one binary array parameter each)."""
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(n) for n in names)
    arrays = ", ".join(f"%b::{table.c[n].type.compile(dialect=dialect)}[]" for n in names)
    text = f"INSERT INTO {quote(table.name)} ({columns}) SELECT * FROM unnest({arrays})"
    if key:
        replaced = [n for n in names if n not in key and n not in keep]
        assignments = ", ".join(f"{quote(n)} = excluded.{quote(n)}" for n in replaced)
        text += f" ON CONFLICT ({', '.join(quote(n) for n in key)}) DO UPDATE SET {assignments}"
    if returning:
        text += f" RETURNING {', '.join(quote(n) for n in returning)}"
    return text


def _columns(table: Table, names: list[str], rows: list[dict[str, Any]]) -> list[list[Any]]:
    """The rows as one list per column; JSON columns' values as their exact JSON text."""
    columns = []
    for name in names:
        values = [row[name] for row in rows]
        if isinstance(table.c[name].type, JSON):
            values = [None if v is None else dumps_as_is(v) for v in values]
        columns.append(values)
    return columns
