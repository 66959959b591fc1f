"""API shapes of webhook endpoints and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field

from ledgerbridge.schemas import FromRow
from ledgerbridge.webhooks import catalog
from ledgerbridge.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
)

Url = Annotated[str, Field(min_length=1, max_length=2048, description="Where to POST events.")]
EventType = Annotated[str, Field(min_length=1, max_length=64)]
EventTypes = Annotated[
    list[EventType],
    Field(
        max_length=len(catalog.EVENT_TYPES),
        description="The event types to send (empty: every type). Known: "
        + ", ".join(catalog.EVENT_TYPES),
    ),
]
Description = Annotated[str, Field(max_length=500)]


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes | None = None
    description: Description | None = None


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = Field(None, description="false disables, true enables again.")


class EndpointOut(FromRow):
    id: str
    url: str
    description: str | None
    event_types: list[str]
    status: EndpointStatus
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="Until then the previous secret signs each delivery too."
    )
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(
        description="The Standard Webhooks signing secret (whsec_...): shown only now."
    )


class AttemptOut(FromRow):
    replay: int = Field(description="0 for the first sending; n for the n-th re-send.")
    number: int = Field(description="The attempt within that sending, from 0.")
    started_at: datetime
    status_code: int | None
    latency_ms: int | None
    response_body: str | None = Field(description="The first 1 KiB of the answer.")
    error: str | None


class DeliveryOut(FromRow):
    id: str
    endpoint_id: str
    webhook_id: str = Field(description="The webhook-id header: the same on every attempt.")
    event_id: str | None = Field(description="The event in /v1/events (none for a test).")
    event_type: str
    status: DeliveryStatus
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[AttemptOut]

    @classmethod
    def of(cls, row: WebhookDelivery, /, **given: Any) -> Self:
        return super().of(row, webhook_id=row.message_id, **given)
