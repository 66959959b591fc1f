"""Use cases for endpoints: register (with a new secret), rotate the secret, change,
disable, delete; and the secrets a delivery is signed with."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ledgerbridge.db.base import utcnow
from ledgerbridge.errors import ApiError
from ledgerbridge.events.feed import horizon
from ledgerbridge.events.models import Event
from ledgerbridge.events.service import append
from ledgerbridge.security.vault import Vault
from ledgerbridge.settings import Settings
from ledgerbridge.webhooks import catalog, signing, ssrf
from ledgerbridge.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
)

PREVIOUS_SECRET_GRACE = timedelta(hours=24)
MAX_ENDPOINTS = 50  # per tenant
END_OF_TRANSACTION = 2**63 - 1


def secret_context(endpoint_id: int, field: str) -> str:
    return f"webhook_endpoint:{endpoint_id}:{field}"


def check_url(settings: Settings, url: str) -> None:
    """Refuse a receiver URL the SSRF guard would refuse (422). Resolves its host: call it
    before the request's transaction begins, never inside one."""
    try:
        ssrf.check(
            url,
            production=settings.is_production,
            allow_private=settings.webhook_allow_private_networks,
        )
    except ssrf.UnsafeUrl as exc:
        raise ApiError(422, "unsafe_url", f"url: {exc}") from None


def check_types(event_types: list[str]) -> list[str]:
    unknown = catalog.unknown(event_types)
    if unknown:
        raise ApiError(
            422,
            "validation_error",
            f"event_types: unknown event type {unknown[0]!r}",
            {"unknown": unknown, "known": list(catalog.EVENT_TYPES)},
        )
    return sorted(set(event_types))


def create(
    session: Session,
    vault: Vault,
    *,
    url: str,
    event_types: list[str],
    description: str | None,
    created_by: str,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (the only time it is shown, but for rotations)."""
    if _count(session) >= MAX_ENDPOINTS:
        raise ApiError(
            429, "too_many_endpoints", f"a tenant may keep {MAX_ENDPOINTS} webhook endpoints"
        )
    if _count(session, enabled=True) == 0:
        start_cursor(session)  # events from now on, not the backlog of the feed
    endpoint = WebhookEndpoint(
        url=url,
        event_types=check_types(event_types),
        description=description,
        secret="",
        created_by=created_by,
    )
    session.add(endpoint)
    session.flush()  # the id binds the secret's ciphertext to this row
    secret = signing.new_secret()
    endpoint.secret = vault.encrypt(secret, context=secret_context(endpoint.id, "secret"))
    return endpoint, secret


def _count(session: Session, *, enabled: bool = False) -> int:
    query = select(func.count()).select_from(WebhookEndpoint)
    query = query.where(WebhookEndpoint.deleted_at.is_(None))
    if enabled:
        query = query.where(WebhookEndpoint.status == EndpointStatus.enabled.value)
    return int(session.scalar(query) or 0)


def start_cursor(session: Session) -> None:
    """Point the tenant's dispatcher at the end of its feed: what is already there is not
    delivered. On PostgreSQL that is the feed horizon (every later commit sorts after it);
    on SQLite, where writers take turns, the newest event."""
    if session.get_bind().dialect.name == "postgresql":
        position = (horizon(session) - 1, END_OF_TRANSACTION)
    else:
        position = (0, int(session.scalar(select(func.max(Event.id))) or 0))
    cursor = session.scalars(select(WebhookCursor).with_for_update()).one_or_none()
    if cursor is None:
        session.add(WebhookCursor(after_xid=position[0], after_id=position[1]))
    else:
        cursor.after_xid, cursor.after_id = position


def rotate(session: Session, vault: Vault, endpoint: WebhookEndpoint) -> str:
    """A new secret; the old one keeps signing beside it for 24 hours."""
    old = vault.decrypt(endpoint.secret, context=secret_context(endpoint.id, "secret"))
    endpoint.previous_secret = vault.encrypt(old, context=secret_context(endpoint.id, "previous"))
    endpoint.previous_secret_expires_at = utcnow() + PREVIOUS_SECRET_GRACE
    secret = signing.new_secret()
    endpoint.secret = vault.encrypt(secret, context=secret_context(endpoint.id, "secret"))
    return secret


def signing_secrets(vault: Vault, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, then the previous one while its grace period lasts."""
    found = [vault.decrypt(endpoint.secret, context=secret_context(endpoint.id, "secret"))]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret is not None and expires is not None and expires > now:
        found.append(
            vault.decrypt(endpoint.previous_secret, context=secret_context(endpoint.id, "previous"))
        )
    return found


def enable(session: Session, endpoint: WebhookEndpoint) -> None:
    """Deliver again, from now on. While no endpoint of the tenant was enabled its feed
    was not read: start from its end, as for a first endpoint."""
    if endpoint.status == EndpointStatus.enabled:
        return
    if _count(session, enabled=True) == 0:
        start_cursor(session)
    endpoint.status = EndpointStatus.enabled.value
    endpoint.disabled_reason = None
    endpoint.failing_since = None


def disable(session: Session, endpoint: WebhookEndpoint, reason: str) -> None:
    """Stop delivering to the endpoint: its waiting deliveries fail, and an
    ``endpoint.disabled`` event says so."""
    if endpoint.status == EndpointStatus.disabled:
        return
    endpoint.status = EndpointStatus.disabled.value
    endpoint.disabled_reason = reason
    _fail_waiting(session, endpoint.id, f"the endpoint was disabled: {reason}")
    append(
        session,
        endpoint.tenant_id,
        catalog.ENDPOINT_DISABLED,
        f"webhook_endpoint:{endpoint.id}",
        endpoint_id=str(endpoint.id),
        url=endpoint.url,
        reason=reason,
    )


def delete(session: Session, endpoint: WebhookEndpoint) -> None:
    endpoint.deleted_at = utcnow()
    _fail_waiting(session, endpoint.id, "the endpoint was deleted")


def _fail_waiting(session: Session, endpoint_id: int, why: str) -> None:
    now = utcnow()
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.status == DeliveryStatus.pending.value,
        )
        .values(status=DeliveryStatus.failed.value, last_error=why, finished_at=now, updated_at=now)
    )
