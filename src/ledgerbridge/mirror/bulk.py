"""Set-based statements that read the same on SQLite and PostgreSQL.

A page of objects is a handful of statements, not one per row: a set of keys joined to a
table, and ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` of every row at once. On
PostgreSQL each column travels as one array (``INSERT … SELECT FROM unnest(…)``): the
statement's text is the same for any number of rows, so neither the driver nor the server
parses a statement the size of the page. SQLite runs the same upsert through
``executemany``, which SQLAlchemy sends as multi-row ``VALUES`` batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    DateTime,
    FromClause,
    String,
    Table,
    Text,
    bindparam,
    cast,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from ledgerbridge.db.base import UTCDateTime


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
        statement: Any = postgresql.insert(table).from_select(names, _unnested(table, names, rows))
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


def _unnested(table: Table, names: list[str], rows: list[dict[str, Any]]) -> Any:
    arrays = []
    for name in names:
        kind = table.c[name].type
        values = [row[name] for row in rows]
        if isinstance(kind, JSON):
            values = [orjson.dumps(v).decode() for v in values]
        arrays.append(bindparam(f"col_{name}", values, type_=postgresql.ARRAY(_element_type(kind))))
    incoming = func.unnest(*arrays).table_valued(*names).render_derived(name="incoming")
    columns = [
        cast(incoming.c[n], JSON) if isinstance(table.c[n].type, JSON) else incoming.c[n]
        for n in names
    ]
    return select(*columns)


def _element_type(kind: TypeEngine[Any]) -> TypeEngine[Any]:
    if isinstance(kind, UTCDateTime):
        return DateTime(timezone=True)
    if isinstance(kind, JSON):
        return Text()
    if isinstance(kind, BigInteger):
        return BigInteger()
    return kind
