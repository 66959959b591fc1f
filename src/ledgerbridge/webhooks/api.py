"""Routes: register and manage webhook endpoints; inspect, test and re-send deliveries."""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledgerbridge.db.base import undeleted, utcnow
from ledgerbridge.errors import conflict, existing, not_found
from ledgerbridge.pagination import Cursor, Limit, Page, id_page, page_of
from ledgerbridge.routing import EventsAdmin, EventsDeveloper, EventsViewer, Svc
from ledgerbridge.schemas import Id
from ledgerbridge.security.principal import TenantSession
from ledgerbridge.services import Services
from ledgerbridge.webhooks import catalog, dispatch, endpoints
from ledgerbridge.webhooks.models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from ledgerbridge.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    EndpointWithSecret,
)

log = structlog.get_logger(__name__)
router = APIRouter(tags=["webhooks"])


def _endpoint(session: Session, endpoint_id: int, *, lock: bool = False) -> WebhookEndpoint:
    query = undeleted(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    endpoint = session.scalars(query.with_for_update() if lock else query).one_or_none()
    if endpoint is None:
        raise not_found("webhook endpoint")
    return endpoint


def _hand_over(svc: Services, delivery: WebhookDelivery) -> None:
    """Enqueue now; should that fail, the stored delivery waits for the dispatcher's next
    pass, which enqueues whatever was not (the answer is the same either way)."""
    try:
        dispatch.hand_over(svc, [delivery])
    except Exception as exc:
        log.warning("webhook delivery left to the dispatcher", error_type=type(exc).__name__)


def _delivery_out(session: Session, delivery: WebhookDelivery) -> DeliveryOut:
    return _deliveries_out(session, [delivery])[0]


def _deliveries_out(session: Session, deliveries: list[WebhookDelivery]) -> list[DeliveryOut]:
    attempts: dict[int, list[WebhookAttempt]] = {d.id: [] for d in deliveries}
    if deliveries:
        for attempt in session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(attempts))
            .order_by(WebhookAttempt.replay, WebhookAttempt.number)
        ):
            attempts[attempt.delivery_id].append(attempt)
    return [
        DeliveryOut.of(d, attempts=[AttemptOut.of(a) for a in attempts[d.id]]) for d in deliveries
    ]


@router.post("/v1/webhook-endpoints", status_code=201, response_model=EndpointWithSecret)
def create_webhook_endpoint(
    body: EndpointIn, principal: EventsAdmin, svc: Svc, response: Response
) -> EndpointWithSecret:
    """Register a receiver. The answer carries its signing secret, shown only now (and on
    rotation). The URL's host is resolved and refused if it is not public (see
    docs/webhooks.md)."""
    endpoints.check_url(svc.settings, body.url)  # resolves: before the transaction
    with svc.db.tenant(principal.tenant_id) as session:
        endpoint, secret = endpoints.create(
            session,
            svc.vault,
            url=body.url,
            event_types=body.event_types or [],
            description=body.description,
            created_by=principal.subject,
        )
        session.flush()
        answer = EndpointWithSecret.of(endpoint, secret=secret)
    response.headers["Location"] = f"/v1/webhook-endpoints/{answer.id}"
    return answer


@router.get("/v1/webhook-endpoints", response_model=Page[EndpointOut])
def list_webhook_endpoints(
    _: EventsViewer, session: TenantSession, limit: Limit = 50, cursor: Cursor = None
) -> Page[EndpointOut]:
    return page_of(session, undeleted(WebhookEndpoint), limit, cursor, EndpointOut.of)


@router.get("/v1/webhook-endpoints/{endpoint_id}", response_model=EndpointOut)
def get_webhook_endpoint(endpoint_id: Id, _: EventsViewer, session: TenantSession) -> EndpointOut:
    return EndpointOut.of(_endpoint(session, endpoint_id))


@router.patch("/v1/webhook-endpoints/{endpoint_id}", response_model=EndpointOut)
def update_webhook_endpoint(
    endpoint_id: Id, body: EndpointPatch, principal: EventsAdmin, svc: Svc
) -> EndpointOut:
    if body.url is not None:
        endpoints.check_url(svc.settings, body.url)  # resolves: before the transaction
    with svc.db.tenant(principal.tenant_id) as session:
        endpoint = _endpoint(session, endpoint_id, lock=True)
        if body.url is not None:
            endpoint.url = body.url
        if body.event_types is not None:
            endpoint.event_types = endpoints.check_types(body.event_types)
        if "description" in body.model_fields_set:
            endpoint.description = body.description
        if body.enabled is True:
            endpoints.enable(session, endpoint)
        elif body.enabled is False:
            endpoints.disable(session, endpoint, f"disabled by {principal.subject}")
        endpoint.updated_at = utcnow()
        session.flush()
        return EndpointOut.of(endpoint)


@router.delete("/v1/webhook-endpoints/{endpoint_id}", status_code=204)
def delete_webhook_endpoint(endpoint_id: Id, _: EventsAdmin, session: TenantSession) -> None:
    endpoints.delete(session, _endpoint(session, endpoint_id, lock=True))


@router.post("/v1/webhook-endpoints/{endpoint_id}/rotate-secret", response_model=EndpointWithSecret)
def rotate_webhook_endpoint_secret(
    endpoint_id: Id, _: EventsAdmin, session: TenantSession, svc: Svc
) -> EndpointWithSecret:
    """A new signing secret, shown only now. For 24 hours each delivery carries two
    signatures, one per secret, so receivers can switch without missing any."""
    endpoint = _endpoint(session, endpoint_id, lock=True)
    secret = endpoints.rotate(session, svc.vault, endpoint)
    endpoint.updated_at = utcnow()
    session.flush()
    return EndpointWithSecret.of(endpoint, secret=secret)


@router.post(
    "/v1/webhook-endpoints/{endpoint_id}/test", status_code=202, response_model=DeliveryOut
)
def test_webhook_endpoint(
    endpoint_id: Id, _: EventsDeveloper, session: TenantSession, svc: Svc
) -> DeliveryOut:
    """Send a ``webhook.test`` event to this endpoint (durably, like any delivery)."""
    endpoint = _endpoint(session, endpoint_id)
    if endpoint.status != EndpointStatus.enabled:
        raise conflict("the endpoint is disabled: enable it first")
    now = utcnow()
    message_id = dispatch.new_message_id()
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        event_id=None,
        message_id=message_id,
        event_type=catalog.TEST,
        payload=dispatch.body(message_id, catalog.TEST, now, {"endpoint_id": str(endpoint.id)}),
        next_attempt_at=now,
    )
    session.add(delivery)
    session.flush()
    answer = _delivery_out(session, delivery)
    session.commit()  # stored before it is handed over: a crash leaves it to the dispatcher
    _hand_over(svc, delivery)
    return answer


@router.get("/v1/webhook-endpoints/{endpoint_id}/deliveries", response_model=Page[DeliveryOut])
def list_webhook_deliveries(
    endpoint_id: Id,
    _: EventsViewer,
    session: TenantSession,
    status: DeliveryStatus | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DeliveryOut]:
    """The endpoint's deliveries, oldest first, each with every attempt."""
    _endpoint(session, endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status.value)
    rows, next_cursor = id_page(session, query, limit, cursor)
    return Page(data=_deliveries_out(session, rows), next_cursor=next_cursor)


def _delivery(session: Session, delivery_id: int) -> WebhookDelivery:
    delivery = existing(session.get(WebhookDelivery, delivery_id), "webhook delivery")
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or endpoint.deleted_at is not None:
        raise not_found("webhook delivery")
    return delivery


@router.get("/v1/webhook-deliveries/{delivery_id}", response_model=DeliveryOut)
def get_webhook_delivery(delivery_id: Id, _: EventsViewer, session: TenantSession) -> DeliveryOut:
    return _delivery_out(session, _delivery(session, delivery_id))


@router.post(
    "/v1/webhook-deliveries/{delivery_id}/retry", status_code=202, response_model=DeliveryOut
)
def retry_webhook_delivery(
    delivery_id: Id, _: EventsDeveloper, session: TenantSession, svc: Svc
) -> DeliveryOut:
    """Send the delivery again, with the same body and ``webhook-id`` (receivers dedupe on
    it), through a fresh round of attempts."""
    delivery = _delivery(session, delivery_id)
    endpoint = _endpoint(session, delivery.endpoint_id)
    if endpoint.status != EndpointStatus.enabled:
        raise conflict("the endpoint is disabled: enable it first")
    if delivery.status == DeliveryStatus.pending:
        raise conflict("the delivery is still being attempted")
    delivery.replay += 1
    delivery.status = DeliveryStatus.pending.value
    delivery.attempts = 0
    delivery.enqueued = False
    delivery.next_attempt_at = utcnow()
    delivery.finished_at = None
    session.flush()
    answer = _delivery_out(session, delivery)
    session.commit()  # as above
    _hand_over(svc, delivery)
    return answer
