"""Cursor pagination: opaque cursors over a strictly increasing key, ``limit`` ≤ 100."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import Session

from ledgerbridge.errors import ApiError

MAX_LIMIT = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (at most 100).")]
Cursor = Annotated[
    str | None, Query(max_length=512, description="The `next_cursor` of the previous page.")
]


T = TypeVar("T")
A = TypeVar("A")


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None


def encode_cursor(position: Any) -> str:
    raw = json.dumps(position, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Any:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_cursor", "cursor is not one this API issued") from None


def after_id(cursor: str | None) -> int:
    """The id a page starts after (0 for the first page)."""
    position = decode_cursor(cursor)
    if position is None:
        return 0
    if not isinstance(position, int) or isinstance(position, bool) or position < 0:
        raise ApiError(400, "invalid_cursor", "cursor is not one this API issued")
    return position


def next_id_cursor(rows: list[Any], limit: int) -> str | None:
    """The cursor after the last of ``rows`` (fetched with ``limit + 1``), or None at the end."""
    return encode_cursor(rows[limit - 1].id) if len(rows) > limit else None


def id_page(
    session: Session, query: Select[T], limit: int, cursor: str | None
) -> tuple[list[T], str | None]:
    """One page of ``query``'s entities in id order, starting after ``cursor``, and the
    cursor of the next page (None at the end)."""
    entity: Any = query.column_descriptions[0]["entity"]
    rows = list(
        session.scalars(
            query.where(entity.id > after_id(cursor)).order_by(entity.id).limit(limit + 1)
        )
    )
    return rows[:limit], next_id_cursor(rows, limit)


def page_of(
    session: Session, query: Select[T], limit: int, cursor: str | None, answer: Callable[[T], A]
) -> Page[A]:
    """One page of ``query``'s entities in id order, each as ``answer`` gives it."""
    rows, next_cursor = id_page(session, query, limit, cursor)
    return Page(data=[answer(row) for row in rows], next_cursor=next_cursor)
