"""Set-based inserts of many rows.

On PostgreSQL the rows travel as one array per column and are inserted with a single
``INSERT ... SELECT FROM unnest(...)`` per batch: one statement and one round trip for
tens of thousands of rows, instead of one bind per row. The arrays travel in binary
(psycopg's ``%b``): the text format quotes every element with a regular expression,
which costs more than the insert itself. Elsewhere (SQLite, in process)
the driver's executemany is already a tight loop.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from itertools import islice
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlalchemy.orm import Session

from ledgerbridge.db.base import Base

BATCH = 50_000


def bulk_insert(session: Session, model: type[Base], rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `model`'s table in the session's
    transaction."""
    table = model.__table__
    assert isinstance(table, Table)
    iterator = iter(rows)
    postgres = session.get_bind().dialect.name == "postgresql"
    while batch := list(islice(iterator, BATCH)):
        if postgres:
            _unnest(session, table, batch)
        else:
            session.connection().execute(insert(table), batch)


def _unnest(session: Session, table: Table, rows: list[Mapping[str, Any]]) -> None:
    dialect = session.get_bind().dialect
    names = list(rows[0])
    casts, selects, arrays = [], [], []
    for position, name in enumerate(names):
        column = table.c[name]
        values = [row[name] for row in rows]
        alias = f"c{position}"
        if isinstance(column.type, JSON):
            # Arrays of JSON documents travel as text and are parsed by the server.
            casts.append("%b::text[]")
            selects.append(f"{alias}::json")
            values = [None if value is None else json.dumps(value) for value in values]
        else:
            casts.append(f"%b::{column.type.compile(dialect)}[]")
            selects.append(alias)
        arrays.append(values)
    aliases = ", ".join(f"c{position}" for position in range(len(names)))
    columns = ", ".join(f'"{name}"' for name in names)
    statement = (
        f'INSERT INTO "{table.name}" ({columns}) SELECT {", ".join(selects)} '
        f"FROM unnest({', '.join(casts)}) AS u({aliases})"
    )
    session.connection().exec_driver_sql(statement, tuple(arrays))
