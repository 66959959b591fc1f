"""Routes: the tenant's event log, read in order."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select

from ledgerbridge.events.models import Event
from ledgerbridge.pagination import Limit
from ledgerbridge.security.principal import Principal, TenantSession, requires
from ledgerbridge.security.roles import Role, Scope

router = APIRouter(tags=["events"])
Viewer = Annotated[Principal, Depends(requires(Role.viewer, Scope.events))]


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
    _: Viewer,
    session: TenantSession,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="The last id you have.")] = 0,
    type: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
) -> EventPage:
    query = select(Event).where(Event.id > after).order_by(Event.id).limit(limit)
    if type:
        query = query.where(Event.type == type)
    rows = list(session.scalars(query))
    return EventPage(
        data=[
            EventOut(
                id=str(e.id), type=e.type, subject=e.subject, data=e.data, created_at=e.created_at
            )
            for e in rows
        ],
        next_after=str(rows[-1].id) if rows else None,
    )
