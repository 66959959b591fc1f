"""Tables owned by outgoing webhooks: endpoints, deliveries (one per event and endpoint),
every attempt of each, and each tenant's position in the event feed."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledgerbridge.db.base import Base, BigId, SoftDeleted, TenantOwned, Timestamps, utcnow


class EndpointStatus(StrEnum):
    enabled = "enabled"
    disabled = "disabled"


class DeliveryStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"  # the dead letter: every attempt failed, or the endpoint went away


class WebhookEndpoint(SoftDeleted, TenantOwned, Timestamps, Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: every type
    # Vault ciphertexts (connections/vault.py), bound to this row and field.
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=EndpointStatus.enabled.value)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    failing_since: Mapped[datetime | None]  # the first failure since the last success
    created_by: Mapped[str] = mapped_column(String(200))


class WebhookDelivery(TenantOwned, Timestamps, Base):
    __tablename__ = "webhook_deliveries"
    # One delivery per event and endpoint, however often the dispatcher reads the event.
    __table_args__ = (UniqueConstraint("endpoint_id", "event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Cascades: erasing a tenant deletes its endpoints even while a dispatcher pass adds
    # deliveries to them.
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int | None] = mapped_column(BigInteger)  # None: a webhook.test
    message_id: Mapped[str] = mapped_column(String(40), unique=True)  # the webhook-id header
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # the exact body sent, every time
    status: Mapped[str] = mapped_column(
        String(16), default=DeliveryStatus.pending.value, index=True
    )
    replay: Mapped[int] = mapped_column(Integer, default=0)  # re-sends asked for by the host
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    enqueued: Mapped[bool] = mapped_column(default=False)  # handed to the durable runtime
    next_attempt_at: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    finished_at: Mapped[datetime | None]


class WebhookAttempt(TenantOwned, Base):
    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "replay", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    replay: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)  # 0 for the first attempt of a replay
    started_at: Mapped[datetime]
    status_code: Mapped[int | None]
    latency_ms: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)  # the first 1 KiB
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookCursor(TenantOwned, Base):
    """Where the dispatcher has read the tenant's event feed up to: a feed position
    (``xid``, event id), which stays valid after that event is pruned."""

    __tablename__ = "webhook_cursors"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    after_xid: Mapped[int] = mapped_column(BigInteger)
    after_id: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
