"""Deleting old rows in batches: each batch its own short transaction, in id order.

A retention job must never hold one long transaction over a big table (it would lock out
writers on SQLite and bloat PostgreSQL), nor read the whole table to find what is old.
Rows are taken oldest id first along the primary key, ``BATCH`` at a time, and deleted by
id; ids grow with time, so each batch starts where the old rows are.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, delete, select

from ledgerbridge.db.engine import Database

BATCH = 5_000


def delete_in_batches(
    db: Database, entity: Any, *conditions: ColumnElement[bool], batch: int | None = None
) -> int:
    """Delete ``entity``'s rows matching every condition; how many were deleted."""
    batch = batch or BATCH
    deleted = 0
    after = 0
    while True:
        with db.system() as session:
            ids = list(
                session.scalars(
                    select(entity.id)
                    .where(entity.id > after, *conditions)
                    .order_by(entity.id)
                    .limit(batch)
                )
            )
            if ids:
                session.execute(delete(entity).where(entity.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < batch:
            return deleted
        after = ids[-1]
