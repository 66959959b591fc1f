"""Routes: the tenant's event feed (see ``events/feed.py`` for what it promises)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from ledgerbridge.errors import ApiError
from ledgerbridge.events.feed import UnknownPosition, read_after
from ledgerbridge.pagination import Limit
from ledgerbridge.routing import EventsViewer
from ledgerbridge.security.principal import TenantSession

router = APIRouter(tags=["events"])


class EventOut(BaseModel):
    id: str
    type: str
    subject: str
    data: dict[str, Any]
    created_at: datetime


class EventPage(BaseModel):
    data: list[EventOut]
    next_after: str | None  # pass as ``after`` to continue; None when caught up


@router.get("/v1/events", response_model=EventPage)
def list_events(
    _: EventsViewer,
    session: TenantSession,
    after: Annotated[
        int,
        Query(
            ge=0,
            le=2**63 - 1,
            description="The id of the last event you have (0: from the start). Every "
            "committed event comes exactly once, in one stable order; ids are not "
            "necessarily increasing along it.",
        ),
    ] = 0,
    type: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
) -> EventPage:
    if type is not None and "\x00" in type:  # PostgreSQL text cannot hold it: no type has it
        problem = "must not contain a NUL character"
        raise ApiError(
            422,
            "validation_error",
            f"query.type: {problem}",
            [{"loc": ["query", "type"], "msg": problem, "type": "value_error"}],
        )
    try:
        rows = read_after(session, after, limit, [type] if type else None)
    except UnknownPosition:
        raise ApiError(
            400,
            "invalid_cursor",
            "after names no event of yours (never issued, or older than the event "
            "retention period): read again from after=0",
        ) from None
    return EventPage(
        data=[
            EventOut(
                id=str(e.id), type=e.type, subject=e.subject, data=e.data, created_at=e.created_at
            )
            for e in rows
        ],
        next_after=str(rows[-1].id) if rows else None,
    )
